"""Runs: registration by a test harness over a Unix socket, their lifecycle and metrics, the local-mode daemon."""
