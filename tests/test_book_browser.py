"""The rendered book, checked in a real (headless) browser with no network.

The HTML in ``_build/html`` (made by ``make book``) is served from a local HTTP server
on 127.0.0.1 and opened in Debian's Chromium through Playwright. Every request that is
not for that server is aborted and recorded: the book must need no network at all.
For every page: MathJax finished and rendered every formula without errors, no raw
``$$`` or TeX command (such as ``\\mathcal{Q}`` in a link text) is left in the
text, every image loaded, every internal link (and its #anchor)
exists, and no Python traceback is shown.

The interactive Gaussian widget (chapter 7) is driven like a reader would: if a page has
an element ``[data-gaussian-widget]``, its mu slider (``input[type=range][data-param=mu]``,
else the widget's first range input) is moved with the keyboard and the readout
``[data-readout=peak]`` must change.

The page reads like a book (issue 13), checked by ``test_page_layout`` on every page:

- the first visible block of the article is the page's ``<h1>`` title, and in a chapter
  notebook the first block after it (headings aside) is a paragraph, not code;
- at a 1400 px wide window no visible code block or cell output (``div.highlight pre``)
  scrolls sideways (``scrollWidth > clientWidth``), and no display equation is wider
  than its box. MathJax 3 (CHTML) renders ``$$`` math as ``<mjx-container
  display="true">`` inside Sphinx's ``div.math``; the theme lays ``div.math`` out as a
  flex row (equation, number) and lets the ``mjx-container`` scroll, so an equation that
  is too wide shows up as an ``mjx-container`` whose ``scrollWidth`` exceeds its
  ``clientWidth``, or as an ``mjx-math`` whose right edge lies beyond ``div.math``;
- at a 390 px wide window the page itself does not scroll sideways
  (``document.scrollingElement.scrollWidth`` at most its ``clientWidth``); a wide
  equation or code block may scroll inside its own box;
- every image has a meaningful alternative text: not empty, and not a file name or
  path (``…png``, ``_build``, ``../``, a single token with a slash). A slash inside
  words of a sentence ("Bear/Crash regime") is text, not a path.

At 390 px (``phone_problems``) a display equation cut by the screen must show a cue
(scroll-cue.js fades the edge that hides more of it), no equation number may be drawn over
mathematics, and theorem, exercise and other boxes must hold their content.

The page reads like a textbook (issue 19), checked by ``test_page_reads_like_a_textbook``
on every page at 1400 px (``tests/_browser.py``, ``READING_REPORT``): visible code inputs
at most 25 % of the article's height and 25 lines a cell; no solution content visible
before the reader opens it; PNG figures with at least twice the pixels they are shown
with; glued numbers in the weight of their text; no raw TeX in link text (nor in the
search index's titles); no citation of the derivation's numbers or of labels where the
page's own linked numbers belong. The per-page table is printed at the end of the run
(tests/conftest.py) and saved as ``_build/reading-measurements.md``.

Failure messages name the page and the element (the first characters of the equation's
TeX, the first line of the code block, the image's ``src``). All these checks are also
run on small synthetic pages (``test_*_checks_catch_synthetic_problems``), so that a
check that could never fail is noticed. Screenshots of one chapter at 1400 px and at
390 px are saved next to the build, in ``_build/screenshots/``.

``BOOK_HTML`` (environment) points the test at another build, for example
``BOOK_HTML=/tmp/mybuild/_build/html``; the default is ``_build/html``.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlsplit

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from _book_sources import ROOT, resolve_toc_entry, toc_entries
from _browser import (
    CHROMIUM,
    DESKTOP_WIDTH,
    PHONE_WIDTH,
    READING_TABLE,
    WAIT_MATHJAX,
    Site,
    chromium,
    layout_problems,
    open_page,
    phone_problems,
    reading_problems,
    reading_report,
    reading_row,
    serving,
)

HTML = Path(os.environ.get("BOOK_HTML") or ROOT / "_build" / "html").resolve()
SCREENSHOTS = HTML.parent / "screenshots"
SCREENSHOT = SCREENSHOTS / "chapter.png"
_REDIRECT = re.compile(
    r"""<meta\s+http-equiv=["']refresh["']\s+content=["'][^"']*url=([^"']+)["']""", re.I
)


def _shown(path: Path) -> str:
    """A path for messages: relative to the repository when inside it."""
    try:
        return path.relative_to(ROOT).as_posix()
    except ValueError:
        return str(path)


def _pages() -> list[str]:
    """Every HTML page of the build, relative to _build/html (posix)."""
    if not HTML.is_dir():
        return []
    return sorted(
        p.relative_to(HTML).as_posix()
        for p in HTML.rglob("*.html")
        if not {"_static", "_sources", "_images"}.intersection(p.relative_to(HTML).parts)
    )


PAGES = _pages()
# Reading measurements (issue 19) per page, filled by test_page_layout (or measured on
# demand); READING_TABLE is printed at the end of the run (tests/conftest.py).
_READING: dict[str, dict] = {}


# --------------------------------------------------------------------------- helpers


class _Anchors(HTMLParser):
    """Collects the ids (and legacy <a name>) of one HTML file."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for key, value in attrs:
            if value and (key == "id" or (tag == "a" and key == "name")):
                self.ids.add(value)


