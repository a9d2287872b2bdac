"""Structure of the book's sources: the table of contents, the equation labels, and code
lines that fit the column.

Every numbered equation (1)-(41) of the source derivation appears in the book with the
label ``seed-N``, written MyST-style as ``$$ ... $$ (seed-N)`` (or ``:label: seed-N`` in
a ``{math}`` directive). Only markdown is searched: code cells may mention labels freely.
"""

from __future__ import annotations

import re
import tomllib
from collections import Counter

from _book_sources import (
    ROOT,
    book_files,
    markdown_texts,
    notebooks,
    read_notebook,
    rel,
    resolve_toc_entry,
    toc_entries,
)

N_SEED_EQUATIONS = 41
_LABEL = re.compile(r"\$\$\s*\(\s*seed-(\d+)\s*\)|^\s*:label:\s*seed-(\d+)\s*$", re.MULTILINE)


def _seed_label_locations() -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for path in book_files():
        for text in markdown_texts(path):
            for m in _LABEL.finditer(text):
                found.setdefault(int(m.group(1) or m.group(2)), []).append(rel(path))
    return found


def test_every_toc_entry_exists():
    missing = [e for e in toc_entries() if not resolve_toc_entry(e)]
    assert not missing, f"_toc.yml lists files that do not exist: {missing}"


def test_toc_entries_are_unambiguous_and_unique():
    entries = toc_entries()
    ambiguous = [e for e in entries if len(resolve_toc_entry(e)) > 1]
    assert not ambiguous, f"_toc.yml entries matching both a .md and an .ipynb: {ambiguous}"
    dupes = [e for e, n in Counter(entries).items() if n > 1]
    assert not dupes, f"_toc.yml lists these more than once: {dupes}"


def test_every_book_source_is_in_the_toc():
    # only_build_toc_files: a source missing from _toc.yml is silently not rendered.
    listed = {p for e in toc_entries() for p in resolve_toc_entry(e)}
    unlisted = [rel(p) for p in book_files() if p not in listed]
    assert not unlisted, f"sources under book/ that _toc.yml does not list: {unlisted}"


def test_seed_labels_are_unique_and_in_range():
    found = _seed_label_locations()
    dupes = {n: where for n, where in found.items() if len(where) > 1}
    assert not dupes, f"seed labels defined more than once (label: files): {dupes}"
    out_of_range = sorted(n for n in found if not 1 <= n <= N_SEED_EQUATIONS)
    assert not out_of_range, f"seed labels outside 1..{N_SEED_EQUATIONS}: {out_of_range}"


def test_all_seed_labels_present():
    found = _seed_label_locations()
    missing = [n for n in range(1, N_SEED_EQUATIONS + 1) if n not in found]
    assert not missing, f"equations of the derivation with no seed-N label in the book: {missing}"


def test_math_conventions():
    # DESIGN.md section 4: `aligned` inside $$, never `align`; no \tag (Sphinx numbers).
    bad = re.compile(r"\\tag\{|\\begin\{(align|eqnarray)\*?\}")
    offenders = sorted(
        {rel(p) for p in book_files() for text in markdown_texts(p) if bad.search(text)}
    )
    assert not offenders, f"\\tag or align/eqnarray environments used in: {offenders}"


def test_code_lines_fit_the_column():
    """A code line longer than ruff's line length (pyproject.toml) scrolls sideways in the
    book's column, open or once unfolded; ruff cannot shorten strings, so this catches them."""
    limit = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["ruff"]["line-length"]
    long_lines = [
        f"{rel(path)} cell {index}: {len(line)} characters: {line.strip()[:60]}…"
        for path in notebooks()
        for index, cell in enumerate(read_notebook(path).cells)
        if cell.cell_type == "code"
        for line in cell.source.splitlines()
        if len(line) > limit
    ]
    assert not long_lines, f"code lines over {limit} characters:\n  " + "\n  ".join(long_lines)
