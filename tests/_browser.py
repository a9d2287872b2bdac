"""Headless Chromium on a local server: what the browser tests share.

``tests/test_book_browser.py`` (the built book) and ``tests/test_book_demo.py`` (the
demonstration page of ``book/booktools.py``) open pages through these helpers, with every
request that does not go to a local server blocked, and measure them with the JavaScript
reports below:

- ``LAYOUT_REPORT`` (1400 px): the title first, nothing scrolls sideways, no display
  equation wider than its box, every image described in words;
- ``PHONE_REPORT`` (390 px): the page itself does not scroll sideways; a display equation
  that is cut shows a cue (its edge fades: ``book/_static/scroll-cue.js``); no equation
  number is drawn beside or over a cut equation; nothing sticks out of a box (theorem,
  exercise, admonition);
- ``READING_REPORT`` (1400 px, issue 19): share of the article's height taken by visible
  code inputs and the longest visible cell; solution content visible before the reader
  opens it; figures below 2× resolution; glued numbers in another weight than their
  text; raw TeX in link text; citations of the derivation's numbers or of labels where
  the page's own numbers belong.

Each report is validated on synthetic pages (``tests/test_book_browser.py``,
``test_*_checks_catch_synthetic_problems``): a page that violates a check makes it fail.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import socketserver
import threading
from dataclasses import dataclass, field
from pathlib import Path

# Chromium's path and flags, one definition for the tests and `make pdf`
from _ext.print_pdf import CHROMIUM, CHROMIUM_ARGS

DESKTOP_WIDTH = 1400
PHONE_WIDTH = 390
TIMEOUT_MS = 60_000

#: Targets of issue 19, measured at DESKTOP_WIDTH.
MAX_CODE_SHARE = 0.25
MAX_VISIBLE_CELL_LINES = 25


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
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
WAIT_MATHJAX = """
async () => {
  const hasMath = document.querySelector('.math') !== null;
  const mj = window.MathJax;
  if (!mj || !mj.startup || !mj.startup.promise) return {hasMath, loaded: false};
  await mj.startup.promise;
  await document.fonts.ready;  // MathJax's web fonts: until they load, glyphs are boxes
  return {hasMath, loaded: true};
}
"""


@contextlib.contextmanager
def serve(directory: Path):
    """Serve ``directory`` on 127.0.0.1 (a free port); yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(
        target=server.serve_forever, name="book-http", daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@contextlib.contextmanager
def chromium(profile_dir: Path):
    """Headless Chromium; every request that is not for a registered local server
    (``site.allowed``) is aborted and recorded in ``site.blocked``."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile_dir),
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


@contextlib.contextmanager
def serving(site: Site, directory: Path):
    """Serve ``directory`` and point ``site`` at it for the duration of the block."""
    with serve(directory) as base:
        site.allowed.append(base)
        saved, site.base = site.base, base
        try:
            yield site
        finally:
            site.allowed.remove(base)
            site.base = saved


def open_page(site: Site, page_rel: str, width: int | None = None, height: int = 1000):
    site.current = page_rel
    page = site.context.new_page()
    if width is not None:
        page.set_viewport_size({"width": width, "height": height})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(site.url(page_rel), wait_until="load")
    return page, errors


# --------------------------------------------------------------------------- layout

# The start of every report: wait for the images; what the reader sees of an element.
_JS_COMMON = r"""
  await Promise.all(Array.from(document.images).map(i => i.decode().catch(() => null)));
  const article = document.querySelector('article.bd-article')
                  || document.querySelector('main') || document.body;
  // Rendered for the reader: checkVisibility() also sees the content of a closed
  // <details> (skipped, though getBoundingClientRect still lays it out) and opacity 0.
  const visible = el => {
    const r = el.getBoundingClientRect();
    if (r.width < 1 || r.height < 1) return false;
    return el.checkVisibility({opacityProperty: true, visibilityProperty: true});
  };
  const squash = t => (t || '').replace(/\s+/g, ' ').trim();
  const firstLine = el => squash((el.textContent || '').trim().split('\n')[0]).slice(0, 70);
  // The TeX source of the first formula in box (its text where MathJax is absent).
  const texOf = box => {
    try {
      const items = window.MathJax.startup.document.getMathItemsWithin(box);
      if (items.length) return squash(items[0].math).slice(0, 60);
    } catch (e) { /* no MathJax: fall back to the text */ }
    return squash((box.querySelector('mjx-container') || box).textContent).slice(0, 60);
  };
"""

# Run at the desktop width once MathJax has typeset the page. `notebook`: the page was
# made from a notebook (a chapter), which must open with its title and a paragraph.
LAYOUT_REPORT = (
    "async ({notebook}) => {"
    + _JS_COMMON
    + r"""
  const isCode = el => el.matches('div.cell, div.highlight, pre')
                       || el.closest('div.cell, div.highlight') !== null;
  const describe = el => isCode(el)
      ? `code "${firstLine(el.querySelector('pre') || el)}"`
      : `<${el.tagName.toLowerCase()}> "${squash(el.textContent).slice(0, 70)}"`;

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
)