@functools.lru_cache(maxsize=None)
def _ids_of(path: Path) -> frozenset[str]:
    parser = _Anchors()
    parser.feed(path.read_text(encoding="utf-8", errors="replace"))
    return frozenset(parser.ids)


_PAGE_REPORT = """
async () => {
  const skip = new Set(['PRE', 'CODE', 'SCRIPT', 'STYLE', 'TEXTAREA', 'MJX-CONTAINER']);
  const rawDollars = [], rawTex = [];
  const texCommand = /\\\\[A-Za-z]+\\{/;
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    let el = n.parentElement, skipped = false;
    for (; el; el = el.parentElement) { if (skip.has(el.tagName)) { skipped = true; break; } }
    if (skipped) continue;
    if (n.nodeValue.includes('$$')) rawDollars.push(n.nodeValue.trim().slice(0, 80));
    if (texCommand.test(n.nodeValue)) rawTex.push(n.nodeValue.trim().slice(0, 80));
  }
  const imgs = Array.from(document.images);
  await Promise.all(imgs.map(i => { i.loading = 'eager'; return i.decode().catch(() => null); }));
  return {
    mathErrors: document.querySelectorAll('mjx-merror, .MathJax_Error, [data-mjx-error]').length,
    mathErrorTexts: Array.from(document.querySelectorAll('mjx-merror, [data-mjx-error]'))
                         .slice(0, 5).map(e => e.getAttribute('data-mjx-error') || e.textContent),
    unrendered: Array.from(document.querySelectorAll('.math'))
                     .filter(e => !e.querySelector('mjx-container'))
                     .slice(0, 5).map(e => e.textContent.trim().slice(0, 80)),
    rawDollars: rawDollars.slice(0, 5),
    rawTex: rawTex.slice(0, 5),
    brokenImages: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src),
    links: Array.from(document.querySelectorAll('a[href]')).map(a => a.href),
    traceback: document.body.textContent.includes('Traceback (most recent call last)'),
  };
}
"""


def _check_link(href: str, site: Site, page_rel: str) -> str | None:
    """None if the link is fine (or external), else a description of the problem."""
    if not href.startswith(site.base):
        return None  # external (http, mailto, ...): not followed, never requested
    url, fragment = urldefrag(href)
    path = unquote(urlsplit(url).path)
    base_path = urlsplit(site.base).path
    rel_target = path[len(base_path):] if path.startswith(base_path) else path.lstrip("/")
    target = HTML / rel_target
    if rel_target == "" or rel_target.endswith("/"):
        target = target / "index.html"
    if not target.is_file():
        return f"{href} -> missing file {rel_target or 'index.html'}"
    if fragment and target.suffix == ".html" and unquote(fragment) not in _ids_of(target):
        return f"{href} -> no element with id '{unquote(fragment)}' in {target.relative_to(HTML)}"
    return None


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Headless Chromium with the network blocked (tests/_browser.py)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium (`make setup` does it)")
    with chromium(tmp_path_factory.mktemp("chromium-profile")) as site:
        yield site


@pytest.fixture(scope="module")
def site(browser):
    if not (HTML / "index.html").is_file():
        pytest.fail(f"no built book in {_shown(HTML)}: run `make book` first")
    with serving(browser, HTML) as site:
        yield site


def _is_notebook_page(page_rel: str) -> bool:
    return (ROOT / page_rel).with_suffix(".ipynb").is_file()


# --------------------------------------------------------------------------- tests


