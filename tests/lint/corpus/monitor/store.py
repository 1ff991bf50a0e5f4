"""A class whose methods block through ``self`` and whose constructor connects."""
import sqlite3


class Store:
    def __init__(self, path):
        self.conn = sqlite3.connect(path)

    def _rows(self):
        return self.conn.execute("select * from sites").fetchall()

    def sites(self):
        return [row[0] for row in self._rows()]


class Lazy:
    def __init__(self):
        self.conn = None

    def label(self):
        return "lazy"
