"""The book's shared notebook helpers: one module, imported by every chapter.

Chapters run with ``book/`` as their working directory, so ``import booktools`` works in
them (and in Jupyter started from ``book/``); ``hmmcore`` is the installed library. This
module holds what the chapters would otherwise repeat: the setup, the ✓ lines, labelled
SymPy displays, glued numbers, graders for exercises, and animations. The authoring
conventions (README, section "Writing a chapter") in brief:

- **Setup.** The first code cell (tag ``remove-input``) imports what the chapter uses
  and calls :func:`setup_notebook`.
- **✓ lines.** A check cell is tagged ``hide-input``: its code is one click away and
  its last output, :func:`check`, stays visible as a compact line that cites the
  equation it checked with :func:`eq`, which renders as a link showing the number
  printed on the page, e.g. ``check(f"{eq('seed-16')} holds at every $t$ (K = 3)")``.
- **SymPy.** :func:`show_equality` shows both sides of an identity, each under a LaTeX
  label, and fails if they differ.
- **Numbers in prose.** :func:`glue_number` pastes a value in the one format of its
  kind (``{glue:text}`name```); :func:`glue_math` pastes a formula as inline
  mathematics (``{glue}`name```).
- **Figures** are column-wide by default (:func:`figsize`), at 2× resolution, with
  text of at least 10 px on screen at a 1400 px window.
- **Animations**: :func:`animation_html`, offline and deterministic.
- **Exercises**: sphinx-exercise, "Exercise c.n"; a solution with code uses the gated
  ``solution-start`` / ``solution-end`` directives (``:class: dropdown``) so that its
  cells are folded with it. **Graded exercises**: :func:`grade` runs a reader's
  function against an oracle (brute force, finite differences, hmmlearn) on named
  cases and says which case fails, and by how much; in the book it grades the
  reference solution.
- **Chapter references**: ``{numref}`Chapter {number} ({name}) <chapter-label>```;
  **key points**: ``:::{admonition} Key points`` with ``:class: key-points``; headings
  hold no mathematics; states are numbered 1 to K (or named) wherever a reader sees
  them.
"""

from __future__ import annotations

import html
import logging
import math as _math
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "COLUMN_WIDTH_PX",
    "FIGURE_DPI",
    "FIGURE_WIDTH_PX",
    "NUMBER_FORMATS",
    "GradingError",
    "animation_html",
    "check",
    "eq",
    "figsize",
    "format_number",
    "glue_math",
    "glue_number",
    "grade",
    "setup_notebook",
    "show_equality",
]

#: Width in CSS pixels of a cell output at a 1400 px window (sphinx-book-theme 1.3: the
#: article's 784 px text column less the output's padding).
COLUMN_WIDTH_PX = 768
#: Pixels per inch of a figure at 1×; retina output doubles it in the PNG.
FIGURE_DPI = 96
#: Width of a column-wide figure at 1×: the notebook saves figures with a tight bounding
#: box, which adds a little padding, so the saved image is just under the column.
FIGURE_WIDTH_PX = COLUMN_WIDTH_PX - 12
#: Font size in points: 10.5 pt at 96 dpi is 14 px on screen in a column-wide figure.
FONT_SIZE_PT = 10.5
#: Smallest text a figure shows, in points (tick labels and legends are "small").
SMALLEST_FONT_PT = 9.0

_RC_PARAMS = {
    "figure.dpi": FIGURE_DPI,
    "figure.figsize": (
        FIGURE_WIDTH_PX / FIGURE_DPI,
        0.5 * FIGURE_WIDTH_PX / FIGURE_DPI,
    ),
    "figure.constrained_layout.use": True,
    "savefig.dpi": "figure",
    "font.size": FONT_SIZE_PT,
    "axes.titlesize": FONT_SIZE_PT + 1,
    "axes.labelsize": FONT_SIZE_PT,
    "xtick.labelsize": SMALLEST_FONT_PT + 0.5,
    "ytick.labelsize": SMALLEST_FONT_PT + 0.5,
    "legend.fontsize": SMALLEST_FONT_PT + 0.5,
    "legend.title_fontsize": SMALLEST_FONT_PT + 0.5,
    "figure.titlesize": FONT_SIZE_PT + 1,
    # SVG output (if a chapter asks for it) must not change between runs (nbval).
    "svg.hashsalt": "baum-welch-book",
    "svg.fonttype": "none",
}


