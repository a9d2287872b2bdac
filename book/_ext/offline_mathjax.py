"""Serve MathJax 3 from the built book instead of a CDN.

The rendered book must show its equations without network access. MathJax 3's
browser bundle ("es5" folder) ships inside the PyPI package django-static-mathjax
(import name ``mathjax``; Django itself is not needed to use the files). This
extension copies that folder, as installed, into ``<html output>/_static/mathjax/``
and points Sphinx's ``mathjax_path`` at the copy. Nothing is copied into the
repository.

MathJax resolves its fonts and lazily loaded components relative to the URL of its
own script, so the whole es5 tree is copied and the fonts load from the local copy.
MathJax is loaded on every page (math in chapter titles shows in every sidebar).
The ``mathjax3_config`` that myst-parser / myst-nb set (``processHtmlClass`` etc.)
is written by Sphinx as ``window.MathJax = {...}`` before the script and keeps working.
"""

from __future__ import annotations

import filecmp
import shutil
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError
from sphinx.util import logging

logger = logging.getLogger(__name__)

# Preferred entry points, first found wins. tex-chtml.js: TeX input, HTML/CSS output.
_ENTRY_POINTS = ("tex-chtml.js", "tex-mml-chtml.js")
_TARGET = "mathjax"  # folder inside _static/


def _mathjax_es5_dir() -> Path:
    try:
        import mathjax  # provided by django-static-mathjax
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ExtensionError(
            "offline_mathjax: the package 'django-static-mathjax' is not installed "
            "(run `make setup`)"
        ) from exc
    es5 = Path(mathjax.__file__).resolve().parent / "static" / "mathjax" / "es5"
    if not es5.is_dir():
        raise ExtensionError(f"offline_mathjax: MathJax es5 folder not found in {es5.parent}")
    return es5


def _entry_point(es5: Path) -> str:
    for name in _ENTRY_POINTS:
        if (es5 / name).is_file():
            return name
    raise ExtensionError(f"offline_mathjax: none of {_ENTRY_POINTS} found in the MathJax package")


def _on_builder_inited(app: Sphinx) -> None:
    if app.builder.format != "html":
        return
    es5 = _mathjax_es5_dir()
    # A relative mathjax_path is resolved by Sphinx against the build's _static/.
    app.config.mathjax_path = f"{_TARGET}/{_entry_point(es5)}"


def _up_to_date(src: Path, dst: Path) -> bool:
    """True when dst already holds the same file list as src (sizes compared shallowly)."""
    if not dst.is_dir():
        return False
    cmp = filecmp.dircmp(src, dst)
    stack = [cmp]
    while stack:
        c = stack.pop()
        if c.left_only or c.right_only or c.diff_files or c.funny_files:
            return False
        stack.extend(c.subdirs.values())
    return True


def _on_build_finished(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    src = _mathjax_es5_dir()
    dst = Path(app.outdir) / "_static" / _TARGET
    if _up_to_date(src, dst):
        return
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst)
    logger.info("offline_mathjax: copied MathJax from the installed package into _static/%s", _TARGET)


def setup(app: Sphinx) -> dict:
    app.setup_extension("sphinx.ext.mathjax")
    # Load MathJax on every page, not only on pages whose body has equations: chapter
    # titles with math (e.g. "The $\mathcal{Q}$-function") appear in the navigation
    # sidebar of every page, the index and the search page.
    app.set_html_assets_policy("always")
    # Run before sphinx.ext.mathjax / myst-parser read the configuration.
    app.connect("builder-inited", _on_builder_inited, priority=100)
    app.connect("build-finished", _on_build_finished)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
