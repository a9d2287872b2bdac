"""Shared fixtures, and the table of reading measurements at the end of a run."""

import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(20261122)


def pytest_terminal_summary(terminalreporter):
    """Print (and save) the per-page reading measurements of tests/test_book_browser.py."""
    import sys

    browser = sys.modules.get("_browser")
    if browser is None or not browser.READING_TABLE:
        return
    rows = [browser.READING_TABLE[page] for page in sorted(browser.READING_TABLE)]
    table = browser.markdown_table(browser.READING_COLUMNS, rows)
    terminalreporter.write_sep("=", "reading measurements at 1400 px (issue 19)")
    terminalreporter.write_line(
        f"targets: visible code <= {browser.MAX_CODE_SHARE:.0%} of the page height, "
        f"cells <= {browser.MAX_VISIBLE_CELL_LINES} lines, every other column 0"
    )
    terminalreporter.write_line(table)
    book_test = sys.modules.get("test_book_browser")
    if book_test is not None and book_test.HTML.is_dir():
        target = book_test.HTML.parent / "reading-measurements.md"
        target.write_text(table + "\n", encoding="utf-8")
        terminalreporter.write_line(f"(saved in {target})")
