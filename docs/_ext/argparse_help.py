"""``.. argparse-help:: module.function``: an argparse parser's help, as the command prints it.

The directive imports ``function`` from ``module``, calls it with no arguments to get an
``argparse.ArgumentParser``, and renders its ``format_help()`` as a literal block, then
one section per subcommand (titled with the subcommand's ``prog``, e.g. ``skkd demo``)
holding that subcommand's ``format_help()``. The page is built from the parser itself,
so it cannot drift from the command. Help is formatted at a fixed width
(``:width:``, default 88 columns), whatever the terminal of the build.

Plain docutils, so that the test suite can render it without Sphinx; Sphinx loads it as
an extension (``setup``).
"""

from __future__ import annotations

import argparse
import importlib
import os
from contextlib import contextmanager

from docutils import nodes
from docutils.parsers.rst import Directive, directives

__all__ = ["ArgparseHelp", "setup"]


@contextmanager
def _columns(width: int):
    """Make argparse wrap at ``width`` columns (it reads ``COLUMNS``)."""
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(width + 2)  # argparse leaves two columns free
    try:
        yield
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old


def _subcommands(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    for action in parser._actions:  # argparse has no public way to list subparsers
        if isinstance(action, argparse._SubParsersAction):
            return list(dict.fromkeys(action.choices.values()))  # aliases once
    return []


def _literal(text: str) -> nodes.literal_block:
    block = nodes.literal_block(text, text)
    block["language"] = "text"
    return block


class ArgparseHelp(Directive):
    """Render the help of the parser that ``module.function()`` returns."""

    required_arguments = 1
    option_spec = {"width": directives.positive_int}

    def run(self) -> list[nodes.Node]:
        path = self.arguments[0]
        module_name, _, function_name = path.rpartition(".")
        try:
            module = importlib.import_module(module_name)
            parser = getattr(module, function_name)()
        except Exception as exc:  # noqa: BLE001 - any failure is the page's error
            raise self.error(f"argparse-help: cannot build the parser {path}(): "
                             f"{type(exc).__name__}: {exc}") from exc
        if not isinstance(parser, argparse.ArgumentParser):
            raise self.error(f"argparse-help: {path}() returned {type(parser).__name__}, "
                             "not an argparse.ArgumentParser")
        source = getattr(module, "__file__", None)
        if source:  # rebuild the page when the parser's module changes
            self.state.document.settings.record_dependencies.add(source)
        document = self.state.document
        with _columns(self.options.get("width", 88)):
            result: list[nodes.Node] = [_literal(parser.format_help())]
            for sub in _subcommands(parser):
                section = nodes.section()
                section["names"].append(nodes.fully_normalize_name(sub.prog))
                section += nodes.title(sub.prog, "", nodes.literal(sub.prog, sub.prog))
                section += _literal(sub.format_help())
                document.note_implicit_target(section, section)
                result.append(section)
        return result


def setup(app):
    app.add_directive("argparse-help", ArgparseHelp)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
