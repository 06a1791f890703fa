"""Data exchange: measurement-session import and WHO Anthro export (pure; no server imports)."""
