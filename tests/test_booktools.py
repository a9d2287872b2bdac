"""book/booktools.py, the chapters' shared helpers, tested outside a notebook.

Displays are captured by patching ``IPython.display.display`` (booktools imports it when
called) and ``myst_nb.glue``. The grader is tested the way a reader meets it: a forward
algorithm graded against brute force over all paths (``hmmcore.enumerate_paths``), once
right and once with a deliberate mistake, which must fail and name the case.
"""

from __future__ import annotations

import base64
import io
import re
from typing import NamedTuple
from unittest import mock

import matplotlib

matplotlib.use("Agg")

import booktools
import matplotlib.pyplot as plt
import numpy as np
import pytest
import sympy as sp
from matplotlib.animation import FuncAnimation
from PIL import Image

import hmmcore


@pytest.fixture
def shown():
    """Everything booktools passes to IPython's display(), in order."""
    with mock.patch("IPython.display.display") as display:
        yield display.call_args_list


@pytest.fixture
def glued():
    """name -> value of every myst_nb.glue call (display=False is required)."""
    values = {}

    def glue(name, value, display=True):
        assert display is False, "booktools must glue without displaying"
        values[name] = value

    with mock.patch("myst_nb.glue", glue):
        yield values


@pytest.fixture
def restore_rc():
    saved = matplotlib.rcParams.copy()
    printoptions = np.get_printoptions()
    yield
    matplotlib.rcParams.update(saved)
    np.set_printoptions(**printoptions)
    plt.close("all")


# ------------------------------------------------------------------------ setup


def test_setup_sets_printing_and_column_wide_figures(restore_rc):
    booktools.setup_notebook()
    assert np.get_printoptions()["precision"] == 4 and np.get_printoptions()["suppress"]
    width, height = matplotlib.rcParams["figure.figsize"]
    assert width * matplotlib.rcParams["figure.dpi"] <= booktools.COLUMN_WIDTH_PX
    assert booktools.figsize(0.5) == pytest.approx((width, height))


def test_setup_quiets_only_the_named_loggers(restore_rc):
    import logging

    booktools.setup_notebook(quiet_loggers=("booktools-test-quiet",))
    assert logging.getLogger("booktools-test-quiet").level == logging.ERROR
    assert logging.getLogger("booktools-test-other").level == logging.NOTSET


def _draw_sample_figure():
    fig, ax = plt.subplots(figsize=booktools.figsize(0.45))
    ax.plot([0, 1, 2], [0.0, 1.0, 0.5], label="Bull Run")
    ax.set_xlabel("day")
    ax.set_ylabel("return (%)")
    ax.set_title("a title")
    ax.legend()
    return fig


def test_notebook_figures_are_retina_pngs_that_fit_the_column(restore_rc):
    """Inside IPython, a figure is a PNG with twice the pixels of the size it is shown at,
    and that size is at most the column's width."""
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        booktools.setup_notebook()
        fig = _draw_sample_figure()
        data, metadata = shell.display_formatter.format(fig)
    finally:
        InteractiveShell.clear_instance()
    png_data = data["image/png"]
    if isinstance(png_data, str):  # IPython hands PNG over base64-encoded
        png_data = base64.b64decode(png_data)
    png = Image.open(io.BytesIO(png_data))
    shown_width = metadata["image/png"]["width"]
    assert png.width == 2 * shown_width
    assert booktools.COLUMN_WIDTH_PX - 40 <= shown_width <= booktools.COLUMN_WIDTH_PX


def test_figure_text_is_at_least_10_px_on_screen(restore_rc):
    """Every text of a column-wide figure (ticks, labels, legend, title), in CSS pixels at
    the size the page shows it (1 pt = dpi / 72 px at 1×)."""
    booktools.setup_notebook()
    fig = _draw_sample_figure()
    fig.canvas.draw()
    sizes = [
        t.get_fontsize() for t in fig.findobj(matplotlib.text.Text) if t.get_text()
    ]
    assert len(sizes) >= 8  # ticks, two labels, title, legend entry
    assert min(sizes) * booktools.FIGURE_DPI / 72 >= 10


@pytest.mark.parametrize("height_ratio, width", [(0, 1.0), (0.5, 0.0), (0.5, 1.2)])
def test_figsize_rejects_sizes_outside_the_column(height_ratio, width):
    with pytest.raises(ValueError, match="height_ratio|width"):
        booktools.figsize(height_ratio, width)


# ---------------------------------------------------------------------- ✓ lines


