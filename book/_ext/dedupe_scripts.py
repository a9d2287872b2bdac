"""Emit each inline <script> of a page once.

sphinx-thebe (loaded by Jupyter Book 1) registers its configuration script with
``filename=None``. Sphinx 7.4 keeps both that entry and the same entry re-read from its
registry with ``filename=''``, so every page declared ``const THEBE_JS_URL`` twice and
the browser reported "Identifier 'THEBE_JS_URL' has already been declared". This
extension drops exact duplicates (same file or body, priority and attributes) from each
page's script list, treating ``None`` and ``''`` as the same empty filename.
"""

from __future__ import annotations

import os

from sphinx.application import Sphinx


def _key(js) -> tuple:
    filename = getattr(js, "filename", js)
    attributes = getattr(js, "attributes", {})
    return (
        os.fspath(filename or ""),
        getattr(js, "priority", 500),
        tuple(sorted((k, str(v)) for k, v in attributes.items())),
    )


def _dedupe_scripts(app: Sphinx, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen: set[tuple] = set()
    unique = []
    for js in scripts:
        key = _key(js)
        if key not in seen:
            seen.add(key)
            unique.append(js)
    context["script_files"] = unique


def setup(app: Sphinx) -> dict:
    # Late: after sphinx.ext.mathjax and the themes have added their scripts.
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
