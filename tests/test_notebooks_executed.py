"""The committed chapter notebooks must be fully executed, in order, without errors.

nbval only compares a cell whose stored copy was executed: a notebook saved without
outputs would pass strict nbval while checking nothing. These tests close that gap.
"""

from __future__ import annotations

import re

import pytest

from _book_sources import notebooks, read_notebook, rel

NOTEBOOKS = notebooks()
# "<matplotlib.lines.Line2D at 0x7f3a...>": differs on every run, so nbval would fail.
_ADDRESS = re.compile(r"\bat 0x[0-9a-fA-F]{6,}")

if NOTEBOOKS:
    PARAMS = [pytest.param(p, id=rel(p)) for p in NOTEBOOKS]
else:
    PARAMS = [pytest.param(None, marks=pytest.mark.skip(reason="no notebooks under book/ yet"))]


def _code_cells(nb):
    return [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]


def _output_text(output) -> str:
    if output.get("output_type") == "stream":
        return "".join(output.get("text", ""))
    data = output.get("data", {})
    text = data.get("text/plain", "")
    return "".join(text) if isinstance(text, list) else str(text)


@pytest.mark.parametrize("path", PARAMS)
def test_has_code_cells(path):
    assert _code_cells(read_notebook(path)), f"{rel(path)} has no code cells"


@pytest.mark.parametrize("path", PARAMS)
def test_every_code_cell_executed(path):
    missing = [i for i, c in _code_cells(read_notebook(path)) if c.get("execution_count") is None]
    assert not missing, (
        f"{rel(path)}: code cells {missing} (0-based cell index) have no execution_count. "
        "Remove empty code cells, then re-execute and save the whole notebook (see README)."
    )


@pytest.mark.parametrize("path", PARAMS)
def test_executed_in_order(path):
    counts = [c.get("execution_count") for _, c in _code_cells(read_notebook(path))]
    expected = list(range(1, len(counts) + 1))
    assert counts == expected, (
        f"{rel(path)}: execution counts {counts} are not 1..{len(counts)}; "
        "restart the kernel and run all cells top to bottom once (see README)."
    )


@pytest.mark.parametrize("path", PARAMS)
def test_no_error_outputs(path):
    errors = [
        (i, f"{o.get('ename')}: {o.get('evalue')}")
        for i, c in _code_cells(read_notebook(path))
        for o in c.get("outputs", [])
        if o.get("output_type") == "error"
    ]
    assert not errors, f"{rel(path)}: cells with error outputs (index, error): {errors}"


@pytest.mark.parametrize("path", PARAMS)
def test_no_memory_addresses_in_outputs(path):
    bad = [
        i
        for i, c in _code_cells(read_notebook(path))
        if "nbval-ignore-output" not in c.get("metadata", {}).get("tags", [])
        and any(_ADDRESS.search(_output_text(o)) for o in c.get("outputs", []))
    ]
    assert not bad, (
        f"{rel(path)}: cells {bad} print a memory address ('at 0x...'), which changes on "
        "every run and breaks strict nbval. End plotting cells with plt.show() (or `;`), "
        "or tag the cell nbval-ignore-output."
    )


@pytest.mark.parametrize("path", PARAMS)
def test_no_saved_widget_state(path):
    assert "widgets" not in read_notebook(path).metadata, (
        f"{rel(path)}: saved ipywidgets state (random model ids; myst-nb would load widget "
        "JavaScript from a CDN for it). Re-save with `make notebooks`, which drops it."
    )
