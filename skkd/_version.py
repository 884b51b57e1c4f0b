"""The version of skkd, in a module of its own so that any module can import it cheaply.

Keep it equal to ``version`` in pyproject.toml (tests/test_cli.py checks).
"""

__version__ = "0.1.0"