# ------------------------------------------------------------------------------ setup


def setup_notebook(*, quiet_loggers: Iterable[str] = ()) -> None:
    """Set up a chapter: printing, figures at 2× resolution, quiet loggers.

    - NumPy prints 4 decimals and no scientific notation for small numbers
      (``precision=4, suppress=True``); pandas shows 4 decimals.
    - Matplotlib figures are column-wide (:data:`FIGURE_WIDTH_PX` at
      :data:`FIGURE_DPI`), half as tall as wide, with constrained layout, and text of
      at least :data:`SMALLEST_FONT_PT` points (12 px at 1×); the notebook shows them as
      retina PNG (twice the pixels, displayed at 1× size).
    - ``quiet_loggers``: loggers (e.g. ``"hmmlearn"``) raised to ERROR, for chapters
      whose cells measure and report what those loggers would print.

    Call it once, in the chapter's first (setup) cell, after the imports.
    """
    import matplotlib as mpl

    np.set_printoptions(precision=4, suppress=True)
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is in requirements.txt
        pass
    else:
        pd.set_option("display.precision", 4)
    mpl.rcParams.update(_RC_PARAMS)
    _use_retina_figures()
    for name in quiet_loggers:
        logging.getLogger(name).setLevel(logging.ERROR)


def _use_retina_figures() -> None:
    """Inline figures as PNG at twice the pixels, shown at 1× (IPython only)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is in requirements.txt
        return
    shell = get_ipython()
    if shell is None:
        return  # plain Python (a script or a test): nothing to display figures
    from matplotlib_inline.backend_inline import set_matplotlib_formats

    set_matplotlib_formats("retina")


def figsize(height_ratio: float = 0.5, width: float = 1.0) -> tuple[float, float]:
    """A figure size in inches: ``width`` of the column, ``height_ratio`` times as tall.

    ``figsize(0.4)`` is a column-wide figure 0.4 times as tall as wide;
    ``figsize(1, 0.6)`` a square figure 60 % of the column wide. A figure wider than
    the column is shrunk on the page, and its text with it: ``width`` is at most 1.
    """
    if not 0 < width <= 1:
        raise ValueError(
            f"width must be a fraction of the column in (0, 1], got {width!r}"
        )
    if not height_ratio > 0:
        raise ValueError(f"height_ratio must be positive, got {height_ratio!r}")
    inches = width * FIGURE_WIDTH_PX / FIGURE_DPI
    return (inches, height_ratio * inches)


# -------------------------------------------------------------------------- ✓ lines


def eq(label: str, *, derivation: bool = False) -> str:
    """A MyST reference to the equation ``label``: renders as its page number, a link.

    ``eq("seed-16")`` renders as "(4.10)"; with ``derivation=True`` (only for the
    derivation's labels ``seed-N``) as "(4.10), the derivation's (16)".
    """
    if not isinstance(label, str) or not re.fullmatch(r"[A-Za-z0-9][\w.-]*", label):
        raise ValueError(
            f"label must be an equation label such as 'seed-16', got {label!r}"
        )
    reference = f"{{eq}}`{label}`"
    if not derivation:
        return reference
    seed = re.fullmatch(r"seed-(\d+)", label)
    if seed is None:
        raise ValueError(
            f"derivation=True needs a label of the derivation, 'seed-N', got {label!r}"
        )
    return f"{reference}, the derivation's ({seed.group(1)})"


def check(statement: str) -> None:
    """Show a ✓ line: ``statement`` (MyST: may hold ``{eq}`` references and ``$math$``).

    Call it after the assertions of a check cell; it states exactly what the cell
    checked. The book renders Markdown outputs as MyST (``_config.yml``:
    ``nb_render_markdown_format: myst``), so :func:`eq` references become links; the
    ``check-mark`` span styles the line (``book/_static/readable.css``).
    """
    from IPython.display import Markdown, display

    statement = statement.strip()
    if not statement:
        raise ValueError("statement must say what was checked, got an empty string")
    if "\n" in statement:
        raise ValueError("statement must be one line (a ✓ line), got several")
    display(Markdown(f'<span class="check-mark">✓</span> {statement}'))


# ---------------------------------------------------------------------------- SymPy


def show_equality(lhs, rhs, lhs_label: str, rhs_label: str, *, terms_per_line: int = 0):
    """Show ``lhs`` and ``rhs`` (SymPy), each after its LaTeX label; fail if unequal.

    Displays, aligned on the equals signs::

        lhs_label = latex(lhs)
        rhs_label = latex(rhs)

    e.g. ``show_equality(gradient, -(M + M.T) * (x - mu),
    r"\\frac{\\partial}{\\partial\\mu} (x-\\mu)^\\top M (x-\\mu)",
    r"-(M + M^\\top)(x-\\mu)")``:
    each label says what its side is (an operation, a formula of the text, "sum over all
    8 paths"), never a SymPy symbol's name. With ``terms_per_line`` > 0 a
    long sum is broken after that many terms. Raises ``AssertionError`` (after showing
    both sides) unless ``sympy.simplify(lhs - rhs)`` is zero.
    """
    import sympy as sp
    from IPython.display import Math, display

    for name, label in (("lhs_label", lhs_label), ("rhs_label", rhs_label)):
        if not isinstance(label, str) or not label.strip():
            raise ValueError(
                f"{name} must be a LaTeX label of that side, got {label!r}"
            )
    rows = _latex_rows(lhs_label, lhs, terms_per_line) + _latex_rows(
        rhs_label, rhs, terms_per_line
    )
    display(Math(r"\begin{aligned}" + r" \\ ".join(rows) + r"\end{aligned}"))
    difference = sp.simplify(sp.sympify(lhs) - sp.sympify(rhs))
    equal = (
        difference.is_zero_matrix
        if isinstance(difference, sp.MatrixBase)
        else (difference == 0)
    )
    if equal is not True:
        raise AssertionError(
            f"the two sides differ: ({lhs_label}) - ({rhs_label}) "
            f"simplifies to {difference}"
        )


def _latex_rows(label: str, expr, terms_per_line: int) -> list[str]:
    import sympy as sp

    expr = sp.sympify(expr)
    if terms_per_line > 0 and isinstance(expr, sp.Add):
        terms = [sp.latex(term) for term in expr.as_ordered_terms()]
    else:
        terms = [sp.latex(expr)]
        terms_per_line = 1
    lines = []
    for start in range(0, len(terms), terms_per_line):
        text = ""
        for term in terms[start : start + terms_per_line]:
            text += (
                term if not text else (" " if term.startswith("-") else " + ") + term
            )
        lines.append(text)
    rows = [f"{label} &= {lines[0]}"]
    rows += [
        r"&\quad " + ("" if line.startswith("-") else "+ ") + line for line in lines[1:]
    ]
    return rows


# ------------------------------------------------------------------- glued numbers

#: The one format of each kind of number in the book: kind -> format spec.
#: A kind missing here is added here, so that one quantity never shows two precisions.
NUMBER_FORMATS: dict[str, str] = {
    "count": ",d",  # 69,735,688,020 paths; 5,000 days
    "integer": "d",  # T = 300; 2018
    "probability": ".4f",  # 0.9821
    "log-likelihood": ".2f",  # -508.64
    "rate": ".4f",  # EM's linear rate 0.4386
    "estimate": ".3f",  # a fitted parameter, e.g. a mean
    "ratio": ".2f",  # 12.91 times as likely
    "percent": ".1f",  # 68.3 (the text adds "%")
    "small": ".1e",  # differences, tolerances: 1.2 × 10⁻¹⁰
}

_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def format_number(value, kind: str, *, math: bool = False) -> str:
    """``value`` in the book's one format for a ``kind`` of number (NUMBER_FORMATS).

    ``format_number(-508.63592, "log-likelihood")`` is ``"−508.64"`` (a minus sign);
    ``format_number(1.2e-10, "small")`` is ``"1.2 × 10⁻¹⁰"``, and with ``math=True``
    ``"1.2 \\times 10^{-10}"`` for use inside ``$…$``.
    """
    if kind not in NUMBER_FORMATS:
        raise ValueError(f"kind must be one of {sorted(NUMBER_FORMATS)}, got {kind!r}")
    spec = NUMBER_FORMATS[kind]
    if spec.endswith("d"):
        if isinstance(value, float) and not value.is_integer():
            raise ValueError(f"a {kind} must be a whole number, got {value!r}")
        text = format(int(value), spec)
    else:
        value = float(value)
        if not _math.isfinite(value):
            raise ValueError(f"value must be finite, got {value!r}")
        text = format(value, spec)
    if "e" in text:
        mantissa, exponent = text.split("e")
        exponent = str(int(exponent))
        if math:
            return rf"{mantissa} \times 10^{{{exponent}}}"
        text = f"{mantissa} × 10{exponent.translate(_SUPERSCRIPT)}"
    if math:
        return text.replace(",", "{,}")
    return text.replace("-", "−")


def glue_number(name: str, value, kind: str) -> None:
    """Glue ``value`` formatted as a ``kind`` of number, for ``{glue:text}`name```.

    The prose adds no format spec: the format belongs to the kind of quantity
    (:data:`NUMBER_FORMATS`), so a quantity reads the same on every page. The book sets
    glued text in the body's weight (``book/_static/readable.css``).
    """
    from myst_nb import glue

    glue(name, format_number(value, kind), display=False)


def glue_math(name: str, tex: str) -> None:
    """Glue inline mathematics for ``{glue}`name``` in prose, typeset as ``$tex$``.

    For values that belong to a formula: ``glue_math("K_eq", f"K = {K}")`` and in the
    text "a model with {glue}`K_eq` states", so that "K = 3" is one formula.
    Build its numbers with ``format_number(value, kind, math=True)``.
    """
    from IPython.display import Latex
    from myst_nb import glue

    if not isinstance(tex, str) or not tex.strip() or "$" in tex:
        raise ValueError(f"tex must be LaTeX without $ delimiters, got {tex!r}")
    glue(name, Latex(f"${tex}$"), display=False)


# ------------------------------------------------------------------------ grading


class GradingError(AssertionError):
    """A graded function disagreed with the oracle (or failed) on at least one case."""


def grade(
    candidate: Callable,
    oracle: Callable,
    cases: Mapping[str, tuple | Mapping[str, Any]],
    *,
    against: str,
    rtol: float = 1e-9,
    atol: float = 1e-12,
) -> None:
    """Run ``candidate`` and ``oracle`` on every named case and compare their results.

    ``cases`` maps a name a reader understands ("K = 3, a state never visited") to the
    arguments: a tuple (positional) or a mapping (keywords). Results are compared with
    ``numpy.allclose(candidate, oracle, rtol, atol)``; a tuple (or named tuple) is
    compared item by item. ``against`` names the oracle in the ✓ line (MyST), e.g.
    "brute force over all $K^T$ paths".

    On success shows one ✓ line. Otherwise raises :class:`GradingError` naming every
    failing case and what went wrong: the exception it raised, a wrong shape, or the
    largest difference, where it is and the two values.
    """
    if not cases:
        raise ValueError("cases must name at least one case")
    if not against or not isinstance(against, str):
        raise ValueError(f"against must name the oracle, got {against!r}")
    name = getattr(candidate, "__name__", repr(candidate))
    failures = []
    for case, arguments in cases.items():
        args, kwargs = (
            ((), dict(arguments))
            if isinstance(arguments, Mapping)
            else (tuple(arguments), {})
        )
        expected = oracle(*args, **kwargs)
        try:
            got = candidate(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - a reader's function may fail anyhow
            failures.append(f"case {case!r}: {name} raised {type(exc).__name__}: {exc}")
            continue
        problem = _difference(got, expected, rtol, atol)
        if problem:
            failures.append(f"case {case!r}: {problem}")
    if failures:
        passed = len(cases) - len(failures)
        raise GradingError(
            f"{name} fails {len(failures)} of {len(cases)} cases against {against} "
            f"(rtol={rtol:g}, atol={atol:g}; {passed} passed):\n  "
            + "\n  ".join(failures)
        )
    check(
        f"`{name}` agrees with {against} on all {len(cases)} cases: "
        + "; ".join(cases)
        + f" (rtol = {rtol:g}, atol = {atol:g})"
    )


def _difference(got, expected, rtol: float, atol: float, where: str = "") -> str | None:
    """None if ``got`` matches ``expected``, else what differs (tuples item by item)."""
    if isinstance(expected, tuple):
        if not isinstance(got, tuple) or len(got) != len(expected):
            return f"{where or 'the result'} should be a tuple of {len(expected)} items"
        fields = getattr(expected, "_fields", None) or [
            f"[{i}]" for i in range(len(expected))
        ]
        for field, g, e in zip(fields, got, expected):
            problem = _difference(
                g, e, rtol, atol, f"{where}.{field}" if where else field
            )
            if problem:
                return problem
        return None
    label = where or "the result"
    try:
        got_array = np.asarray(got, dtype=float)
    except (TypeError, ValueError):
        return f"{label} is not numeric: {got!r:.80}"
    expected_array = np.asarray(expected, dtype=float)
    if got_array.shape != expected_array.shape:
        return f"{label} has shape {got_array.shape}, expected {expected_array.shape}"
    if np.allclose(got_array, expected_array, rtol=rtol, atol=atol, equal_nan=False):
        return None
    if not np.all(np.isfinite(got_array)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(got_array))[0])
        return f"{label} holds {got_array[bad]} at index {bad}"
    error = np.abs(got_array - expected_array)
    excess = error - (atol + rtol * np.abs(expected_array))
    index = np.unravel_index(int(np.argmax(excess)), error.shape) if error.ndim else ()
    at = f" at index {tuple(int(i) for i in index)}" if index else ""
    return (
        f"{label} is off by {error[index]:.3g}{at}: "
        f"got {got_array[index]:.10g}, expected {expected_array[index]:.10g}"
    )


# ---------------------------------------------------------------------- animations

_CDN_LINK = re.compile(r"<link\b[^>]*href=\"https?://[^\"]*\"[^>]*>\s*", re.IGNORECASE)
_ANIMATION_ID = re.compile(r'id="_anim_img([0-9a-f]{32})"')


def animation_html(
    anim, fig, *, element_id: str, alt: str, fps: float, default_mode: str = "once"
):
    """An offline, deterministic HTML player for a matplotlib animation (``to_jshtml``).

    Like ``anim.to_jshtml``, but: frames at twice the figure's resolution (shown at 1×);
    the player's element id is ``element_id`` instead of a random one, so a re-run gives
    the same HTML (nbval compares it); matplotlib's Font Awesome stylesheet link to a
    CDN is dropped (the theme ships the icons); the frame image carries ``alt``, the
    alternative text. Closes ``fig`` (no static copy is shown). Display the result as
    the cell's only output; a caption comes from the cell's ``mystnb: figure`` metadata.
    Keep animations short: every frame is embedded as a PNG.
    """
    import matplotlib.pyplot as plt
    from IPython.display import HTML
    from matplotlib.animation import HTMLWriter

    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", element_id or ""):
        raise ValueError(
            "element_id must be letters, digits and '_' (a JavaScript name), "
            f"got {element_id!r}"
        )
    if not alt or len(alt.split()) < 3:
        raise ValueError(f"alt must describe the animation in words, got {alt!r}")
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps!r}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "animation.html"
        writer = HTMLWriter(fps=fps, embed_frames=True, default_mode=default_mode)
        anim.save(str(path), writer=writer, dpi=2 * fig.dpi)
        text = path.read_text(encoding="utf-8")
    plt.close(fig)
    found = _ANIMATION_ID.search(text)
    if found is None:
        raise RuntimeError("matplotlib's HTMLWriter output has no _anim_img element")
    text = text.replace(found.group(1), element_id)
    text = _CDN_LINK.sub("", text)
    if re.search(r"https?://", text):
        raise RuntimeError("the animation's HTML still refers to the network")
    width = round(fig.get_figwidth() * fig.dpi)
    text = text.replace(
        f'<img id="_anim_img{element_id}"',
        f'<img id="_anim_img{element_id}" alt="{html.escape(alt, quote=True)}" '
        f'width="{width}"',
        1,
    )
    return HTML(text)


# ------------------------------------- chapters 1 and 2 (Why EM; The Q-function)


def oracle_log_likelihood(X, params) -> float:
    """``log P(X | params)`` for one sequence, computed without ``hmmcore``.

    A log-space forward pass, ``log alpha_t = log-sum-exp(log alpha_{t-1} + log A) +
    log b_t`` (NumPy's ``logaddexp``), over Gaussian log-densities from SciPy's
    ``multivariate_normal``. It is the independent second computation for checks that must
    fail when hmmcore's forward pass or densities are wrong; it is slow (a Python loop
    over t), so use it on sequences of at most a few thousand steps. Zeros in ``startprob``
    and ``transmat`` are allowed (their logarithm is minus infinity).

    ``params`` is an ``HMMParams`` (or any ``(startprob, transmat, means, covars)``)
    with covariances of shape (K, D, D); ``X`` has shape (T, D).
    """
    from scipy.stats import multivariate_normal

    startprob, transmat, means, covars = (np.asarray(p, dtype=float) for p in params)
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[1] != means.shape[1]:
        raise ValueError(f"X must have shape (T, {means.shape[1]}), got {X.shape}")
    log_b = np.column_stack(
        [
            multivariate_normal(m, c).logpdf(X).reshape(len(X))
            for m, c in zip(means, covars)
        ]
    )
    with np.errstate(divide="ignore"):
        log_startprob, log_transmat = np.log(startprob), np.log(transmat)
    log_alpha = log_startprob + log_b[0]
    for t in range(1, len(X)):
        log_alpha = np.logaddexp.reduce(log_alpha[:, None] + log_transmat, axis=0)
        log_alpha += log_b[t]
    return float(np.logaddexp.reduce(log_alpha))


def free_coordinates(params, *, startprob: bool = True):
    """Unconstrained coordinates of a Gaussian HMM's parameters, and the map back.

    Returns ``(theta, to_params)``. ``theta`` holds, in this order: the logits of
    ``startprob`` (only if ``startprob`` is True), the logits of each row of
    ``transmat``, the means, and for each covariance the logarithms of the diagonal of
    its Cholesky factor followed by the factor's entries below the diagonal. A logit is
    ``log(p_j / p_r)``, with ``p_r`` the largest entry of its distribution, which is not
    a coordinate: every ``theta`` gives valid parameters, and none is redundant.
    Entries that are exactly 0 are held at 0 (they lie on the boundary, where the
    likelihood need not be stationary), and with ``startprob=False`` the initial
    distribution is held as it is (for a ``startprob`` at a vertex of the simplex).

    ``to_params(theta)`` is the ``hmmcore.HMMParams`` at ``theta``; at the returned
    ``theta`` it reproduces ``params`` (to rounding).
    """
    import hmmcore

    start, transmat, means, covars = (np.array(p, dtype=float) for p in params)
    n_states, n_features = means.shape

    def logit_layout(rows):
        # each row: its reference (largest) entry, and its other positive entries
        layout = []
        for row in rows:
            reference = int(np.argmax(row))
            free = [j for j in range(len(row)) if j != reference and row[j] > 0]
            layout.append((reference, free))
        return layout

    rows = [start] if startprob else []
    rows += list(transmat)
    layout = logit_layout(rows)
    lower = np.tril_indices(n_features, -1)
    pieces = [
        np.log(row[free] / row[reference])
        for row, (reference, free) in zip(rows, layout)
    ]
    factors = np.linalg.cholesky(covars)
    pieces.append(means.ravel())
    for factor in factors:
        pieces += [np.log(np.diag(factor)), factor[lower]]
    theta = np.concatenate(pieces)

    def to_params(values):
        values = np.asarray(values, dtype=float)
        if values.shape != theta.shape:
            raise ValueError(f"theta must have shape {theta.shape}, got {values.shape}")
        position, new_rows = 0, []
        for row, (reference, free) in zip(rows, layout):
            logits = np.full(len(row), -np.inf)
            logits[reference] = 0.0
            logits[free] = values[position : position + len(free)]
            position += len(free)
            weights = np.exp(logits - logits.max())
            new_rows.append(weights / weights.sum())
        new_start = new_rows.pop(0) if startprob else start
        new_means = values[position : position + means.size].reshape(means.shape)
        position += means.size
        new_covars = np.empty_like(covars)
        for k in range(n_states):
            factor = np.diag(np.exp(values[position : position + n_features]))
            position += n_features
            factor[lower] = values[position : position + len(lower[0])]
            position += len(lower[0])
            new_covars[k] = factor @ factor.T
        return hmmcore.HMMParams(new_start, np.array(new_rows), new_means, new_covars)

    return theta, to_params


# ------------------------------------ chapters 10 to 14: chapter 10's market model

#: Chapter 10's names of the three regimes, in the order :func:`regime_order` gives.
REGIME_NAMES = ("Bull", "Bear/Crash", "Chop")


def fit_market_model(X, n_components: int = 3, *, random_state=10, n_init: int = 10):
    """Chapter 10's fit of the market model: full covariances, plain maximum likelihood
    (``covars_prior=0``), at most 200 EM iterations with tolerance 1e-4, ``n_init``
    k-means++ starts drawn from ``random_state`` (chapter 10 uses 10), the best kept.

    Returns the fitted :class:`hmmcore.GaussianHMM` (states in EM's arbitrary order).
    """
    import hmmcore

    model = hmmcore.GaussianHMM(
        n_components=n_components,
        covariance_type="full",
        covars_prior=0.0,
        n_iter=200,
        tol=1e-4,
        random_state=random_state,
        n_init=n_init,
    )
    return model.fit(X)


def regime_order(params) -> list[int]:
    """Chapter 10's naming rule for three regimes, on the fitted parameters (feature 0 is
    the return): Bear/Crash is the state with the largest return variance; of the other
    two, Bull has the higher mean return; Chop is the third. Returns the states behind
    (Bull, Bear/Crash, Chop), for ``hmmcore.permute_states(params, order)``.

    ``params`` is an ``hmmcore.HMMParams`` or a fitted ``GaussianHMM`` (its ``params_``).
    The rule assumes no ties: chapter 10 discusses when it is safe.
    """
    params = getattr(params, "params_", params)
    if len(params.means) != 3:
        raise ValueError(
            f"the rule names three regimes; got {len(params.means)} states"
        )
    bear = int(np.argmax(params.covars[:, 0, 0]))
    others = [k for k in range(3) if k != bear]
    bull = max(others, key=lambda k: params.means[k, 0])
    return [bull, bear, next(k for k in others if k != bull)]
