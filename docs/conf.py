"""Sphinx configuration of the skkd documentation.

Build with ``python -m sphinx -W --keep-going -b html docs docs/_build/html`` from the
repository root (``pip install ".[docs]"`` first). Warnings are errors.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # document the source tree, not an older installed copy

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
    "reference_url": {"skkd": None},
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


def _skip_sklearn_request_methods(app, what, name, obj, skip, options):
    """Leave out scikit-learn's generated ``set_*_request`` methods.

    scikit-learn writes them for every estimator whose ``fit`` or ``score`` takes extra
    arguments; their docstrings link to scikit-learn's glossary, which this site does
    not have. The user guide says how to request ``teacher_logits`` under metadata
    routing.
    """
    if what == "class" and name.startswith("set_") and name.endswith("_request"):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_sklearn_request_methods)
