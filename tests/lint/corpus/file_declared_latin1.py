# -*- coding: latin-1 -*-
"""Latin-1 with a declaration: valid."""
NAME = "café"
