"""Backfill: a finished run's files through the live pipelines, in event time, out as timestamped OpenMetrics."""