def test_book_was_built():
    assert PAGES, f"no HTML pages in {_shown(HTML)}: run `make book` first"


@pytest.mark.parametrize("page_rel", PAGES or ["<no pages>"])
def test_page_renders(site, page_rel):
    if page_rel == "<no pages>":
        pytest.fail("no built book: run `make book` first")
    redirect = _REDIRECT.search((HTML / page_rel).read_text(encoding="utf-8", errors="replace"))
    if redirect:  # e.g. index.html -> book/intro.html: check the target, not the page
        target = (HTML / page_rel).parent / unquote(redirect.group(1).split("#")[0])
        assert target.is_file(), f"{page_rel} redirects to a missing page {redirect.group(1)}"
        return
    page, js_errors = open_page(site, page_rel)
    try:
        state = page.evaluate(WAIT_MATHJAX)
        report = page.evaluate(_PAGE_REPORT)
    finally:
        page.close()
    problems = []
    if state["hasMath"] and not state["loaded"]:
        problems.append("page has math but MathJax did not load")
    if report["mathErrors"]:
        problems.append(f"{report['mathErrors']} MathJax errors, e.g. {report['mathErrorTexts']}")
    if report["unrendered"]:
        problems.append(f"math left unrendered: {report['unrendered']}")
    if report["rawDollars"]:
        problems.append(f"raw $$ in the text: {report['rawDollars']}")
    if report["rawTex"]:
        problems.append(f"raw TeX commands in the text (outside math): {report['rawTex']}")
    if report["brokenImages"]:
        problems.append(f"images that did not load: {report['brokenImages']}")
    if report["traceback"]:
        problems.append("the page shows a Python traceback")
    bad_links = sorted({p for h in report["links"] if (p := _check_link(h, site, page_rel))})
    if bad_links:
        problems.append(f"broken internal links: {bad_links}")
    if js_errors:
        problems.append(f"JavaScript errors: {js_errors}")
    blocked = [u for p, u in site.blocked if p == page_rel]
    if blocked:
        problems.append(f"requests outside the book (blocked): {blocked}")
    assert not problems, f"{page_rel}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("page_rel", PAGES or ["<no pages>"])
def test_page_layout(site, page_rel):
    """Title first, nothing sideways at 1400 px, alt texts; at 390 px no page scroll, every
    cut equation with a cue, no equation number over mathematics, boxes that fit."""
    if page_rel == "<no pages>":
        pytest.fail("no built book: run `make book` first")
    if _REDIRECT.search((HTML / page_rel).read_text(encoding="utf-8", errors="replace")):
        return  # a redirect (index.html); its target is checked as a page of its own
    page, _ = open_page(site, page_rel, width=DESKTOP_WIDTH)
    try:
        page.evaluate(WAIT_MATHJAX)
        problems = layout_problems(page, notebook=_is_notebook_page(page_rel))
        # measured here too, so that test_page_reads_like_a_textbook needs no page load
        _record_reading(page_rel, reading_report(page))
    finally:
        page.close()
    page, _ = open_page(site, page_rel, width=PHONE_WIDTH, height=844)
    try:
        page.evaluate(WAIT_MATHJAX)
        problems += phone_problems(page)
    finally:
        page.close()
    assert not problems, f"{page_rel}:\n  " + "\n  ".join(problems)


def _record_reading(page_rel: str, report: dict) -> dict:
    READING_TABLE[page_rel] = reading_row(page_rel, report)
    _READING[page_rel] = report
    return report


@pytest.mark.parametrize("page_rel", PAGES or ["<no pages>"])
def test_page_reads_like_a_textbook(site, page_rel):
    """Issue 19 at 1400 px: visible code at most 25 % of the page and 25 lines a cell; no
    solution visible before it is opened; figures at 2×; glued numbers in the text's
    weight; no raw TeX in link text; outputs, captions, headings and code comments cite
    the page's own (linked) numbers, not the derivation's numbers or labels."""
    if page_rel == "<no pages>":
        pytest.fail("no built book: run `make book` first")
    if _REDIRECT.search((HTML / page_rel).read_text(encoding="utf-8", errors="replace")):
        return
    report = _READING.get(page_rel)
    if report is None:  # run on its own (e.g. -k reads_like): measure here
        page, _ = open_page(site, page_rel, width=DESKTOP_WIDTH)
        try:
            page.evaluate(WAIT_MATHJAX)
            report = _record_reading(page_rel, reading_report(page))
        finally:
            page.close()
    problems = reading_problems(report)
    assert not problems, f"{page_rel}:\n  " + "\n  ".join(problems)


