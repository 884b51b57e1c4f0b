"""The version of skkd, in a module of its own so that any module can import it cheaply.

pyproject.toml reads it (``dynamic = ["version"]``): this is the one source.
"""

__version__ = "0.1.0"
