"""Shared fixtures, and the table of reading measurements at the end of a run."""

import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(20261122)


#: Rows of the reading table by page: the ``reading_row`` property of
#: test_book_browser.py's reports (they reach this process from pytest-xdist's workers).
_READING_ROWS: dict[str, tuple[str, ...]] = {}


def pytest_runtest_logreport(report):
    for name, row in report.user_properties:
        if name == "reading_row":
            _READING_ROWS[row[0]] = tuple(row)


def pytest_terminal_summary(terminalreporter):
    """Print (and save) the per-page reading measurements of tests/test_book_browser.py."""
    if not _READING_ROWS:
        return
    import _browser
    from _book_sources import ROOT

    rows = [_READING_ROWS[page] for page in sorted(_READING_ROWS)]
    table = _browser.markdown_table(_browser.READING_COLUMNS, rows)
    terminalreporter.write_sep("=", "reading measurements at 1400 px (issue 19)")
    terminalreporter.write_line(
        f"targets: visible code <= {_browser.MAX_CODE_SHARE:.0%} of the page height, "
        f"cells <= {_browser.MAX_VISIBLE_CELL_LINES} lines, every other column 0"
    )
    terminalreporter.write_line(table)
    target = ROOT / "_build" / "reading-measurements.md"
    if target.parent.is_dir():
        target.write_text(table + "\n", encoding="utf-8")
        terminalreporter.write_line(f"(saved in {target})")