def test_search_titles_have_no_raw_tex():
    """Section titles with math show as raw TeX in search results (and in link text)."""
    index = HTML / "searchindex.js"
    assert index.is_file(), f"{_shown(index)} missing: run `make book` first"
    text = index.read_text(encoding="utf-8")
    data = json.loads(text[text.index("(") + 1 : text.rindex(")")])
    titles = list(data.get("titles", [])) + list(data.get("alltitles", {}))
    raw = sorted({t for t in titles if re.search(r"\\[A-Za-z]+|\\[()]|\$", t)})
    assert not raw, f"titles with raw TeX in the search index (keep math out of headings): {raw}"


def test_no_network_requests(site):
    # Runs after the page tests (file order): the whole book needed no outside request.
    assert not site.blocked, f"pages tried to reach the network: {site.blocked}"


def _screenshot_page() -> str:
    """The first notebook chapter of the table of contents, else the landing page."""
    for entry in toc_entries():
        for src in resolve_toc_entry(entry):
            if src.suffix == ".ipynb":
                return src.relative_to(ROOT).with_suffix(".html").as_posix()
    return Path(toc_entries()[0]).with_suffix(".html").as_posix()


@pytest.mark.parametrize("width, height", [(DESKTOP_WIDTH, 1000), (PHONE_WIDTH, 844)])
def test_screenshots_at_two_widths(site, width, height):
    """For a reviewer: the first chapter at desktop and at phone width."""
    page_rel = _screenshot_page()
    assert (HTML / page_rel).is_file(), f"{page_rel} not built"
    target = SCREENSHOTS / f"chapter-{width}.png"
    page, _ = open_page(site, page_rel, width=width, height=height)
    try:
        page.evaluate(WAIT_MATHJAX)
        target.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(target), full_page=False)
    finally:
        page.close()
    assert target.stat().st_size > 10_000, f"{_shown(target)} suspiciously small"
    if width == DESKTOP_WIDTH:
        shutil.copyfile(target, SCREENSHOT)  # the name earlier reviews used


# A page with every problem the layout checks look for, and a clean one: the checks
# must report each problem on the first and nothing on the second.
_TINY_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201e2b2a9a10000000049454e44ae426082"
)
_SYNTHETIC_STYLE = """<style>
  body { margin: 0; font-family: sans-serif; }
  article { width: 700px; max-width: 100%; }
  div.highlight pre { overflow-x: auto; }
  div.math { display: flex; }
  div.math mjx-container { display: block; overflow-x: auto; flex-grow: 1; }
  mjx-math { display: inline-block; }
</style>"""
_SYNTHETIC_BAD = f"""<!DOCTYPE html><html><head><meta charset="utf-8">{_SYNTHETIC_STYLE}</head>
<body><article class="bd-article">
<div class="cell"><div class="cell_input"><div class="highlight"><pre>import numpy as np</pre>
</div></div></div>
<section><h1>A chapter with problems</h1>
<div class="cell"><div class="cell_input"><div class="highlight"><pre>x = 1
print("{'a very long line of code ' * 12}")</pre></div></div></div>
<div class="math" id="equation-wide"><mjx-container display="true">
<mjx-math style="width: 1600px">\\alpha_t(j) = wide</mjx-math></mjx-container></div>
<div class="math" id="equation-spill" style="overflow: visible">
<mjx-container display="true" style="overflow: visible">
<mjx-math style="width: 900px">\\beta_t(i) = spill</mjx-math></mjx-container></div>
<p><img src="dot.png" alt="../_images/0a1b2c.png"> <img src="dot.png" alt="">
<img src="dot.png" alt="png"> <img src="dot.png" alt="Bear/Crash density, wide and flat"></p>
<div style="width: 1000px; height: 10px">a wide banner</div>
</section></article></body></html>"""
_SYNTHETIC_GOOD = f"""<!DOCTYPE html><html><head><meta charset="utf-8">{_SYNTHETIC_STYLE}</head>
<body><article class="bd-article"><section><h1>A clean chapter</h1>
<p>It opens with its title and a paragraph.</p>
<div class="cell"><div class="cell_input"><div class="highlight"><pre>x = 1</pre></div></div></div>
<div class="math" id="equation-narrow"><mjx-container display="true">
<mjx-math style="width: 200px">\\gamma_t(i)</mjx-math></mjx-container></div>
<p><img src="dot.png" alt="Bear/Crash density: wide and flat, centred below zero"></p>
</section></article></body></html>"""


