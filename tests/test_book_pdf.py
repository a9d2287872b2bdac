"""The PDF of the book (``make pdf``: book/_ext/print_pdf.py), read back with pypdf.

- it has a bookmark for every page of ``_toc.yml``, in order, titled like the page, and
  each page of the book printed to at least one PDF page;
- its text layer holds no raw TeX: a formula MathJax did not typeset would print as its
  source (``\\(…\\)``, ``$$``, ``\\frac``, ``\\mathbf`` …), the way a failed render shows
  on screen;
- every chapter's title is in the text.

The intro links the PDF; ``make test`` builds it before the tests run.
"""

from __future__ import annotations

import functools
import os
import re
import unicodedata
from pathlib import Path

import pytest
from _book_sources import ROOT
from _browser import CHROMIUM
from _ext.print_pdf import PDF_NAME, page_title, toc_pages

HTML = Path(os.environ.get("BOOK_HTML") or ROOT / "_build" / "html").resolve()
PDF = HTML / PDF_NAME
# TeX that only an untypeset formula leaves in the text. Code may hold TeX (a label of a
# SymPy check, r"\lambda"): a match that is part of a code block's text is not counted.
_RAW_TEX = re.compile(
    r"\\[()[\]]|\$\$|\\(?:frac|mathbf|mathcal|boldsymbol|sum|prod|begin|end|left|right|"
    r"alpha|beta|gamma|lambda|sigma|mu|pi|xi|hat|top|log|mid|dots|text)\b"
)


@functools.lru_cache(maxsize=1)
def _read():
    from pypdf import PdfReader

    if not CHROMIUM.exists():
        pytest.skip(
            f"{CHROMIUM} not found: `make pdf` needs it (`make setup` installs it)"
        )
    if not PDF.is_file():
        pytest.fail(f"no PDF at {PDF}: run `make pdf` (make test does)")
    reader = PdfReader(PDF)
    texts = [
        unicodedata.normalize("NFKC", page.extract_text() or "")
        for page in reader.pages
    ]
    outline = [
        (item.title, reader.get_destination_page_number(item))
        for item in reader.outline
    ]
    return texts, outline


@functools.lru_cache(maxsize=1)
def _code_text() -> str:
    """The text of every code block of the built pages, without whitespace."""
    from html import unescape

    blocks = []
    for page in HTML.rglob("*.html"):
        for block in re.findall(r"<pre[^>]*>(.*?)</pre>", page.read_text(), re.S):
            blocks.append(unescape(re.sub(r"<[^>]+>", "", block)))
    return re.sub(r"\s+", "", "\n".join(blocks))


def _in_code(text: str, match: re.Match) -> bool:
    """Whether the run of non-blank characters around ``match`` is in a code block
    (print wraps long code lines, so only that run is certain to be whole)."""
    start = (
        max(text.rfind(" ", 0, match.start()), text.rfind("\n", 0, match.start())) + 1
    )
    ends = [
        i for i in (text.find(" ", match.end()), text.find("\n", match.end())) if i >= 0
    ]
    return text[start : min(ends, default=len(text))] in _code_text()


def _toc_titles() -> list[str]:
    return [page_title(HTML / page) for page in toc_pages(ROOT)]


def test_pdf_has_every_page_in_toc_order():
    texts, outline = _read()
    titles = _toc_titles()
    assert [title for title, _ in outline] == titles, (
        "bookmarks differ from _toc.yml's pages"
    )
    starts = [first for _, first in outline] + [len(texts)]
    empty = [titles[i] for i in range(len(titles)) if starts[i + 1] <= starts[i]]
    assert not empty, f"pages of the book with no page in the PDF: {empty}"
    assert len(texts) >= 2 * len(titles), (
        f"only {len(texts)} PDF pages for {len(titles)} pages"
    )


def test_pdf_text_has_no_raw_tex():
    texts, outline = _read()
    starts = [first for _, first in outline]
    found = []
    for number, text in enumerate(texts):
        for match in _RAW_TEX.finditer(text):
            if _in_code(text, match):
                continue
            page = outline[max(i for i, s in enumerate(starts) if s <= number)][0]
            context = " ".join(
                text[max(match.start() - 30, 0) : match.end() + 30].split()
            )
            found.append(f"PDF page {number + 1} ({page}): {context!r}")
    assert not found, f"{len(found)} raw TeX in the PDF's text:\n  " + "\n  ".join(
        found[:10]
    )


def test_pdf_text_has_every_chapter_title():
    texts, _ = _read()
    text = " ".join(" ".join(texts).split())
    missing = []
    for title in _toc_titles():
        plain = re.sub(r"^\d+\.\s+", "", unicodedata.normalize("NFKC", title))
        if " ".join(plain.split()) not in text:
            missing.append(plain)
    assert not missing, f"chapter titles not in the PDF's text: {missing}"