def test_eq_is_a_myst_reference_with_the_derivation_number_on_request():
    assert booktools.eq("seed-16") == "{eq}`seed-16`"
    assert (
        booktools.eq("seed-16", derivation=True)
        == "{eq}`seed-16`, the derivation's (16)"
    )
    assert booktools.eq("e-step-alpha-hat") == "{eq}`e-step-alpha-hat`"


@pytest.mark.parametrize("label", ["", "seed 16", "{eq}`seed-16`", 16])
def test_eq_rejects_what_is_not_a_label(label):
    with pytest.raises(ValueError, match="label"):
        booktools.eq(label)


def test_eq_derivation_number_only_for_seed_labels():
    with pytest.raises(ValueError, match="seed-N"):
        booktools.eq("e-step-gradients", derivation=True)


def test_check_shows_one_markdown_line_with_a_check_mark(shown):
    booktools.check(f"{booktools.eq('seed-16')} holds at every $t$")
    (call,) = shown
    markdown = call.args[0]
    assert type(markdown).__name__ == "Markdown"
    assert (
        markdown.data
        == '<span class="check-mark">✓</span> {eq}`seed-16` holds at every $t$'
    )


@pytest.mark.parametrize("statement", ["", "   ", "two\nlines"])
def test_check_rejects_an_empty_or_multi_line_statement(statement, shown):
    with pytest.raises(ValueError, match="statement"):
        booktools.check(statement)
    assert not shown


# ------------------------------------------------------------------------ SymPy


def test_show_equality_labels_both_sides(shown):
    a, b = sp.symbols("a b", positive=True)
    booktools.show_equality(
        sp.diff(a * sp.log(b) - b, b),
        a / b - 1,
        r"\frac{\partial}{\partial b} f",
        r"\text{(5.3)}",
    )
    (call,) = shown
    tex = call.args[0].data
    assert tex.startswith(r"\begin{aligned}") and tex.endswith(r"\end{aligned}")
    rows = tex[len(r"\begin{aligned}") : -len(r"\end{aligned}")].split(r" \\ ")
    assert rows == [
        r"\frac{\partial}{\partial b} f &= \frac{a}{b} - 1",
        r"\text{(5.3)} &= \frac{a}{b} - 1",
    ]


def test_show_equality_fails_on_a_wrong_formula_after_showing_it(shown):
    a, b = sp.symbols("a b", positive=True)
    with pytest.raises(AssertionError, match="differ"):
        booktools.show_equality(
            sp.diff(a * sp.log(b) - b, b), a / b + 1, r"f'", r"\text{wrong}"
        )
    assert len(shown) == 1


def test_show_equality_compares_matrices(shown):
    x = sp.Matrix(sp.symbols("x1 x2"))
    M = sp.Matrix(2, 2, sp.symbols("m11 m12 m21 m22"))
    quadratic = (x.T * M * x)[0]
    gradient = sp.Matrix([sp.diff(quadratic, xi) for xi in x])
    booktools.show_equality(
        gradient, (M + M.T) * x, r"\nabla_x x^\top M x", r"(M + M^\top) x"
    )
    with pytest.raises(AssertionError, match="differ"):
        booktools.show_equality(gradient, 2 * M * x, r"\nabla_x x^\top M x", r"2 M x")


def test_show_equality_breaks_long_sums(shown):
    terms = sp.symbols("t1:7")
    booktools.show_equality(
        sum(terms), sum(reversed(terms)), r"L", r"R", terms_per_line=2
    )
    rows = shown[0].args[0].data.split(r" \\ ")
    assert len(rows) == 6  # three lines per side
    assert rows[1].startswith(r"&\quad + ")


def test_show_equality_needs_labels(shown):
    with pytest.raises(ValueError, match="lhs_label"):
        booktools.show_equality(sp.Integer(1), sp.Integer(1), "", r"\text{one}")


# ----------------------------------------------------------------- glued numbers


@pytest.mark.parametrize(
    "value, kind, text, tex",
    [
        (69735688020, "count", "69,735,688,020", "69{,}735{,}688{,}020"),
        (300, "integer", "300", "300"),
        (-508.63592, "log-likelihood", "−508.64", "-508.64"),
        (0.98209, "probability", "0.9821", "0.9821"),
        (1.2345e-10, "small", "1.2 × 10⁻¹⁰", r"1.2 \times 10^{-10}"),
        (3.0e5, "small", "3.0 × 10⁵", r"3.0 \times 10^{5}"),
        (68.2689, "percent", "68.3", "68.3"),
    ],
)
def test_format_number_one_format_per_kind(value, kind, text, tex):
    assert booktools.format_number(value, kind) == text
    assert booktools.format_number(value, kind, math=True) == tex


