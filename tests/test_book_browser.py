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

Failure messages name the page and the element (the first characters of the equation's
TeX, the first line of the code block, the image's ``src``). The layout checks are also
run on small synthetic pages (``test_layout_checks_catch_synthetic_problems``), so that a
check that could never fail is noticed. Screenshots of one chapter at 1400 px and at
390 px are saved next to the build, in ``_build/screenshots/``.

``BOOK_HTML`` (environment) points the test at another build, for example
``BOOK_HTML=/tmp/mybuild/_build/html``; the default is ``_build/html``.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import re
import shutil
import socketserver
import threading
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlsplit

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from _book_sources import ROOT, resolve_toc_entry, toc_entries

HTML = Path(os.environ.get("BOOK_HTML") or ROOT / "_build" / "html").resolve()
SCREENSHOTS = HTML.parent / "screenshots"
SCREENSHOT = SCREENSHOTS / "chapter.png"
DESKTOP_WIDTH = 1400
PHONE_WIDTH = 390
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
    allowed: list[str] = field(default_factory=list)  # base URLs of the local servers

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


@contextlib.contextmanager
def _serve(directory: Path):
    """Serve ``directory`` on 127.0.0.1 (a free port); yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="book-http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Headless Chromium; every request that is not for a registered local server is
    aborted and recorded."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium (`make setup` does it)")
    from playwright.sync_api import sync_playwright

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
        s = Site(base="", context=context)

        def route(r):
            if any(r.request.url.startswith(base) for base in s.allowed):
                r.continue_()
            else:
                s.blocked.append((s.current, r.request.url))
                r.abort()

        context.route("**/*", route)
        try:
            yield s
        finally:
            context.close()


@pytest.fixture(scope="module")
def site(browser):
    if not (HTML / "index.html").is_file():
        pytest.fail(f"no built book in {_shown(HTML)}: run `make book` first")
    with _serve(HTML) as base:
        browser.base = base
        browser.allowed.append(base)
        try:
            yield browser
        finally:
            browser.allowed.remove(base)


def _open(site: Site, page_rel: str, width: int | None = None, height: int = 1000):
    site.current = page_rel
    page = site.context.new_page()
    if width is not None:
        page.set_viewport_size({"width": width, "height": height})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(site.url(page_rel), wait_until="load")
    return page, errors


# --------------------------------------------------------------------------- layout

# Run at the desktop width once MathJax has typeset the page. `notebook`: the page was
# made from a notebook (a chapter), which must open with its title and a paragraph.
_LAYOUT_REPORT = r"""
async ({notebook}) => {
  await Promise.all(Array.from(document.images).map(i => i.decode().catch(() => null)));
  const article = document.querySelector('article.bd-article')
                  || document.querySelector('main') || document.body;
  const visible = el => {
    const r = el.getBoundingClientRect();
    if (r.width < 1 || r.height < 1) return false;
    const cs = getComputedStyle(el);
    return cs.visibility !== 'hidden' && cs.display !== 'none';
  };
  const squash = t => (t || '').replace(/\s+/g, ' ').trim();
  const firstLine = el => squash((el.textContent || '').trim().split('\n')[0]).slice(0, 70);
  const isCode = el => el.matches('div.cell, div.highlight, pre')
                       || el.closest('div.cell, div.highlight') !== null;
  const describe = el => isCode(el)
      ? `code "${firstLine(el.querySelector('pre') || el)}"`
      : `<${el.tagName.toLowerCase()}> "${squash(el.textContent).slice(0, 70)}"`;
  const texOf = box => {
    try {
      const items = window.MathJax.startup.document.getMathItemsWithin(box);
      if (items.length) return squash(items[0].math).slice(0, 60);
    } catch (e) { /* no MathJax: fall back to the text */ }
    return squash(box.textContent).slice(0, 60);
  };

  // 1. The title first; in a chapter, then a paragraph before any code.
  const BLOCKS = 'h1, h2, h3, h4, p, div.cell, div.highlight, pre, div.math, table, '
               + 'figure, img, ul, ol, dl, blockquote, div.admonition, details';
  const blocks = Array.from(article.querySelectorAll(BLOCKS)).filter(visible);
  const title = blocks.find(el => el.tagName === 'H1');
  let opening = null;
  if (!blocks.length) opening = 'the page shows no content';
  else if (blocks[0].tagName !== 'H1') opening = `first visible block is ${describe(blocks[0])}, not the title`;
  else if (notebook) {
    const next = blocks.slice(1).find(el => !/^H[1-6]$/.test(el.tagName));
    if (next && next.tagName !== 'P')
      opening = `after the title comes ${describe(next)}, not a paragraph`;
  }

  // 2. Nothing scrolls sideways inside the article; no display equation wider than its box.
  const scrollers = [], equations = [], seen = new Set();
  for (const el of article.querySelectorAll('*')) {
    if (!visible(el)) continue;
    const ox = getComputedStyle(el).overflowX;
    if (ox !== 'auto' && ox !== 'scroll') continue;
    const over = el.scrollWidth - el.clientWidth;
    if (over <= 1) continue;
    const box = el.closest('div.math') || el;
    if (seen.has(box)) continue;
    seen.add(box);
    if (box.matches('div.math')) {
      const where = box.closest('div.cell_output') ? 'equation in a cell output' : 'display equation';
      equations.push(`${where}${box.id ? ' #' + box.id : ''} "${texOf(box)}" is ${over} px wider than its box`);
    } else {
      const pre = el.matches('pre') ? el : el.querySelector('pre');
      const where = el.closest('div.cell_output') ? 'cell output'
                  : el.closest('div.cell_input, div.cell') ? 'code cell'
                  : pre ? 'code block' : `<${el.tagName.toLowerCase()} class="${el.className}">`;
      // innerText: what the reader sees (a pandas table's <style> is not shown)
      const text = pre ? firstLine(pre)
                 : (el.querySelector('table') ? 'table: ' : '') + squash(el.innerText).slice(0, 60);
      const lines = pre ? (pre.textContent || '').split('\n') : [];
      const widest = lines.reduce((a, b) => (b.length > a.length ? b : a), '');
      const detail = pre ? ` (widest line, ${widest.length} characters: "${squash(widest).slice(0, 40)}…")` : '';
      scrollers.push(`${where} "${text}"${detail} scrolls sideways by ${over} px`);
    }
  }
  for (const box of article.querySelectorAll('div.math')) {
    if (seen.has(box) || !visible(box)) continue;
    const m = box.querySelector('mjx-container[display] mjx-math, mjx-container mjx-math');
    if (!m) continue;
    const mr = m.getBoundingClientRect(), br = box.getBoundingClientRect();
    const over = Math.round(Math.max(mr.right - br.right, br.left - mr.left));
    if (over > 1) {
      const where = box.closest('div.cell_output') ? 'equation in a cell output' : 'display equation';
      equations.push(`${where}${box.id ? ' #' + box.id : ''} "${texOf(box)}" sticks out of its column by ${over} px`);
    }
  }

  // 3. Every image has a meaningful alternative text.
  const fileLike = /\.(png|jpe?g|gif|svg|webp|bmp|pdf)\b/i;
  const words = ['png', 'jpg', 'jpeg', 'svg', 'image', 'img', 'figure', 'plot', 'graph',
                 'picture', 'chart', 'output'];
  const badAlt = [];
  for (const img of document.images) {
    const alt = squash(img.getAttribute('alt'));
    const a = alt.toLowerCase();
    const src = img.getAttribute('src') || '';
    const stem = src.split('/').pop().split('.')[0].toLowerCase();
    let why = null;
    if (!img.hasAttribute('alt')) why = 'no alt attribute';
    else if (!a) why = 'empty alt';
    else if (fileLike.test(a) || a.includes('_build') || a.includes('_images')
             || a.includes('../') || a.startsWith('/') || a.startsWith('./')) why = 'alt is a file name or path';
    else if (!/\s/.test(a) && /[\/\\]/.test(a)) why = 'alt is a path';
    else if (words.includes(a) || (stem && a === stem)) why = 'alt is a placeholder';
    else if (!/\s/.test(a)) why = 'alt is a single word';
    if (why) badAlt.push(`image ${src.slice(0, 90)}: ${why} (alt="${alt.slice(0, 60)}")`);
  }
  return {opening, scrollers, equations, badAlt};
}
"""

# Run at the phone width: does the page itself scroll sideways, and what sticks out?
_PHONE_REPORT = r"""
async () => {
  await Promise.all(Array.from(document.images).map(i => i.decode().catch(() => null)));
  const se = document.scrollingElement || document.documentElement;
  const over = se.scrollWidth - se.clientWidth;
  if (over <= 1) return {over, culprits: []};
  const W = se.clientWidth, squash = t => (t || '').replace(/\s+/g, ' ').trim();
  const contained = el => {
    for (let a = el; a && a !== document.body; a = a.parentElement) {
      const cs = getComputedStyle(a);
      if (cs.position === 'fixed') return true;
      if (a !== el && ['auto', 'scroll', 'hidden', 'clip'].includes(cs.overflowX)) return true;
    }
    return false;
  };
  const culprits = [];
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width < 1 || r.right <= W + 1 || contained(el)) continue;
    if (el.parentElement && culprits.some(c => c.el.contains(el))) continue;
    const box = el.closest('div.math');
    culprits.push({el, text: `<${el.tagName.toLowerCase()} class="${el.className}"> `
                  + `"${squash(box ? box.textContent : el.textContent).slice(0, 60)}" `
                  + `reaches ${Math.round(r.right)} px`});
  }
  return {over, width: W, culprits: culprits.slice(0, 5).map(c => c.text)};
}
"""


def _layout_problems(page, notebook: bool) -> list[str]:
    """Desktop-width problems of an open page (MathJax already waited for)."""
    report = page.evaluate(_LAYOUT_REPORT, {"notebook": notebook})
    problems = [report["opening"]] if report["opening"] else []
    for key, label in (
        ("scrollers", f"scrolls sideways at {DESKTOP_WIDTH} px"),
        ("equations", f"display equations too wide at {DESKTOP_WIDTH} px"),
        ("badAlt", "images without a meaningful alternative text"),
    ):
        items = report[key]
        if items:
            shown = "\n    ".join(items[:12])
            more = f"\n    ... and {len(items) - 12} more" if len(items) > 12 else ""
            problems.append(f"{len(items)} {label}:\n    {shown}{more}")
    return problems


def _phone_problems(page) -> list[str]:
    report = page.evaluate(_PHONE_REPORT)
    if report["over"] <= 1:
        return []
    culprits = "\n    ".join(report["culprits"]) or "(no single element found)"
    message = (
        f"the page scrolls sideways at {PHONE_WIDTH} px (by {report['over']} px); "
        f"wide elements:\n    {culprits}"
    )
    return [message]


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


@pytest.mark.parametrize("page_rel", PAGES or ["<no pages>"])
def test_page_layout(site, page_rel):
    """Title first, nothing sideways at 1400 px, no page scroll at 390 px, image alt texts."""
    if page_rel == "<no pages>":
        pytest.fail("no built book: run `make book` first")
    if _REDIRECT.search((HTML / page_rel).read_text(encoding="utf-8", errors="replace")):
        return  # a redirect (index.html); its target is checked as a page of its own
    page, _ = _open(site, page_rel, width=DESKTOP_WIDTH)
    try:
        page.evaluate(_WAIT_MATHJAX)
        problems = _layout_problems(page, notebook=_is_notebook_page(page_rel))
    finally:
        page.close()
    page, _ = _open(site, page_rel, width=PHONE_WIDTH, height=844)
    try:
        page.evaluate(_WAIT_MATHJAX)
        problems += _phone_problems(page)
    finally:
        page.close()
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


@pytest.mark.parametrize("width, height", [(DESKTOP_WIDTH, 1000), (PHONE_WIDTH, 844)])
def test_screenshots_at_two_widths(site, width, height):
    """For a reviewer: the first chapter at desktop and at phone width."""
    page_rel = _screenshot_page()
    assert (HTML / page_rel).is_file(), f"{page_rel} not built"
    target = SCREENSHOTS / f"chapter-{width}.png"
    page, _ = _open(site, page_rel, width=width, height=height)
    try:
        page.evaluate(_WAIT_MATHJAX)
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


def test_layout_checks_catch_synthetic_problems(browser, tmp_path):
    (tmp_path / "dot.png").write_bytes(_TINY_PNG)
    (tmp_path / "bad.html").write_text(_SYNTHETIC_BAD, encoding="utf-8")
    (tmp_path / "good.html").write_text(_SYNTHETIC_GOOD, encoding="utf-8")
    with _serve(tmp_path) as base:
        browser.allowed.append(base)
        saved_base, browser.base = browser.base, base
        try:
            found = {}
            for name in ("bad.html", "good.html"):
                page, _ = _open(browser, name, width=DESKTOP_WIDTH)
                try:
                    desktop = _layout_problems(page, notebook=True)
                finally:
                    page.close()
                page, _ = _open(browser, name, width=PHONE_WIDTH, height=844)
                try:
                    phone = _phone_problems(page)
                finally:
                    page.close()
                found[name] = "\n".join(desktop + phone)
        finally:
            browser.allowed.remove(base)
            browser.base = saved_base
    bad, good = found["bad.html"], found["good.html"]
    expected = [
        'first visible block is code "import numpy as np", not the title',
        'code cell "x = 1" (widest line, 309 characters: "print(',
        'display equation #equation-wide "\\alpha_t(j) = wide" is',
        'display equation #equation-spill "\\beta_t(i) = spill" sticks out',
        "image dot.png: alt is a file name or path",
        "image dot.png: empty alt",
        "image dot.png: alt is a placeholder",
        f"the page scrolls sideways at {PHONE_WIDTH} px",
        '"a wide banner" reaches',
    ]
    missing = [e for e in expected if e not in bad]
    assert not missing, f"layout checks missed {missing} in:\n{bad}"
    assert "Bear/Crash density" not in bad, f"a sentence with a slash taken for a path:\n{bad}"
    assert good == "", f"layout checks report problems on a clean page:\n{good}"


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
