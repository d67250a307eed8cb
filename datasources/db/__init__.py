"""Relational storage: engine and sessions, tables, and one query module per domain."""
