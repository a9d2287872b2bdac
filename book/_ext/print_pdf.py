"""Print the built HTML book to one PDF, without TeX: ``make pdf``.

    python book/_ext/print_pdf.py _build/html

Serves the HTML build on 127.0.0.1 and opens every page of ``_toc.yml``, in order, in
headless Chromium (Debian's ``/usr/bin/chromium`` through Playwright; every request
that is not for the local server is blocked). Once MathJax has typeset a page and its
fonts and images have loaded, the page is printed with the browser's print layout
(A4). pypdf joins the pages into ``<html>/baum-welch.pdf``, one bookmark per page of
the book, where the intro's link finds it. Collapsed code and closed solutions stay
closed in print, as on screen.
"""

from __future__ import annotations

import argparse
import functools
import html
import http.server
import re
import sys
import tempfile
import threading
from pathlib import Path

PDF_NAME = "baum-welch.pdf"
# Debian's Chromium (never `playwright install`); as root it needs --no-sandbox, and on a
# closed network nothing in the background should try to reach out.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
_TITLE = re.compile(r"<title>(.*?)(?: &#8212; .*)?</title>", re.DOTALL)
# Run in each page: wait for MathJax and the images, and report a failed formula.
_READY = """
async () => {
  const mj = window.MathJax;
  if (mj && mj.startup && mj.startup.promise) await mj.startup.promise;
  await document.fonts.ready;
  await Promise.all(Array.from(document.images).map(i => i.decode().catch(() => null)));
  return document.querySelectorAll('mjx-merror, [data-mjx-error]').length;
}
"""


def toc_pages(root: Path) -> list[str]:
    """The pages of ``_toc.yml`` in reading order, relative to the HTML build."""
    import yaml

    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    pages = [toc["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                pages.append(node["file"])
            for key, value in node.items():
                if key != "file":
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc.get("parts", toc.get("chapters", [])))
    return [str(Path(page).with_suffix("")) + ".html" for page in pages]


def page_title(html_file: Path) -> str:
    """The page's title as the browser tab shows it, without the book's name."""
    found = _TITLE.search(html_file.read_text(encoding="utf-8"))
    if found is None:
        raise SystemExit(f"print_pdf: {html_file} has no <title>")
    return html.unescape(found.group(1)).strip()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


def print_book(html_dir: Path, root: Path) -> Path:
    """Print every page of the book in ``html_dir``, join them; return the PDF."""
    from playwright.sync_api import sync_playwright
    from pypdf import PdfReader, PdfWriter

    pages = toc_pages(root)
    missing = [p for p in pages if not (html_dir / p).is_file()]
    if missing:
        raise SystemExit(f"print_pdf: pages not built (run `make book`): {missing}")
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(html_dir))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    writer = PdfWriter()
    try:
        with sync_playwright() as pw, tempfile.TemporaryDirectory() as tmp:
            browser = pw.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
            )
            context = browser.new_context(
                viewport={"width": 1000, "height": 1400}, service_workers="block"
            )
            context.route(
                "**/*",
                lambda r: (
                    r.continue_() if r.request.url.startswith(base) else r.abort()
                ),
            )
            for number, page_rel in enumerate(pages):
                page = context.new_page()
                page.goto(base + page_rel, wait_until="load")
                if page.evaluate(_READY):
                    raise SystemExit(
                        f"print_pdf: MathJax failed on a formula of {page_rel}"
                    )
                part = Path(tmp) / f"{number:03d}.pdf"
                page.pdf(
                    path=str(part),
                    format="A4",
                    print_background=True,
                    margin={
                        "top": "15mm",
                        "bottom": "15mm",
                        "left": "12mm",
                        "right": "12mm",
                    },
                )
                page.close()
                first = len(writer.pages)
                writer.append(PdfReader(part))
                writer.add_outline_item(
                    title=page_title(html_dir / page_rel), page_number=first
                )
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
    writer.add_metadata({"/Title": page_title(html_dir / pages[0])})
    target = html_dir / PDF_NAME
    with target.open("wb") as out:
        writer.write(out)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html", type=Path, help="the HTML build, e.g. _build/html")
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        raise SystemExit(f"print_pdf: {CHROMIUM} not found (`make setup` installs it)")
    root = Path(__file__).resolve().parents[2]
    target = print_book(args.html.resolve(), root)
    print(f"PDF: {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
