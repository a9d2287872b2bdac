"""Shared helpers for the tests that inspect the book's sources (not its HTML)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
TOC = ROOT / "_toc.yml"
SOURCE_SUFFIXES = (".md", ".ipynb")
_SKIP_PARTS = {"_build", ".ipynb_checkpoints", "_ext", "__pycache__"}


def book_files(suffixes: tuple[str, ...] = SOURCE_SUFFIXES) -> list[Path]:
    """Chapter sources under book/, sorted, without checkpoints or build output."""
    return sorted(
        p
        for p in BOOK.rglob("*")
        if p.is_file()
        and p.suffix in suffixes
        and not _SKIP_PARTS.intersection(p.relative_to(ROOT).parts)
    )


def notebooks() -> list[Path]:
    return book_files((".ipynb",))


def read_notebook(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def toc_entries() -> list[str]:
    """Every `root` / `file` entry of _toc.yml, in order, as written (no suffix)."""
    toc = yaml.safe_load(TOC.read_text(encoding="utf-8"))
    entries: list[str] = [toc["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                entries.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk({k: v for k, v in toc.items() if k != "root"})
    return entries


def resolve_toc_entry(entry: str) -> list[Path]:
    """The source files an entry may refer to (Jupyter Book omits the suffix)."""
    base = ROOT / entry
    if base.suffix in SOURCE_SUFFIXES:
        return [base] if base.is_file() else []
    return [p for p in (base.with_name(base.name + s) for s in SOURCE_SUFFIXES) if p.is_file()]


def markdown_texts(path: Path) -> list[str]:
    """The Markdown a reader sees: a .md file, or the markdown cells of a notebook."""
    if path.suffix == ".md":
        return [path.read_text(encoding="utf-8")]
    nb = read_notebook(path)
    return [cell.source for cell in nb.cells if cell.cell_type == "markdown"]


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()