def _measure(browser, folder: Path, pages: dict[str, str], measure, width: int) -> dict:
    """Write ``pages`` (name -> HTML) into ``folder``, open each at ``width`` and return
    name -> ``measure(page)``."""
    for name, text in pages.items():
        (folder / name).write_text(text, encoding="utf-8")
    found = {}
    with serving(browser, folder):
        for name in pages:
            page, _ = open_page(browser, name, width=width, height=844)
            try:
                found[name] = measure(page)
            finally:
                page.close()
    return found


def _bad_only(found: dict[str, str], checks: str, expected: list[str]) -> str:
    """Every expected problem is reported on bad.html, none on good.html; returns the
    report on bad.html."""
    bad, good = found["bad.html"], found["good.html"]
    missing = [e for e in expected if e not in bad]
    assert not missing, f"{checks} checks missed {missing} in:\n{bad}"
    assert good == "", f"{checks} checks report problems on a clean page:\n{good}"
    return bad


def test_layout_checks_catch_synthetic_problems(browser, tmp_path):
    (tmp_path / "dot.png").write_bytes(_TINY_PNG)
    pages = {"bad.html": _SYNTHETIC_BAD, "good.html": _SYNTHETIC_GOOD}
    desktop = _measure(browser, tmp_path, pages,
                       lambda page: layout_problems(page, notebook=True), DESKTOP_WIDTH)
    phone = _measure(browser, tmp_path, pages, phone_problems, PHONE_WIDTH)
    found = {name: "\n".join(desktop[name] + phone[name]) for name in pages}
    bad = _bad_only(found, "layout", [
        'first visible block is code "import numpy as np", not the title',
        'code cell "x = 1" (widest line, 309 characters: "print(',
        'display equation #equation-wide "\\alpha_t(j) = wide" is',
        'display equation #equation-spill "\\beta_t(i) = spill" sticks out',
        "image dot.png: alt is a file name or path",
        "image dot.png: empty alt",
        "image dot.png: alt is a placeholder",
        f"the page scrolls sideways at {PHONE_WIDTH} px",
        '"a wide banner" reaches',
    ])
    assert "Bear/Crash density" not in bad, f"a sentence with a slash taken for a path:\n{bad}"


def _move_slider(page, slider) -> None:
    """Move a range input with the keyboard (End, or Home if it already sits at its maximum)."""
    value = slider.input_value()
    slider.focus()
    page.keyboard.press("End")
    if slider.input_value() == value:
        page.keyboard.press("Home")
    assert slider.input_value() != value, "the slider did not move"


def _readout_after(page, readout, before: str) -> str:
    try:
        page.wait_for_function("([el, old]) => el.textContent !== old", arg=[readout.element_handle(), before], timeout=5_000)
    except PlaywrightTimeoutError:
        pass  # reported by the caller's assertion
    return readout.inner_text()


def test_gaussian_widget_responds(site):
    """Chapter 7's self-contained widget: moving sigma changes the peak height, moving mu moves the peak."""
    pages = [p for p in PAGES if "data-gaussian-widget" in (HTML / p).read_text(encoding="utf-8")]
    assert pages, "no page contains the [data-gaussian-widget] of chapter 7"
    for page_rel in pages:
        page, js_errors = open_page(site, page_rel)
        try:
            page.evaluate(WAIT_MATHJAX)
            widget = page.locator("[data-gaussian-widget]").first
            peak = widget.locator('[data-readout="peak"]').first
            within = [widget.locator(f'[data-readout="p{k}"]').first.inner_text() for k in (1, 2, 3)]
            assert within == ["68.27 %", "95.45 %", "99.73 %"], f"{page_rel}: P(within 1, 2, 3 sigma) reads {within}"
            readouts = {}
            for name in ("sigma", "mu"):
                before = peak.inner_text()
                _move_slider(page, widget.locator(f'input[type="range"][data-param="{name}"]').first)
                readouts[name] = (before, _readout_after(page, peak, before))
        finally:
            page.close()
        for name, (before, after) in readouts.items():
            assert after != before, f"{page_rel}: the peak readout did not change when {name} moved"
        sigma_before, sigma_after = (float(text.split()[0]) for text in readouts["sigma"])
        assert sigma_after != sigma_before, f"{page_rel}: moving sigma left the peak height at {sigma_before}"
        assert not js_errors, f"{page_rel}: JavaScript errors: {js_errors}"