# Run at the phone width: does the page itself scroll sideways, and what sticks out? Is a
# cut display equation or inline formula marked as such (scroll-cue.js fades its edge),
# is an equation number drawn over (or beside the cut of) its equation, does a box hold
# its content?
PHONE_REPORT = (
    "async () => {"
    + _JS_COMMON
    + r"""
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  const se = document.scrollingElement || document.documentElement;
  const over = se.scrollWidth - se.clientWidth;
  const W = se.clientWidth;
  const clips = a => ['auto', 'scroll', 'hidden', 'clip'].includes(getComputedStyle(a).overflowX);
  const contained = el => {
    for (let a = el; a && a !== document.body; a = a.parentElement) {
      if (getComputedStyle(a).position === 'fixed') return true;
      if (a !== el && clips(a)) return true;
    }
    return false;
  };
  const culprits = [];
  if (over > 1) {
    for (const el of document.body.querySelectorAll('*')) {
      const r = el.getBoundingClientRect();
      if (r.width < 1 || r.right <= W + 1 || contained(el)) continue;
      if (el.parentElement && culprits.some(c => c.el.contains(el))) continue;
      const box = el.closest('div.math');
      culprits.push({el, text: `<${el.tagName.toLowerCase()} class="${el.className}"> `
                    + `"${squash(box ? box.textContent : el.textContent).slice(0, 60)}" `
                    + `reaches ${Math.round(r.right)} px`});
    }
  }
  const equations = [];
  for (const box of document.querySelectorAll('div.math')) {
    if (!visible(box)) continue;
    const c = box.querySelector('mjx-container'), m = box.querySelector('mjx-math');
    if (!c || !m) continue;
    const cr = c.getBoundingClientRect(), mr = m.getBoundingClientRect();
    const name = `${box.id ? '#' + box.id + ' ' : ''}"${texOf(box)}"`;
    const cut = c.scrollWidth - c.clientWidth > 1 || mr.right > cr.right + 1 || mr.left < cr.left - 1;
    if (cut) {
      const cs = getComputedStyle(c);
      const mask = cs.maskImage || cs.webkitMaskImage || 'none';
      if (mask === 'none') equations.push(`equation ${name} is cut with no visible cue (no fading edge)`);
    }
    const no = box.querySelector('span.eqno');
    if (no && visible(no)) {
      const nr = no.getBoundingClientRect();
      const x = Math.min(nr.right, mr.right) - Math.max(nr.left, mr.left);
      const y = Math.min(nr.bottom, mr.bottom) - Math.max(nr.top, mr.top);
      if (x > 1 && y > 1)
        equations.push(`equation number ${squash(no.textContent).replace('#', '')} is drawn over the mathematics of ${name}`);
    }
  }
  for (const span of document.querySelectorAll('span.math')) {
    if (!visible(span) || span.scrollWidth - span.clientWidth <= 1) continue;
    const cs = getComputedStyle(span);
    const mask = cs.maskImage || cs.webkitMaskImage || 'none';
    if (mask === 'none')
      equations.push(`inline formula "${texOf(span)}" is cut with no visible cue (no fading edge)`);
  }
  const boxes = [];
  for (const box of document.querySelectorAll('div.admonition, div.proof, div.exercise, div.solution')) {
    if (!visible(box) || box.parentElement.closest('div.admonition, div.proof')) continue;
    const br = box.getBoundingClientRect();
    for (const el of box.querySelectorAll('*')) {
      if (!visible(el)) continue;
      const r = el.getBoundingClientRect();
      if (r.right <= br.right + 1 && r.left >= br.left - 1) continue;
      let inner = false;
      for (let a = el.parentElement; a && a !== box; a = a.parentElement) if (clips(a)) { inner = true; break; }
      if (inner) continue;
      const title = box.querySelector('.admonition-title');
      boxes.push(`box "${squash(title ? title.textContent : box.className).slice(0, 50)}": `
                 + `<${el.tagName.toLowerCase()}> "${squash(el.textContent).slice(0, 40)}" sticks out by `
                 + `${Math.round(Math.max(r.right - br.right, br.left - r.left))} px`);
      break;
    }
  }
  return {over, width: W, culprits: culprits.slice(0, 5).map(c => c.text), equations, boxes};
}
"""
)


