"""SYNTHETIC inputs for tests and benchmarks: generators, not part of the installed package."""