def test_format_number_rejects_unknown_kinds_and_bad_values():
    with pytest.raises(ValueError, match="kind must be one of"):
        booktools.format_number(1.0, "loglik")
    with pytest.raises(ValueError, match="whole number"):
        booktools.format_number(2.5, "count")
    with pytest.raises(ValueError, match="finite"):
        booktools.format_number(float("nan"), "probability")


def test_glue_number_glues_the_formatted_text(glued):
    booktools.glue_number("loglik", -508.63592, "log-likelihood")
    assert glued == {"loglik": "−508.64"}


def test_glue_math_glues_inline_latex(glued):
    booktools.glue_math("K_eq", "K = 3")
    latex = glued["K_eq"]
    assert type(latex).__name__ == "Latex" and latex.data == "$K = 3$"
    with pytest.raises(ValueError, match="without \\$"):
        booktools.glue_math("bad", "$K = 3$")


# ------------------------------------------------------------------------ grading


def _tiny_problems():
    rng = np.random.default_rng(3)
    cases = {}
    for n_states, n_steps in ((2, 3), (3, 4), (2, 6)):
        startprob = rng.dirichlet(np.ones(n_states))
        transmat = rng.dirichlet(np.ones(n_states), size=n_states)
        log_b = rng.normal(size=(n_steps, n_states))
        cases[f"K = {n_states}, T = {n_steps}"] = (startprob, transmat, log_b)
    # a start distribution with a zero: a forward pass that ignores pi is wrong here
    cases["pi with a zero"] = (
        np.array([0.0, 1.0]),
        np.array([[0.7, 0.3], [0.4, 0.6]]),
        np.log(np.array([[0.9, 0.1], [0.2, 0.5], [0.3, 0.3]])),
    )
    return cases


def brute_force_log_likelihood(startprob, transmat, log_b):
    return hmmcore.enumerate_paths(startprob, transmat, log_b).log_likelihood


def forward_log_likelihood(startprob, transmat, log_b):
    alpha = startprob * np.exp(log_b[0])
    for t in range(1, len(log_b)):
        alpha = (alpha @ transmat) * np.exp(log_b[t])
    return np.log(alpha.sum())


def forward_forgetting_pi(startprob, transmat, log_b):
    alpha = np.exp(log_b[0]) / len(startprob)  # the mistake: a uniform start
    for t in range(1, len(log_b)):
        alpha = (alpha @ transmat) * np.exp(log_b[t])
    return np.log(alpha.sum())


def test_grade_passes_a_right_function_with_one_check_line(shown):
    booktools.grade(
        forward_log_likelihood,
        brute_force_log_likelihood,
        _tiny_problems(),
        against="brute force over all $K^T$ paths",
    )
    (call,) = shown
    line = call.args[0].data
    assert (
        "`forward_log_likelihood` agrees with brute force over all $K^T$ paths" in line
    )
    assert (
        "on all 4 cases: K = 2, T = 3; K = 3, T = 4; K = 2, T = 6; pi with a zero"
        in line
    )


def test_grade_fails_a_wrong_function_and_names_the_cases(shown):
    with pytest.raises(booktools.GradingError) as failure:
        booktools.grade(
            forward_forgetting_pi,
            brute_force_log_likelihood,
            _tiny_problems(),
            against="brute force",
        )
    message = str(failure.value)
    assert message.startswith(
        "forward_forgetting_pi fails 4 of 4 cases against brute force"
    )
    off = re.search(
        r"case 'pi with a zero': the result is off by ([\d.e+-]+): got (\S+), "
        r"expected (\S+)",
        message,
    )
    assert off, message
    expected = brute_force_log_likelihood(*_tiny_problems()["pi with a zero"])
    assert float(off.group(3)) == pytest.approx(expected, rel=1e-9)
    # the difference is printed with 3 significant digits
    assert float(off.group(1)) == pytest.approx(
        abs(float(off.group(2)) - expected), rel=5e-3
    )
    assert not shown  # no ✓ line for a failing function


def test_grade_reports_exceptions_shapes_and_nan(shown):
    cases = {"3 x 2": (np.arange(6.0).reshape(3, 2),), "2 x 2": (np.eye(2),)}

    def raises(x):
        raise ValueError("not written yet")

    def wrong_shape(x):
        return x.T

    def nan_at_corner(x):
        y = np.array(x, dtype=float)
        y[-1, -1] = np.nan
        return y

    for candidate, expected in (
        (raises, "case '3 x 2': raises raised ValueError: not written yet"),
        (wrong_shape, "case '3 x 2': the result has shape (2, 3), expected (3, 2)"),
        (nan_at_corner, "case '2 x 2': the result holds nan at index (1, 1)"),
    ):
        with pytest.raises(booktools.GradingError) as failure:
            booktools.grade(candidate, np.asarray, cases, against="the input")
        assert expected in str(failure.value)


