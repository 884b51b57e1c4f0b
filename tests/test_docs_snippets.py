"""The user guide's code runs: every Python block of a page, in order, in one namespace.

Each page of ``docs/user_guide/`` and ``docs/plugins.md`` is one test: its fenced
```` ```python ```` blocks (also indented ones, in lists) run one after the other, as a
reader pasting them in order would, in a temporary folder (the snippets write student
files). A block whose first line starts with ``# not run:`` says why it cannot run here
(a GPU, a dask cluster, ``torchrun``, files only the user has) and is skipped; bash,
text and other blocks are not Python and are not run.

A page whose code uses a loss of the example plugin package
``plugins/skkd-extra-losses`` (``loss="dkd"``) runs with that distribution allowed
(``SKKD_LOAD_PLUGINS``), as it is installed in CI; the rest of the suite keeps
installed plugins off (``tests/conftest.py``).
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import re
import warnings
from pathlib import Path

import pytest
from doubles import torch_threads
from threadpoolctl import threadpool_limits

from skkd import plugins

DOCS = Path(__file__).resolve().parents[1] / "docs"
PAGES = sorted((DOCS / "user_guide").glob("*.md")) + [DOCS / "plugins.md",
                                                     DOCS / "getting_started.md"]

NOT_RUN = "# not run:"
PYTHON = {"python", "py", "python3"}
CODE_DIRECTIVES = {"{code-block}", "{code}", "{sourcecode}", "{code-cell}"}
FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})\s*(?P<info>.*?)\s*$")

# Installed plugin distributions that a page's code needs, found by the names it uses.
PLUGIN_USES = {
    "skkd-extra-losses": re.compile(r"""["'](dkd|dist)["']"""),
}
PLUGIN_INSTALL = {"skkd-extra-losses": "pip install ./plugins/skkd-extra-losses"}


@dataclasses.dataclass
class Block:
    """One fenced Python block: where its code starts in the page, and the code."""

    path: Path
    line: int  # 1-based line of the block's first code line
    code: str

    @property
    def not_run(self) -> str | None:
        """The reason given on a ``# not run: ...`` first line, or None."""
        first = self.code.lstrip("\n").split("\n", 1)[0].strip()
        return first[len(NOT_RUN):].strip() if first.startswith(NOT_RUN) else None

    def run(self, namespace: dict) -> None:
        # Padded so that a traceback names the page and the line of the page.
        source = "\n" * (self.line - 1) + self.code + "\n"
        exec(compile(source, str(self.path), "exec"), namespace)


def _language(info: str) -> str | None:
    """The language of a fence's info string, or None for a non-code directive."""
    words = info.split()
    if not words:
        return ""
    if words[0].startswith("{"):
        if words[0] not in CODE_DIRECTIVES:
            return None
        return words[1].lower() if len(words) > 1 else ""
    return words[0].lower()


def python_blocks(path: Path) -> list[Block]:
    """The fenced Python blocks of a MyST Markdown page, in order.

    Code fences are read as CommonMark does (closed by a fence of the same character,
    at least as long, with no info string); a directive fence (```` ```{warning} ````)
    holds Markdown, whose code blocks count too.
    """
    lines = path.read_text(encoding="utf-8").split("\n")
    blocks: list[Block] = []
    directives: list[str] = []  # fences of the open directives, innermost last
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if match is None:
            i += 1
            continue
        fence, info, indent = match["fence"], match["info"], len(match["indent"])
        if not info and directives and fence[0] == directives[-1][0] \
                and len(fence) >= len(directives[-1]):
            directives.pop()  # the end of a directive
            i += 1
            continue
        language = _language(info)
        if language is None:  # a directive: its content is Markdown
            directives.append(fence)
            i += 1
            continue
        closing = re.compile(rf"^ *{re.escape(fence[0])}{{{len(fence)},}}\s*$")
        end = i + 1
        while end < len(lines) and not closing.match(lines[end]):
            end += 1
        if language in PYTHON:
            body = [line[indent:] if not line[:indent].strip() else line
                    for line in lines[i + 1:end]]
            blocks.append(Block(path, i + 2, "\n".join(body)))
        i = end + 1
    return blocks


def _plugins_needed(blocks: list[Block]) -> list[str]:
    code = "\n".join(b.code for b in blocks)
    return [dist for dist, uses in PLUGIN_USES.items() if uses.search(code)]


def _installed(distribution: str) -> bool:
    try:
        importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def test_the_pages_and_their_blocks_are_found():
    assert {"teachers.md", "shipping.md", "plugins.md"} <= {p.name for p in PAGES}
    blocks = [b for page in PAGES for b in python_blocks(page)]
    assert len(blocks) > 40  # a parser that finds nothing would pass every page
    assert all(b.code.strip() for b in blocks)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_block_not_run_says_why(page):
    for block in python_blocks(page):
        assert block.not_run is None or block.not_run, (
            f"{page.name}:{block.line}: say why after {NOT_RUN!r}")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_the_code_of_the_page_runs(page, tmp_path, monkeypatch):
    blocks = [b for b in python_blocks(page) if b.not_run is None]
    if not blocks:
        pytest.skip(f"{page.name}: no Python block to run (each is marked {NOT_RUN!r})")
    needed = _plugins_needed(blocks)
    missing = [dist for dist in needed if not _installed(dist)]
    if missing:
        pytest.skip(f"{page.name} uses the plugin distribution(s) {', '.join(missing)}, "
                    f"not installed: {'; '.join(PLUGIN_INSTALL[d] for d in missing)}")
    if needed:
        monkeypatch.setenv(plugins.ALLOW_ENV, ",".join(needed))
        plugins.reset()  # reloaded with them; conftest puts the previous registry back
    monkeypatch.chdir(tmp_path)  # student files, checkpoints, ONNX files land here
    namespace: dict = {"__name__": f"docs_{page.stem}"}
    # One thread each for torch and for BLAS/OpenMP (gradient boosting): these small fits
    # run fastest so, and a busy machine does not slow them down many times over.
    with torch_threads(1), threadpool_limits(1), warnings.catch_warnings():
        # the snippets' small data and few epochs are not what the warnings are about
        warnings.simplefilter("ignore")
        for block in blocks:
            block.run(namespace)
