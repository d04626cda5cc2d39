"""Parsers: bytes and JSON objects in, plain Python values out. No metric state lives here."""