# Phone checks (tests/_browser.py, PHONE_REPORT) on synthetic pages. The markup is the
# theme's (pydata-sphinx-theme lays div.math out as a row: equation, then its number);
# the bad page has the theme's styles only, the good one also the book's readable.css
# and scroll-cue.js, which must fix every problem of the bad one.
_PHONE_STYLE = """<style>
  body { margin: 0; font-family: sans-serif; }
  article { padding: 0 16px; }
  div.math { display: flex; flex-direction: row-reverse; align-items: center; gap: .5em;
             overflow: hidden; max-width: 100%; }
  div.math mjx-container { display: block; overflow: auto; flex-grow: 1; }
  mjx-math { display: inline-block; white-space: nowrap; }
  div.proof { border-left: 4px solid blue; padding: 0 1rem; }
  span.math { display: flex; max-width: 100%; overflow: hidden; }
</style>"""
_PHONE_BODY = """<body><article class="bd-article"><section><h1>Equations on a phone</h1>
<p>A display equation wider than the screen, with its number.</p>
<div class="math" id="equation-wide"><span class="eqno">(1.3)</span>
<mjx-container display="true"><mjx-math style="width: 640px">\\log P(O) = wide</mjx-math>
</mjx-container></div>
<div class="proof theorem admonition"><p class="admonition-title">Theorem 1.1 (Split)</p>
<section class="theorem-content"><p>{theorem}</p>
<p>So <span class="math" id="inline-long"><mjx-container><mjx-math style="width: 500px">
\\alpha_t(i) = long</mjx-math></mjx-container></span> holds.</p></section></div>
</section></article></body></html>"""
_PHONE_BAD = (f'<!DOCTYPE html><html><head><meta charset="utf-8">{_PHONE_STYLE}</head>'
              + _PHONE_BODY.format(theorem='<span style="white-space: nowrap">'
                                   + "an item that does not wrap " * 4 + "</span>"))
_PHONE_GOOD = (f'<!DOCTYPE html><html><head><meta charset="utf-8">{_PHONE_STYLE}'
               '<link rel="stylesheet" href="readable.css"><script src="scroll-cue.js"></script>'
               "</head>" + _PHONE_BODY.format(theorem="an item that wraps " * 4))


def test_phone_checks_catch_synthetic_problems(browser, tmp_path):
    static = ROOT / "book" / "_static"
    for name in ("readable.css", "scroll-cue.js"):
        shutil.copyfile(static / name, tmp_path / name)
    pages = {"bad.html": _PHONE_BAD, "good.html": _PHONE_GOOD}
    found = _measure(browser, tmp_path, pages,
                     lambda page: "\n".join(phone_problems(page)), PHONE_WIDTH)
    # the good page has the book's readable.css and scroll-cue.js: they fix everything
    _bad_only(found, "phone", [
        'equation #equation-wide "\\log P(O) = wide" is cut with no visible cue',
        "equation number (1.3) is drawn over the mathematics of #equation-wide",
        'box "Theorem 1.1 (Split)": <span> "an item that does not wrap',
        'inline formula "\\alpha_t(i) = long" is cut with no visible cue',
    ])


