"""Aggregation: parsed records in, cumulative series and event-time windows out. No I/O happens here."""
