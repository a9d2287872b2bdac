"""The machinery of issue 19, proven on a demonstration page before the chapters use it.

``tests/fixtures/demo_book/demo.ipynb`` uses every helper of ``book/booktools.py`` the way
a chapter will: a ✓ line citing an equation, collapsed check cells, a labelled SymPy
display, glued numbers (text and mathematics), open teaching code, a retina figure, an
animation, a theorem with a wide equation, and an exercise whose gated solution holds a
reference solution and a grading cell. ``tests/_demo_book.py`` builds it with the book's
own ``_config.yml`` and flags (``-W -n``) in a temporary folder. Then:

- the page passes every check the book's pages must pass (layout at 1400 px, phone at
  390 px, the reading measurements of issue 19);
- it renders as intended: the ✓ line is visible, styled, and links to "(1.1)" while its
  code is collapsed; the exercise is "Exercise 1.1"; nothing of the solution shows until
  the reader opens it, and then its code and grading output do; the figure has 2× pixels;
  the animation has an alternative text and its buttons change the frame; glued numbers
  are in the text's weight and glued mathematics is typeset;
- a second execution of the notebook gives the same outputs as the build's (what strict
  nbval compares, animation HTML included).

Screenshots of the page at both widths are saved in ``_build/screenshots/demo-*.png``.
"""

from __future__ import annotations

import copy
import shutil

import nbformat
import pytest
from _book_sources import ROOT
from _browser import (
    CHROMIUM,
    DESKTOP_WIDTH,
    PHONE_WIDTH,
    WAIT_MATHJAX,
    chromium,
    layout_problems,
    open_page,
    phone_problems,
    reading_problems,
    reading_report,
    serving,
)
from _demo_book import DEMO_PAGE, FIXTURE, build_demo_book

SCREENSHOTS = ROOT / "_build" / "screenshots"


@pytest.fixture(scope="module")
def demo_html(tmp_path_factory):
    return build_demo_book(tmp_path_factory.mktemp("demo-book"))


@pytest.fixture(scope="module")
def demo_site(demo_html, tmp_path_factory):
    if not CHROMIUM.exists():
        pytest.skip(
            f"{CHROMIUM} not found: install Debian's chromium (`make setup` does it)"
        )
    with chromium(tmp_path_factory.mktemp("chromium-profile")) as browser:
        with serving(browser, demo_html) as site:
            yield site
        assert not browser.blocked, (
            f"the demo page reached for the network: {browser.blocked}"
        )


def _open(site, width, height=1000):
    page, errors = open_page(site, DEMO_PAGE, width=width, height=height)
    page.evaluate(WAIT_MATHJAX)
    return page, errors


def test_demo_passes_the_books_checks(demo_site):
    page, errors = _open(demo_site, DESKTOP_WIDTH)
    try:
        problems = layout_problems(page, notebook=True)
        report = reading_report(page)
        problems += reading_problems(report)
        page.screenshot(path=str(SCREENSHOTS / "demo-1400.png"), full_page=True)
    finally:
        page.close()
    page, phone_errors = _open(demo_site, PHONE_WIDTH, 844)
    try:
        problems += phone_problems(page)
        page.screenshot(path=str(SCREENSHOTS / "demo-390.png"), full_page=True)
    finally:
        page.close()
    assert not problems, "\n".join(problems)
    assert not errors + phone_errors, f"JavaScript errors: {errors + phone_errors}"
    # what the demo holds, so that the checks above had something to check
    assert report["figures"] == 2 and report["codeLines"] > 0, report


_CHECK_LINE = r"""
() => {
  const line = Array.from(document.querySelectorAll('div.cell_output p'))
                    .find(p => p.querySelector(':scope > span.check-mark'));
  if (!line) return null;
  const cell = line.closest('div.cell');
  const input = cell.querySelector('div.cell_input');
  const link = line.querySelector('a[href="#equation-demo-likelihood"]');
  const cs = getComputedStyle(line);
  return {
    text: line.textContent.replace(/\s+/g, ' ').trim(),
    linkText: link && link.textContent,
    linkVisible: !!link && link.getBoundingClientRect().height > 0,
    lineHeight: line.getBoundingClientRect().height,
    inputShown: !!input && input.checkVisibility(),
    toggle: cell.querySelector('details.above-input > summary').textContent.replace(/\s+/g, ' ').trim(),
    ruled: cs.borderLeftStyle === 'solid' && parseFloat(cs.borderLeftWidth) >= 2,
    weight: cs.fontWeight,
  };
}
"""


def test_check_line_links_its_equation_and_its_code_is_collapsed(demo_site):
    page, _ = _open(demo_site, DESKTOP_WIDTH)
    try:
        line = page.evaluate(_CHECK_LINE)
    finally:
        page.close()
    assert line is not None, "no ✓ line (a paragraph with span.check-mark) in an output"
    assert line["text"].startswith("✓ (1.1) summed over all 16 paths"), line
    assert line["linkText"] == "(1.1)" and line["linkVisible"], line
    assert not line["inputShown"], "the check cell's code is not collapsed"
    assert line["toggle"].startswith("Show code"), line
    assert line["ruled"] and line["weight"] == "400", line
    assert line["lineHeight"] < 60, (
        f"the ✓ line is not compact: {line['lineHeight']} px"
    )


