"""Exposition: the `/metrics` families, the self-metrics and the HTTP endpoints."""