class _Pair(NamedTuple):
    low: float
    high: float


def test_grade_compares_named_tuples_field_by_field(shown):
    def oracle(x):
        return _Pair(x - 1.0, x + 1.0)

    def off_high(x):
        return _Pair(x - 1.0, x + 1.5)

    booktools.grade(oracle, oracle, {"x = 2": (2.0,)}, against="itself")
    with pytest.raises(
        booktools.GradingError, match=r"high is off by 0.5: got 3.5, expected 3"
    ):
        booktools.grade(off_high, oracle, {"x = 2": (2.0,)}, against="the pair")


def test_grade_needs_cases_and_an_oracle_name():
    with pytest.raises(ValueError, match="cases"):
        booktools.grade(np.asarray, np.asarray, {}, against="x")
    with pytest.raises(ValueError, match="against"):
        booktools.grade(np.asarray, np.asarray, {"a": (1.0,)}, against="")


# --------------------------------------------------------------------- animations


def _animation():
    fig, ax = plt.subplots(figsize=booktools.figsize(0.4, 0.5))
    (line,) = ax.plot([0.0, 1.0], [0.0, 0.0])
    ax.set_ylim(-1, 3)

    def draw(frame):
        line.set_ydata([0.0, frame])
        return (line,)

    return FuncAnimation(fig, draw, frames=3), fig


def test_animation_html_is_deterministic_offline_and_retina(restore_rc):
    booktools.setup_notebook()
    html = []
    for _ in range(2):
        anim, fig = _animation()
        html.append(
            booktools.animation_html(
                anim,
                fig,
                element_id="demo_line",
                fps=2,
                alt="A line rising from flat to steep in three frames.",
            ).data
        )
        assert not plt.fignum_exists(fig.number), "the figure must be closed"
    assert html[0] == html[1], "two runs give different HTML (nbval would fail)"
    text = html[0]
    assert "http://" not in text and "https://" not in text
    assert not re.search(r"[0-9a-f]{32}", text), "a random id is left"
    assert (
        'id="_anim_imgdemo_line" alt="A line rising from flat to steep in three frames."'
        in text
    )
    frames = re.findall(r'frames\[\d+\] = "data:image/png;base64,([^"]+)"', text)
    assert len(frames) == 3
    first = Image.open(io.BytesIO(base64.b64decode(frames[0].replace("\\\n", ""))))
    shown_width = int(
        re.search(r'id="_anim_imgdemo_line"[^>]* width="(\d+)"', text).group(1)
    )
    assert first.width == 2 * shown_width


@pytest.mark.parametrize(
    "options, message",
    [
        (
            {
                "element_id": "demo-line",
                "alt": "A line rising in three frames.",
                "fps": 2,
            },
            "element_id",
        ),
        ({"element_id": "demo", "alt": "line", "fps": 2}, "alt"),
        (
            {"element_id": "demo", "alt": "A line rising in three frames.", "fps": 0},
            "fps",
        ),
    ],
)
def test_animation_html_rejects_bad_options(options, message, restore_rc):
    fig = plt.figure()
    with pytest.raises(
        ValueError, match=message
    ):  # checked before the animation is used
        booktools.animation_html(None, fig, **options)


# ------------------------------------- chapters 1 and 2: the oracle, free coordinates


def _three_state_params(startprob):
    return hmmcore.HMMParams(
        startprob=np.array(startprob),
        transmat=np.array([[0.7, 0.0, 0.3], [0.2, 0.5, 0.3], [0.1, 0.4, 0.5]]),
        means=np.array([[0.0, 1.0], [-1.0, 0.5], [2.0, -1.0]]),
        covars=np.array(
            [
                [[1.0, 0.3], [0.3, 0.5]],
                [[0.4, -0.1], [-0.1, 0.9]],
                [[2.0, 0.0], [0.0, 0.2]],
            ]
        ),
    )


def test_oracle_log_likelihood_equals_brute_force_with_zeros():
    params = _three_state_params([0.0, 0.6, 0.4])  # a zero in pi and one in A
    X = np.random.default_rng(0).normal(size=(6, 2))
    log_b = hmmcore.gaussian_log_density(X, params.means, params.covars)
    brute = hmmcore.enumerate_paths(params.startprob, params.transmat, log_b)
    assert booktools.oracle_log_likelihood(X, params) == pytest.approx(
        brute.log_likelihood, rel=1e-12, abs=1e-12
    )


