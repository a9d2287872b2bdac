"""What the book's prose names must exist: test files in tests/ and functions in hmmcore."""

import re

import hmmcore
from _book_sources import ROOT, book_files


def markdown_text() -> str:
    from _book_sources import read_notebook

    parts = []
    for path in book_files():
        if path.suffix == ".md":
            parts.append(path.read_text(encoding="utf-8"))
        else:
            parts.extend(cell.source for cell in read_notebook(path).cells if cell.cell_type == "markdown")
    return "\n".join(parts)


def test_named_test_files_exist():
    named = set(re.findall(r"\b(test_[a-z_]+\.py)\b", markdown_text()))
    assert named, "the book names no test file; the equation map of chapter 8 should"
    missing = sorted(name for name in named if not (ROOT / "tests" / name).exists())
    assert not missing, f"the book names test files that do not exist: {missing}"


def test_named_hmmcore_functions_exist():
    text = markdown_text()
    named = set(re.findall(r"`hmmcore\.([A-Za-z_]\w*)", text))
    named |= {name for name in re.findall(r"`([a-z_]+)`", text) if name.startswith(("update_", "e_step", "fit_em", "em_step"))}
    missing = sorted(name for name in named if not hasattr(hmmcore, name))
    assert not missing, f"the book names hmmcore functions that do not exist: {missing}"