def _list(label: str, items: list[str], limit: int = 12) -> list[str]:
    """One problem listing ``items`` (at most ``limit`` shown), or none."""
    if not items:
        return []
    shown = "\n    ".join(items[:limit])
    more = f"\n    ... and {len(items) - limit} more" if len(items) > limit else ""
    return [f"{len(items)} {label}:\n    {shown}{more}"]


def layout_problems(page, notebook: bool) -> list[str]:
    """Desktop-width problems of an open page (MathJax already waited for)."""
    report = page.evaluate(LAYOUT_REPORT, {"notebook": notebook})
    problems = [report["opening"]] if report["opening"] else []
    for key, label in (
        ("scrollers", f"scrolls sideways at {DESKTOP_WIDTH} px"),
        ("equations", f"display equations too wide at {DESKTOP_WIDTH} px"),
        ("badAlt", "images without a meaningful alternative text"),
    ):
        problems += _list(label, report[key])
    return problems


def phone_problems(page) -> list[str]:
    """Phone-width problems of an open page (MathJax already waited for)."""
    report = page.evaluate(PHONE_REPORT)
    problems = []
    if report["over"] > 1:
        culprits = "\n    ".join(report["culprits"]) or "(no single element found)"
        problems.append(
            f"the page scrolls sideways at {PHONE_WIDTH} px (by {report['over']} px); "
            f"wide elements:\n    {culprits}"
        )
    for key, label in (
        ("equations", f"display equations at {PHONE_WIDTH} px"),
        ("boxes", f"boxes that do not hold their content at {PHONE_WIDTH} px"),
    ):
        problems += _list(label, report[key])
    return problems


# --------------------------------------------------------------------------- reading

