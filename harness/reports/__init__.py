"""Reports: terminal tables, JSON (schema 1)."""