_SOLUTION = r"""
() => {
  const shown = el => el.getBoundingClientRect().height > 0
                      && el.checkVisibility({opacityProperty: true, visibilityProperty: true});
  const exercise = document.querySelector('div.exercise');
  const solution = document.querySelector('div.solution');
  const cells = Array.from(solution.querySelectorAll('div.cell'));
  return {
    exerciseTitle: exercise.querySelector('.admonition-title').textContent.trim(),
    solutionTitle: solution.querySelector('.admonition-title').textContent.replace(/\s+/g, ' ').trim(),
    cells: cells.length,
    inputsShown: cells.filter(c => c.querySelector('div.cell_input') && shown(c.querySelector('div.cell_input'))).length,
    outputsShown: cells.filter(c => c.querySelector('div.cell_output') && shown(c.querySelector('div.cell_output'))).length,
    grade: (solution.querySelector('div.cell_output p') || {}).textContent || '',
  };
}
"""


def test_solution_hides_its_code_and_output_until_opened(demo_site):
    page, _ = _open(demo_site, DESKTOP_WIDTH)
    try:
        before = page.evaluate(_SOLUTION)
        page.locator("div.solution .admonition-title").first.click()
        page.wait_for_timeout(500)  # the toggle's transition
        after = page.evaluate(_SOLUTION)
    finally:
        page.close()
    assert before["exerciseTitle"] == "Exercise 1.1", before
    assert before["solutionTitle"] == "Solution to Exercise 1.1", before
    assert before["cells"] == 2, (
        "the solution's code cells are not inside it (gated directives)"
    )
    assert (before["inputsShown"], before["outputsShown"]) == (0, 0), before
    assert (after["inputsShown"], after["outputsShown"]) == (2, 1), after
    assert (
        "`normalise_rows` agrees with" not in after["grade"]
    )  # code spans render as code
    assert after["grade"].startswith("✓ normalise_rows agrees with"), after


_FIGURES = r"""
() => {
  const figures = Array.from(document.querySelectorAll('figure'));
  const paste = document.querySelector('span.pasted-text');
  const anim = document.querySelector('img[id^="_anim_img"]');
  return {
    captions: figures.map(f => f.querySelector('figcaption').textContent.replace(/\s+/g, ' ').trim()),
    png: (() => { const i = figures[0].querySelector('img');
                  return [i.naturalWidth, i.getBoundingClientRect().width, i.naturalHeight,
                          i.getBoundingClientRect().height]; })(),
    pasteWeight: getComputedStyle(paste).fontWeight,
    paragraphWeight: getComputedStyle(paste.parentElement).fontWeight,
    gluedMath: paste.parentElement.querySelectorAll('mjx-container').length,
    animAlt: anim.getAttribute('alt'),
    animSrc: anim.src.slice(-40),
  };
}
"""


def test_figure_animation_and_glue_render_as_intended(demo_site):
    page, _ = _open(demo_site, DESKTOP_WIDTH)
    try:
        found = page.evaluate(_FIGURES)
        page.locator('button[title="Next frame"]').first.click()
        page.wait_for_timeout(200)
        next_src = page.evaluate(
            "document.querySelector('img[id^=\"_anim_img\"]').src.slice(-40)"
        )
    finally:
        page.close()
    assert [c[:8] for c in found["captions"]] == ["Fig. 1.1", "Fig. 1.2"], found[
        "captions"
    ]
    natural_w, shown_w, natural_h, shown_h = found["png"]
    assert natural_w >= 2 * shown_w - 2 and shown_w <= 768, found["png"]
    assert abs(natural_w / natural_h - shown_w / shown_h) < 0.02, (
        "the figure is distorted"
    )
    assert found["pasteWeight"] == found["paragraphWeight"] == "400", found
    assert found["gluedMath"] >= 1, "glued mathematics was not typeset"
    assert found["animAlt"].startswith("A standard normal density sliding"), found
    assert next_src != found["animSrc"], (
        "the animation's Next frame button did not change the frame"
    )


def _execute(folder):
    from nbclient import NotebookClient

    nb = nbformat.read(FIXTURE / "demo.ipynb", as_version=4)
    NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(folder)}},
    ).execute()
    return nb


def _compared(nb):
    """What strict nbval compares: every output but PNG/JPEG images, without metadata.
    Glue records are left out: myst-nb moves them out of the notebook it keeps."""
    outputs = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if data and all(
                m.startswith("application/papermill.record/") for m in data
            ):
                continue
            output = copy.deepcopy(output)
            output.pop("metadata", None)
            output.pop("execution_count", None)
            for mime in ("image/png", "image/jpeg"):
                output.get("data", {}).pop(mime, None)
            outputs.append(output)
    return outputs


def test_demo_notebook_is_deterministic(demo_html, tmp_path, monkeypatch):
    """The book build's execution (myst-nb keeps it in _build/jupyter_execute) and a fresh
    one give the same outputs: what strict nbval will require of the chapters."""
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.setenv(name, "1")
    built = nbformat.read(
        demo_html.parent / "jupyter_execute" / "book" / "demo.ipynb", 4
    )
    shutil.copy2(ROOT / "book" / "booktools.py", tmp_path / "booktools.py")
    first, second = _compared(built), _compared(_execute(tmp_path))
    assert any("text/html" in o.get("data", {}) for o in first), (
        "the demo shows no animation"
    )
    assert any("text/markdown" in o.get("data", {}) for o in first), (
        "the demo shows no ✓ line"
    )
    assert first == second, "two executions of the demo notebook differ"
