"""Latin-1 without a declaration."""
NAME = "café"
