"""Repository-wide pytest configuration.

nbval (enabled in pytest.ini) would collect every ``.ipynb`` it meets. Only the book's
chapter notebooks are tests: anything outside ``book/`` (scratch notebooks, build
output, virtual environments, checkpoints) is ignored here.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent
BOOK = ROOT / "book"
_SKIP_PARTS = {"_build", ".venv", ".ipynb_checkpoints", "_ext"}


def pytest_ignore_collect(collection_path: Path, config):  # noqa: ARG001
    if collection_path.suffix != ".ipynb":
        return None
    path = collection_path.resolve()
    if BOOK not in path.parents or _SKIP_PARTS.intersection(path.relative_to(ROOT).parts):
        return True
    return None
