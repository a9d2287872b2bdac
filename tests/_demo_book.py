"""Build the demonstration page (tests/fixtures/demo_book) with the book's own configuration.

The page is not part of the book. It uses every helper of ``book/booktools.py`` and every
setting the chapters rely on; the tests build it in a temporary folder (a copy of
``_config.yml``, ``references.bib``, ``book/_ext``, ``book/_static`` and
``book/booktools.py``, with a table of contents of its own) and look at the result.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from _book_sources import ROOT

FIXTURE = ROOT / "tests" / "fixtures" / "demo_book"
DEMO_PAGE = "book/demo.html"
_TOC = """format: jb-book
root: book/intro
parts:
  - caption: Demonstration
    numbered: true
    chapters:
      - file: book/demo
"""


def build_demo_book(folder: Path) -> Path:
    """Build the demonstration book in ``folder``; return its HTML folder.

    Fails (``subprocess.CalledProcessError``, with Sphinx's output) on any warning: the
    build uses the same flags as ``make book`` (``-W -n --keep-going``).
    """
    book = folder / "book"
    book.mkdir(parents=True)
    for name in ("_config.yml", "references.bib"):
        shutil.copy2(ROOT / name, folder / name)
    (folder / "_toc.yml").write_text(_TOC, encoding="utf-8")
    for name in ("_ext", "_static"):
        shutil.copytree(
            ROOT / "book" / name,
            book / name,
            ignore=shutil.ignore_patterns("__pycache__"),
        )
    shutil.copy2(ROOT / "book" / "booktools.py", book / "booktools.py")
    for source in FIXTURE.iterdir():
        shutil.copy2(source, book / source.name)
    env = dict(
        os.environ,
        OMP_NUM_THREADS="1",
        OPENBLAS_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        PYDEVD_DISABLE_FILE_VALIDATION="1",
        JUPYTER_PLATFORM_DIRS="1",
    )
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    result = subprocess.run(
        [str(jupyter_book), "build", "-W", "-n", "--keep-going", str(folder)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise subprocess.CalledProcessError(
            result.returncode, result.args, output=result.stdout, stderr=result.stderr
        )
    return folder / "_build" / "html"
