"""The one version source of the distribution: pyproject.toml reads it, ``loopbridge --version``,
``loopbridge.__version__``, the lint's SARIF driver and the flake8 plugin print it.

Kept free of imports so that setuptools can read it statically and every tool can load it cheaply.
"""

__version__ = "0.2.0"

#: where the documentation site is published; the lint links each code to its section there
DOCS_URL = "https://loopbridge.readthedocs.io/en/latest/"
