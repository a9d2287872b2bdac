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
"""

from __future__ import annotations

import functools
import http.server
import re
import socketserver
import threading
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlsplit

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from _book_sources import ROOT, resolve_toc_entry, toc_entries

HTML = ROOT / "_build" / "html"
SCREENSHOT = ROOT / "_build" / "screenshots" / "chapter.png"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 60_000
_REDIRECT = re.compile(
    r"""<meta\s+http-equiv=["']refresh["']\s+content=["'][^"']*url=([^"']+)["']""", re.I
)


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


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - signature of the base class
        pass


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


@dataclass
class Site:
    base: str
    context: object
    blocked: list[tuple[str, str]] = field(default_factory=list)  # (page, url)
    current: str = ""

    def url(self, rel_page: str) -> str:
        return self.base + rel_page


# JavaScript run in each page once it has loaded.
_WAIT_MATHJAX = """
async () => {
  const hasMath = document.querySelector('.math') !== null;
  const mj = window.MathJax;
  if (!mj || !mj.startup || !mj.startup.promise) return {hasMath, loaded: false};
  await mj.startup.promise;
  return {hasMath, loaded: true};
}
"""

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
def site(tmp_path_factory):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium (`make setup` does it)")
    if not (HTML / "index.html").is_file():
        pytest.fail(f"no built book in {HTML.relative_to(ROOT)}: run `make book` first")
    from playwright.sync_api import sync_playwright

    handler = functools.partial(_QuietHandler, directory=str(HTML))
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="book-http", daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        with sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(
                str(tmp_path_factory.mktemp("chromium-profile")),
                executable_path=str(CHROMIUM),
                args=CHROMIUM_ARGS,
                headless=True,
                viewport={"width": 1280, "height": 1000},
                service_workers="block",
            )
            context.set_default_timeout(TIMEOUT_MS)
            s = Site(base=base, context=context)

            def route(r):
                if r.request.url.startswith(base):
                    r.continue_()
                else:
                    s.blocked.append((s.current, r.request.url))
                    r.abort()

            context.route("**/*", route)
            try:
                yield s
            finally:
                context.close()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _open(site: Site, page_rel: str):
    site.current = page_rel
    page = site.context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(site.url(page_rel), wait_until="load")
    return page, errors


# --------------------------------------------------------------------------- tests


def test_book_was_built():
    assert PAGES, f"no HTML pages in {HTML.relative_to(ROOT)}: run `make book` first"


@pytest.mark.parametrize("page_rel", PAGES or ["<no pages>"])
def test_page_renders(site, page_rel):
    if page_rel == "<no pages>":
        pytest.fail("no built book: run `make book` first")
    redirect = _REDIRECT.search((HTML / page_rel).read_text(encoding="utf-8", errors="replace"))
    if redirect:  # e.g. index.html -> book/intro.html: check the target, not the page
        target = (HTML / page_rel).parent / unquote(redirect.group(1).split("#")[0])
        assert target.is_file(), f"{page_rel} redirects to a missing page {redirect.group(1)}"
        return
    page, js_errors = _open(site, page_rel)
    try:
        state = page.evaluate(_WAIT_MATHJAX)
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


def test_screenshot_of_a_chapter(site):
    page_rel = _screenshot_page()
    assert (HTML / page_rel).is_file(), f"{page_rel} not built"
    page, _ = _open(site, page_rel)
    try:
        page.evaluate(_WAIT_MATHJAX)
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT), full_page=False)
    finally:
        page.close()
    assert SCREENSHOT.stat().st_size > 10_000, "screenshot suspiciously small"


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
        page, js_errors = _open(site, page_rel)
        try:
            page.evaluate(_WAIT_MATHJAX)
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