def test_oracle_log_likelihood_sees_a_transposed_transition_matrix():
    params = _three_state_params([0.2, 0.5, 0.3])
    X = np.random.default_rng(1).normal(size=(6, 2))
    log_b = hmmcore.gaussian_log_density(X, params.means, params.covars)
    brute = hmmcore.enumerate_paths(params.startprob, params.transmat, log_b)
    transposed = params._replace(transmat=params.transmat.T)
    gap = booktools.oracle_log_likelihood(X, transposed) - brute.log_likelihood
    assert abs(gap) > 1e-3


def test_oracle_log_likelihood_names_a_wrong_shape():
    with pytest.raises(ValueError, match=r"X must have shape \(T, 2\)"):
        booktools.oracle_log_likelihood(np.zeros((4, 3)), _three_state_params([1, 0]))


def test_free_coordinates_hold_zeros_and_the_vertex_and_round_trip():
    params = _three_state_params([0.0, 1.0, 0.0])
    theta, to_params = booktools.free_coordinates(params, startprob=False)
    # A: 1 + 2 + 2 free logits (the zero is held), means 3 x 2, Cholesky 3 x 3
    assert theta.shape == (5 + 6 + 9,)
    back = to_params(theta)
    for got, want in zip(back, params):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    moved = to_params(theta + 0.3)
    assert moved.transmat[0, 1] == 0.0
    assert np.array_equal(moved.startprob, params.startprob)


def test_free_coordinates_give_valid_parameters_everywhere():
    params = _three_state_params([0.2, 0.5, 0.3])
    theta, to_params = booktools.free_coordinates(params)
    assert theta.shape == (2 + 5 + 6 + 9,)
    for point in np.random.default_rng(2).normal(scale=3.0, size=(20, theta.size)):
        moved = to_params(point)
        np.testing.assert_allclose(moved.startprob.sum(), 1.0, rtol=1e-12)
        np.testing.assert_allclose(moved.transmat.sum(axis=1), 1.0, rtol=1e-12)
        assert np.all(moved.transmat >= 0)
        assert np.all(np.linalg.eigvalsh(moved.covars) > 0)


def test_free_coordinates_reject_a_wrong_length():
    _, to_params = booktools.free_coordinates(_three_state_params([0.2, 0.5, 0.3]))
    with pytest.raises(ValueError, match="theta must have shape"):
        to_params(np.zeros(3))


# ------------------------------------------ chapters 10 to 14: chapter 10's market model


def test_regime_order_names_bull_bear_and_chop():
    import hmmcore

    params = hmmcore.HMMParams(
        np.full(3, 1 / 3),
        np.full((3, 3), 1 / 3),
        np.array([[-0.1, 0.0], [0.05, 0.0], [0.02, 0.0]]),  # mean returns
        np.array([np.diag([v, 1.0]) for v in (4.0, 1.0, 0.5)]),  # return variances
    )
    # state 0 is the most volatile (Bear/Crash); of 1 and 2, state 1 has the higher mean
    assert booktools.regime_order(params) == [1, 0, 2]
    named = hmmcore.permute_states(params, booktools.regime_order(params))
    assert booktools.regime_order(named) == [0, 1, 2]
    with pytest.raises(ValueError, match="three regimes"):
        booktools.regime_order(params._replace(means=params.means[:2]))


def test_fit_market_model_is_chapter_10s_configuration():
    import hmmcore

    X = hmmcore.simulate_regimes(300, rng=0).X
    model = booktools.fit_market_model(X, 2, n_init=2)
    assert (model.covariance_type, model.covars_prior, model.n_iter, model.tol) == (
        "full",
        0.0,
        200,
        1e-4,
    )
    assert (model.random_state, model.n_init, len(model.restart_scores_)) == (10, 2, 2)
    assert sorted(
        booktools.regime_order(booktools.fit_market_model(X, 3, n_init=1))
    ) == [0, 1, 2]


def test_regime_order_names_states_not_positions():
    # state 0: calm, falling; state 1: turbulent; state 2: calm, rising
    means = np.array([[-0.001, 0.01], [0.0, 0.03], [0.002, 0.01]])
    covars = np.array([np.diag([s**2, 1e-4]) for s in (0.008, 0.03, 0.005)])
    params = hmmcore.HMMParams(np.full(3, 1 / 3), np.full((3, 3), 1 / 3), means, covars)
    assert booktools.regime_order(params) == [2, 1, 0]  # Bull, Bear/Crash, Chop
    for perm in ([1, 2, 0], [2, 0, 1], [0, 2, 1]):
        order = booktools.regime_order(hmmcore.permute_states(params, perm))
        assert [perm[k] for k in order] == [2, 1, 0]
