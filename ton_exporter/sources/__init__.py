"""Sources: where lines come from (local files, compressed files, the demo replay). They know bytes, not JSON."""
