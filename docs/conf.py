"""Sphinx configuration of the skkd documentation.

Build with ``python -m sphinx -W --keep-going -b html docs docs/_build/html`` from the
repository root (``pip install ".[docs]"`` first). Warnings are errors.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # document the source tree, not an older installed copy
sys.path.insert(0, str(ROOT / "docs" / "_ext"))  # this site's own extensions

# The examples run with skkd's built-in plugins only, whatever else is installed, so the
# pages come out the same on every machine; the plugin example registers its own.
os.environ.setdefault("SKKD_LOAD_PLUGINS", "")

# One source for the version: skkd/_version.py (pyproject.toml's version is checked
# against it by the test suite).
_version: dict[str, str] = {}
exec((ROOT / "skkd" / "_version.py").read_text(), _version)

project = "skkd"
author = "skkd developers"
copyright = "2026, skkd developers"
release = _version["__version__"]
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
    "argparse_help",  # docs/_ext: the command line page, from skkd.cli's parser
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = [
    "_build",
    "Thumbs.db",
    ".DS_Store",
    # sphinx-gallery writes these next to the generated pages; none is in a toctree.
    "auto_examples/*.ipynb",
    "auto_examples/*.py",
    "auto_examples/*.zip",
    "auto_examples/*.codeobj.json",
    "auto_examples/*.md5",
    "sg_execution_times.rst",
]
templates_path = ["_templates"]
default_role = "literal"  # `x` in a docstring is code, as in Markdown

# -- autodoc, autosummary and numpydoc ---------------------------------------------

autosummary_generate = True
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "none"  # numpydoc's "Parameters" sections say it, in words
numpydoc_show_class_members = False  # our autosummary templates list the members
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
# Every documented parameter exists and every parameter is documented: with -W, a
# missing or stale entry in "Parameters" fails the build.
numpydoc_validation_checks = {"PR01", "PR02"}

# -- MyST (the Markdown pages: the user guide, docs/plugins.md, the changelog) ----

myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# -- sphinx-gallery -----------------------------------------------------------------

sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",  # every plot_*.py runs at build time
    "within_subsection_order": "FileNameSortKey",
    "doc_module": ("skkd",),
    "backreferences_dir": "generated/backreferences",
    "download_all_examples": False,
    "remove_config_comments": True,
    "min_reported_time": 1,
    "show_memory": False,
}

# -- HTML ---------------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"skkd {release}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_show_sourcelink = False
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_context = {"default_mode": "light"}


# Members that classes inherit from scikit-learn, skorch or torch are theirs to document
# (and their docstrings link to their own sites), except the metadata-routing requests
# scikit-learn generates for our estimators: the user guide calls set_fit_request.
_THIRD_PARTY = ("sklearn", "skorch", "torch")
# Where the roles of scikit-learn's generated docstrings point, on scikit-learn's site.
_SKLEARN_DOCS = "https://scikit-learn.org/stable/"
_SKLEARN_REFS = {"metadata_routing": "metadata_routing.html"}


def _is_request_method(name):
    return name.startswith("set_") and name.endswith("_request")


def _skip_third_party_members(app, what, name, obj, skip, options):
    """Leave out the methods a class inherits from scikit-learn, skorch or torch.

    Called by autodoc (``what`` is the class's type) and by autosummary's method
    tables (``what`` is the member's). A method is theirs when it is defined in their
    modules; ``set_*_request`` stays, and so do our overrides (``get_params``).
    """
    if _is_request_method(name) or not callable(obj):
        return None
    module = getattr(obj, "__module__", None) or ""
    if module.split(".")[0] in _THIRD_PARTY:
        return True
    return None


def _sklearn_roles(app, what, name, obj, options, lines):
    """Point the glossary terms and guide labels of scikit-learn's docstrings to its site.

    ``set_*_request`` (generated by scikit-learn) and the docstrings ``get_params`` and
    ``set_params`` inherit use ``:term:`` and ``:ref:`` targets that only scikit-learn's
    own site has; as plain links they neither warn nor dangle.
    """
    def term(match):
        text = match[1].strip()
        anchor = "term-" + "-".join(text.lower().split())
        return f"`{text} <{_SKLEARN_DOCS}glossary.html#{anchor}>`__"

    def ref(match):
        text, label = match[1].strip(), match[2]
        if label not in _SKLEARN_REFS:
            return match[0]
        return f"`{text} <{_SKLEARN_DOCS}{_SKLEARN_REFS[label]}>`__"

    for i, line in enumerate(lines):
        line = re.sub(r":term:`([^`<]+)`", term, line)
        lines[i] = re.sub(r":ref:`([^`<]+)<([^`>]+)>`", ref, line)


def setup(app):
    app.connect("autodoc-skip-member", _skip_third_party_members)
    # before numpydoc (priority 500) reads the docstring
    app.connect("autodoc-process-docstring", _sklearn_roles, priority=400)