# Run at the desktop width once MathJax has typeset the page (issue 19).
READING_REPORT = (
    "async () => {"
    + _JS_COMMON
    + r"""
  // Text of an element without typeset mathematics, scripts and styles.
  const textOf = (root, skip = 'mjx-container, script, style') => {
    let text = '';
    const w = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let n = w.nextNode(); n; n = w.nextNode()) {
      if (!n.parentElement.closest(skip)) text += n.nodeValue;
    }
    return text;
  };

  // 1. Visible code inputs: their share of the article's height, the longest cell.
  const articleHeight = article.getBoundingClientRect().height;
  let codeHeight = 0, codeLines = 0, longest = 0, longestCell = '';
  for (const input of article.querySelectorAll('div.cell_input')) {
    if (!visible(input)) continue;
    codeHeight += input.getBoundingClientRect().height;
    const pre = input.querySelector('pre');
    const n = pre ? pre.textContent.replace(/\n+$/, '').split('\n').length : 0;
    codeLines += n;
    if (n > longest) { longest = n; longestCell = pre ? firstLine(pre) : ''; }
  }

  // 2. Solution content a reader sees before opening the solution: inside the box, or
  //    code cells that follow it directly (their output shows below the closed box).
  const leaks = [];
  const hasVisibleContent = el => {
    for (const e of [el, ...el.querySelectorAll('*')]) {
      if (!visible(e)) continue;
      if (e.matches('img, canvas, svg, video, mjx-container')) return true;
      for (const n of e.childNodes) if (n.nodeType === 3 && n.nodeValue.trim()) return true;
    }
    return false;
  };
  const titleOf = box => box.querySelector(':scope > .admonition-title, :scope > summary');
  const isSolution = box => box.matches('div.solution')
      || /^solution\b/i.test(squash((titleOf(box) || {}).textContent));
  for (const box of article.querySelectorAll('div.admonition, details')) {
    if (!isSolution(box)) continue;
    const title = titleOf(box), name = squash((title || box).textContent).slice(0, 40);
    for (const child of box.children) {
      if (child === title || child.matches('button.toggle-button')) continue;
      if (hasVisibleContent(child)) { leaks.push(`"${name}": ${firstLine(child) || '<' + child.tagName.toLowerCase() + '>'}`); break; }
    }
    for (let next = box.nextElementSibling; next && next.matches('div.cell'); next = next.nextElementSibling) {
      const shown = Array.from(next.querySelectorAll('div.cell_input, div.cell_output')).filter(hasVisibleContent);
      if (shown.length)
        leaks.push(`after "${name}": ${shown.map(e => (e.matches('div.cell_input') ? 'code' : 'output')
                   + ` "${firstLine(e)}"`).join(', ')}`);
    }
  }

  // 3. Figures: a PNG (or JPEG) must have at least twice the pixels it is shown with.
  const lowRes = [];
  let figures = 0;
  for (const img of article.querySelectorAll('div.cell_output img, figure img')) {
    if (!visible(img)) continue;
    figures += 1;
    const src = img.currentSrc || img.src || '';
    if (/\.svg([?#]|$)/i.test(src) || src.startsWith('data:image/svg')) continue;
    const shown = img.getBoundingClientRect().width;
    if (img.naturalWidth < 2 * shown - 2)
      lowRes.push(`${src.split('/').pop().slice(0, 16)}…: ${img.naturalWidth} px shown at `
                  + `${Math.round(shown)} px (${(img.naturalWidth / shown).toFixed(2)}×)`);
  }

  // 4. Glued numbers in the weight of the text around them.
  const boldGlue = [];
  for (const span of article.querySelectorAll('span.pasted-text, span.pasted-inline')) {
    const w = getComputedStyle(span).fontWeight, around = getComputedStyle(span.parentElement).fontWeight;
    if (w !== around) boldGlue.push(`"${squash(span.textContent).slice(0, 30)}" (weight ${w} in text of ${around})`);
  }

  // 5. Raw TeX in link text (anywhere on the page: navigation too).
  const rawTex = /\\[A-Za-z]+|\\[()[\]]|\$/;
  const rawLinks = [];
  for (const a of document.querySelectorAll('a')) {
    const text = squash(textOf(a));
    if (rawTex.test(text)) rawLinks.push(text.slice(0, 70));
  }

  // 6. Citations that are not the page's own numbers: the derivation's "Eq. (16)",
  //    labels such as "Eq. (e-step-gradients)" or "Theorem mstep-a-gibbs", a bare "(16)",
  //    or "Eq. (4.10)" as plain text in an output (a ✓ line cites with a link). Searched
  //    in outputs, captions, headings, box titles and visible code comments.
  const SLUG = '[a-z][a-z0-9]*(?:-[a-z0-9]+)+';
  const named = new RegExp(String.raw`\b(?:Eqs?\.|Equations?|Theorems?|Lemmas?|Propositions?)\s*`
                           + String.raw`(?:\(\s*(?:\d+|${SLUG})\s*\)|(?:\d+|${SLUG})(?![.\w-]))`, 'g');
  const bare = /(?<!derivation['’]s\s)(?<![\w.])\((?:[1-9]|[1-4]\d)\)(?![.\w])/g;
  const unlinked = /\bEqs?\.\s*\(\d+\.\d+\)/g;
  const citations = [];
  const scan = (text, where, withUnlinked) => {
    text = squash(text);
    const found = [...text.matchAll(named)].map(m => m[0]);
    found.push(...[...text.replace(named, ' ').matchAll(bare)].map(m => m[0]));
    if (withUnlinked) found.push(...[...text.matchAll(unlinked)].map(m => m[0] + ' (no link)'));
    for (const f of found) citations.push(`${where}: "${f}" in "${text.slice(0, 60)}"`);
  };
  for (const out of article.querySelectorAll('div.cell_output')) {
    if (!visible(out)) continue;
    scan(textOf(out, 'mjx-container, script, style, a'), 'output', true);
  }
  for (const cap of article.querySelectorAll('figcaption, caption')) {
    if (visible(cap)) scan(textOf(cap, 'mjx-container, script, style, a, span.caption-number'), 'caption', true);
  }
  for (const h of article.querySelectorAll('h1, h2, h3, h4, h5, h6, .admonition-title')) {
    if (visible(h)) scan(textOf(h, 'mjx-container, script, style, a.headerlink'), 'heading', false);
  }
  for (const pre of article.querySelectorAll('div.highlight pre')) {
    if (!visible(pre) || pre.closest('div.cell_output')) continue;
    const comments = Array.from(pre.querySelectorAll('span.c, span.c1, span.ch, span.cm, span.cs'))
                          .map(c => c.textContent).join(' ');
    const plain = pre.closest('div.highlight-text, div.highlight-none, div.highlight-default') ? pre.textContent : '';
    scan(comments + ' ' + plain, 'code comment', false);
  }

  return {
    articleHeight: Math.round(articleHeight), codeHeight: Math.round(codeHeight),
    codeShare: articleHeight > 0 ? codeHeight / articleHeight : 0, codeLines,
    longest, longestCell, leaks, figures, lowRes, boldGlue, rawLinks, citations,
  };
}
"""
)


