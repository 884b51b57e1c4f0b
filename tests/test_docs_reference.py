"""The API reference (docs/api.rst) names every public name, and the CLI page renders.

The site's build checks what the pages say (``-W``, numpydoc's parameter checks); this
checks what they leave out, without Sphinx: every name of ``skkd.__all__`` and every
public name of a module the reference documents (its ``__all__``, else what it defines)
appears in ``docs/api.rst``. Hook implementations of the built-in modules
(``skkd_register_*``) are the hooks of :mod:`skkd.hookspecs`, documented there.
"""

from __future__ import annotations

import ast
import importlib
import re
import sys
from pathlib import Path

import pytest

import skkd

DOCS = Path(__file__).resolve().parents[1] / "docs"
API = (DOCS / "api.rst").read_text(encoding="utf-8")
MODULES = re.findall(r"^\.\. automodule:: (skkd[\w.]*)$", API, flags=re.MULTILINE)


def _public_names(module_name: str) -> list[str]:
    module = importlib.import_module(module_name)
    if hasattr(module, "__all__"):
        return list(module.__all__)
    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    names = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names += [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.append(node.target.id)
    hooks = module_name != "skkd.hookspecs"
    return [n for n in names if not n.startswith("_")
            and not (hooks and n.startswith("skkd_register_"))]


def test_the_reference_documents_the_modules_users_import():
    assert {"skkd", "skkd.teachers", "skkd.plugins", "skkd.hookspecs"} <= set(MODULES)


# What the reference documents: autosummary entries and auto*/data directives, by the
# last part of the name (a name re-exported elsewhere is documented where it is defined).
ENTRIES = {name.rsplit(".", 1)[-1] for name in re.findall(
    r"^(?:   ~?|\.\. (?:auto)?(?:data|function|class|exception):: )([\w.]+)$", API,
    flags=re.MULTILINE)}


@pytest.mark.parametrize("module_name", MODULES)
def test_every_public_name_is_in_the_reference(module_name):
    names = skkd.__all__ if module_name == "skkd" else _public_names(module_name)
    missing = [n for n in names if n not in ENTRIES]
    assert not missing, f"docs/api.rst does not list {module_name}'s {missing}"


def test_the_values_written_in_the_reference_are_the_code_s():
    # ``.. data::`` entries written by hand, with ``:value:``, under their currentmodule
    module, checked = "skkd", 0
    for block in re.split(r"\n(?=\.\. )", API):
        if match := re.match(r"\.\. currentmodule:: (\S+)", block):
            module = match[1]
        elif match := re.match(r"\.\. data:: (\w+)\n(?:   :.*\n)*?   :value: (.+)\n", block):
            name, value = match[1], match[2]
            assert repr(getattr(importlib.import_module(module), name)) == value, name
            checked += 1
    assert checked >= 2


def test_the_command_line_page_shows_every_subcommand_s_help():
    pytest.importorskip("docutils")
    from docutils.core import publish_doctree
    from docutils.parsers.rst import directives

    sys.path.insert(0, str(DOCS / "_ext"))
    try:
        import argparse_help
    finally:
        sys.path.remove(str(DOCS / "_ext"))
    directives.register_directive("argparse-help", argparse_help.ArgparseHelp)
    page = (DOCS / "cli.rst").read_text(encoding="utf-8")
    tree = publish_doctree(page, settings_overrides={"halt_level": 2, "report_level": 2})
    titles = [s[0].astext() for s in tree.findall(lambda n: n.tagname == "section")]
    assert titles == ["skkd demo", "skkd export", "skkd plugins"]
    from skkd.cli import build_parser

    helps = [n.astext() for n in tree.findall(lambda n: n.tagname == "literal_block")]
    assert helps[0].startswith("usage: skkd ")
    assert "--onnx OUT" in helps[2] and "--json" in helps[3]
    assert build_parser().prog == "skkd"