# Reading checks (tests/_browser.py, READING_REPORT) on synthetic pages: the bad page has
# one of each problem issue 19 names, the good page none.
_READING_STYLE = """<style>
  body { margin: 0; font-family: sans-serif; font-weight: 400; }
  article { width: 760px; }
  span.pasted-text { font-weight: bold; }
  .admonition.toggle-hidden .admonition-title ~ * { height: 0; margin: 0; opacity: 0;
                                                     visibility: hidden; display: block; }
</style>"""
_LONG_CELL = "\n".join(f"x{i} = {i}  # step {i}" for i in range(40))
_READING_BAD = f"""<!DOCTYPE html><html><head><meta charset="utf-8">{_READING_STYLE}</head>
<body><article class="bd-article"><section><h1>A chapter that reads like a notebook</h1>
<p>Some text.</p>
<div class="cell"><div class="cell_input"><div class="highlight"><pre>{_LONG_CELL}
<span class="c1"># Eq. (29): the emission density</span></pre></div></div>
<div class="cell_output"><pre>✓ Eq. (16) holds; ✓ Eq. (e-step-gradients) holds; by Theorem mstep-a-gibbs
(27) and Eq. (4.10) as plain text</pre></div></div>
<h2>A fitted model is a stationary point of Eq. (1)</h2>
<figure><img src="one_x.png" width="100" alt="A chart drawn at one pixel per screen pixel">
<figcaption><span class="caption-number">Fig. 1.1 </span>one factor of Eq. (4)</figcaption></figure>
<p>The log-likelihood is <span class="pasted-text">-508.64</span>, see
<a href="#x">Why the denominator must be \\sum_{{t=1}}^{{T-1}} \\gamma_t(i)</a>.</p>
<div class="solution dropdown admonition" id="sol-1"><p class="admonition-title">Solution to
Exercise 1.1</p><section><p>The answer is 168.</p></section></div>
<div class="cell"><div class="cell_output"><pre>smallest T with 3^T &gt; 10^80: T = 168</pre></div></div>
</section></article></body></html>"""
_READING_GOOD = f"""<!DOCTYPE html><html><head><meta charset="utf-8">{_READING_STYLE}
<style>span.pasted-text {{ font-weight: inherit; }}</style></head>
<body><article class="bd-article"><section><h1>A chapter that reads like a book</h1>
{"<p>" + "Prose that explains the derivation, line after line. " * 40 + "</p>"}
<div class="cell"><div class="cell_input"><div class="highlight"><pre>x = 1  # (4.10)
y = 2</pre></div></div>
<div class="cell_output"><p><span class="check-mark">✓</span> <a href="#e">(4.10)</a>, the
derivation's (16), holds at every t (K = 3, T = 8)</p></div></div>
<h2>A fitted model is a stationary point of the likelihood</h2>
<figure><img src="two_x.png" width="100" alt="A chart drawn at two pixels per screen pixel">
<figcaption><span class="caption-number">Fig. 1 </span>one factor of
<a href="#e">(3.1)</a></figcaption></figure>
<p>The log-likelihood is <span class="pasted-text">−508.64</span>, see
<a href="#x">Why the denominator is a sum of gamma</a>.</p>
<div class="solution dropdown admonition toggle toggle-hidden" id="sol-1">
<p class="admonition-title">Solution to Exercise 1.1</p><section><p>The answer is 168.</p>
<div class="cell"><div class="cell_output"><pre>T = 168</pre></div></div></section></div>
<p>After the exercise, the text goes on.</p>
</section></article></body></html>"""


def _png(path: Path, width: int, height: int) -> None:
    from PIL import Image

    Image.new("RGB", (width, height), "white").save(path)


def test_reading_checks_catch_synthetic_problems(browser, tmp_path):
    _png(tmp_path / "one_x.png", 100, 50)
    _png(tmp_path / "two_x.png", 200, 100)
    pages = {"bad.html": _READING_BAD, "good.html": _READING_GOOD}
    reports = _measure(browser, tmp_path, pages, reading_report, DESKTOP_WIDTH)
    bad, good = reports["bad.html"], reports["good.html"]
    assert bad["codeShare"] > 0.25 and bad["longest"] == 41, bad
    assert [len(bad[k]) for k in ("leaks", "lowRes", "boldGlue", "rawLinks")] == [2, 1, 1, 1], bad
    cited = "\n".join(bad["citations"])
    expected = [
        'output: "Eq. (16)"', 'output: "Eq. (e-step-gradients)"',
        'output: "Theorem mstep-a-gibbs"', 'output: "(27)"', 'output: "Eq. (4.10) (no link)"',
        'heading: "Eq. (1)"', 'caption: "Eq. (4)"', 'code comment: "Eq. (29)"',
    ]
    missing = [e for e in expected if e not in cited]
    assert not missing, f"citation check missed {missing} in:\n{cited}"
    assert len(bad["citations"]) == len(expected), f"unexpected citations:\n{cited}"
    assert len(reading_problems(bad)) == 7, reading_problems(bad)
    assert good["codeShare"] < 0.25 and good["figures"] == 1, good
    assert reading_problems(good) == [], reading_problems(good)
