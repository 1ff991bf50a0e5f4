"""A small Flask shop in the middle of its migration (report corpus; never imported)."""