def reading_report(page) -> dict:
    """The issue-19 measurements of an open page at DESKTOP_WIDTH (MathJax waited for)."""
    return page.evaluate(READING_REPORT)


def reading_problems(report: dict) -> list[str]:
    """What in a reading report misses the targets of issue 19, one entry per check."""
    problems = []
    if report["codeShare"] > MAX_CODE_SHARE:
        problems.append(
            f"visible code takes {report['codeShare']:.0%} of the page's height "
            f"(at most {MAX_CODE_SHARE:.0%}): {report['codeHeight']} of "
            f"{report['articleHeight']} px, {report['codeLines']} lines"
        )
    if report["longest"] > MAX_VISIBLE_CELL_LINES:
        problems.append(
            f"a visible code cell has {report['longest']} lines (at most "
            f'{MAX_VISIBLE_CELL_LINES}): "{report["longestCell"]}"'
        )
    for key, label in (
        ("leaks", "pieces of solutions visible before the reader opens them"),
        ("lowRes", "figures below 2× resolution"),
        ("boldGlue", "glued numbers not in the weight of their text"),
        ("rawLinks", "links whose text is raw TeX"),
        ("citations", "citations that are not the page's linked numbers"),
    ):
        problems += _list(label, report[key], limit=8)
    return problems


#: Rows of the reading table, by page, filled by the browser test of the book; printed
#: at the end of the run (tests/conftest.py) and written next to the build.
READING_TABLE: dict[str, tuple[str, ...]] = {}

READING_COLUMNS = (
    "page",
    "height (px)",
    "visible code",
    "longest cell",
    "solution leaks",
    "figures < 2×",
    "bold glue",
    "raw-TeX links",
    "citations",
)


def reading_row(page_rel: str, report: dict) -> tuple[str, ...]:
    """One row of the per-page table of reading measurements."""
    return (
        page_rel,
        f"{report['articleHeight']:,}",
        f"{report['codeShare']:.0%}",
        str(report["longest"]),
        str(len(report["leaks"])),
        f"{len(report['lowRes'])} of {report['figures']}",
        str(len(report["boldGlue"])),
        str(len(report["rawLinks"])),
        str(len(report["citations"])),
    )


def markdown_table(columns, rows) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
