"""Forecasts (hmmcore.forecast, chapter 13) against independent oracles.

- Enumeration of all K^(t+h) hidden paths (``hmmcore.enumerate_paths``): the forecast of
  q_{t+h} is the posterior marginal of the chain extended by h unobserved steps (log-density
  0), and the predictive log density is log P(O_1..O_t, O_{t+h} = y) - log P(O_1..O_t), two
  path sums.
- The chain rule: one step ahead, the log density of the realised O_{t+1} is the forward
  pass's log c_{t+1}.
- numpy's ``matrix_power`` and SymPy's exact closed form of A^h for two states; SymPy's
  exact stationary distribution and eigenvalues (the rate of convergence).
- Numerical integration (SciPy's ``quad``) of the mixture's density: its mean, variance,
  distribution function and marginals; SymPy's integrals of the Gaussian moments.
- Monte Carlo draws of O_{T+h} (a state from the filtered probabilities, h chain steps, a
  Gaussian draw), with tolerances set by the simulation's standard errors.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from problems import TIGHT, random_hmm, sample_hmm, typed_params
from scipy import integrate, stats
from sklearn.exceptions import NotFittedError

import hmmcore
from hmmcore import HMMParams, PredictiveMixture


def log_b_of(X, params):
    return hmmcore.gaussian_log_density(X, params.means, params.covars)


def enumerated_state_forecast(params, log_b, horizon):
    """P(q_{t+h} = j | O_1..O_t) summed over all paths of the chain extended by h steps
    without an observation (their log-density is 0)."""
    extended = np.vstack([log_b, np.zeros((horizon, log_b.shape[1]))])
    return hmmcore.enumerate_paths(params.startprob, params.transmat, extended).gamma[-1]


def enumerated_log_density(params, log_b, horizon, point):
    """log p(O_{t+h} = point | O_1..O_t), a ratio of two sums over all paths."""
    point_log_b = log_b_of(point[None], params)
    extended = np.vstack([log_b, np.zeros((horizon - 1, log_b.shape[1])), point_log_b])
    joint = hmmcore.enumerate_paths(params.startprob, params.transmat, extended)
    past = hmmcore.enumerate_paths(params.startprob, params.transmat, log_b)
    return joint.log_likelihood - past.log_likelihood


def draw_ahead(rng, params, probabilities, horizon, n_draws):
    """n_draws of O_{T+h}: q_T drawn from ``probabilities``, h steps of the chain, then a
    Gaussian draw from the state reached."""
    n_states = len(params.startprob)
    states = rng.choice(n_states, size=n_draws, p=probabilities)
    for _ in range(horizon):
        cumulative = np.cumsum(params.transmat[states], axis=1)
        states = np.minimum((rng.random(n_draws)[:, None] > cumulative).sum(axis=1), n_states - 1)
    noise = rng.standard_normal((n_draws, params.means.shape[1]))
    factors = np.linalg.cholesky(params.covars)
    return params.means[states] + np.einsum("nij,nj->ni", factors[states], noise)


def sampled(rng, params, n_steps):
    """Observations drawn from ``params`` (the tests' own sampler)."""
    return sample_hmm(rng, params, n_steps)[0]


# -- state forecasts and the predictive density against enumeration --------------------------------
@pytest.mark.parametrize("covariance_type", hmmcore.COVARIANCE_TYPES)
@pytest.mark.parametrize("n_states, n_features", [(2, 1), (3, 2)])
@pytest.mark.parametrize("horizon", [1, 2, 3])
def test_forecasts_equal_enumeration(covariance_type, n_states, n_features, horizon):
    rng = np.random.default_rng([n_states, n_features, horizon, len(covariance_type)])
    params = typed_params(rng, covariance_type, n_states, n_features)
    X = sampled(rng, params, 4)
    log_b = log_b_of(X, params)
    proba = hmmcore.forecast_state_proba(X, params, horizon=horizon)
    mixture = hmmcore.forecast_mixture(X, params, horizon=horizon)
    points = 2.0 * rng.normal(size=(4, n_features))
    densities = hmmcore.mixture_log_density(mixture, points)
    for t in range(4):  # every origin: O_1..O_{t+1} observed
        exact = enumerated_state_forecast(params, log_b[: t + 1], horizon)
        np.testing.assert_allclose(proba[t], exact, **TIGHT)
        np.testing.assert_allclose(mixture.weights[t], exact, **TIGHT)
        expected = enumerated_log_density(params, log_b[: t + 1], horizon, points[t])
        np.testing.assert_allclose(densities[t], expected, **TIGHT)


def test_forecasts_with_missing_values_equal_enumeration(rng):
    """NaN marks a missing value (chapter 14): a day's factor is the density of its observed
    coordinates (SciPy's marginal normal here), a day with nothing observed has factor 1."""
    params = typed_params(rng, "full", 3, 2)
    X = sampled(rng, params, 5)
    X[1, 0] = X[3] = X[4, 1] = np.nan
    log_b = np.zeros((5, 3))
    for t in range(5):
        seen = ~np.isnan(X[t])
        if seen.any():
            for k in range(3):
                covariance = params.covars[k][np.ix_(seen, seen)]
                log_b[t, k] = stats.multivariate_normal(params.means[k, seen], covariance).logpdf(X[t, seen])
    proba = hmmcore.forecast_state_proba(X, params, horizon=2)
    following = hmmcore.predict_next_proba(X, params, n_steps=2)
    mixture = hmmcore.forecast_next(X, params)
    for t in range(5):
        np.testing.assert_allclose(proba[t], enumerated_state_forecast(params, log_b[: t + 1], 2), **TIGHT)
    for h in (1, 2):
        np.testing.assert_allclose(following[h - 1], enumerated_state_forecast(params, log_b, h), **TIGHT)
    np.testing.assert_allclose(mixture.weights[0], following[0], **TIGHT)


def test_each_sequence_forecasts_from_its_own_past(rng):
    params = HMMParams(*random_hmm(rng, 3, 2))
    X = sampled(rng, params, 7)
    lengths = [4, 3]
    proba = hmmcore.forecast_state_proba(X, params, lengths, horizon=2)
    log_b = log_b_of(X, params)
    for t in range(4, 7):
        np.testing.assert_allclose(proba[t], enumerated_state_forecast(params, log_b[4 : t + 1], 2),
                                   **TIGHT)
    np.testing.assert_allclose(proba[:4], hmmcore.forecast_state_proba(X[:4], params, horizon=2),
                               **TIGHT)


@pytest.mark.parametrize("lengths", [None, [3, 2]])
def test_next_steps_equal_enumeration(rng, lengths):
    """predict_next_proba / forecast_next: the next states after the end of the last
    sequence, which alone they continue."""
    params = typed_params(rng, "diag", 3, 2)
    X = sampled(rng, params, 5)
    last = log_b_of(X, params)[0 if lengths is None else 3 :]
    proba = hmmcore.predict_next_proba(X, params, lengths, n_steps=3)
    mixture = hmmcore.forecast_next(X, params, lengths, n_steps=3)
    point = rng.normal(size=2)
    for h in (1, 2, 3):
        np.testing.assert_allclose(proba[h - 1], enumerated_state_forecast(params, last, h), **TIGHT)
        density = hmmcore.mixture_log_density(mixture._replace(weights=mixture.weights[h - 1 : h]),
                                              point[None])
        np.testing.assert_allclose(density[0], enumerated_log_density(params, last, h, point), **TIGHT)


def test_one_step_log_density_is_the_forward_scale_factor(rng):
    """The chain rule: log p(O_{t+1} | O_1..O_t) is log c_{t+1} of the forward pass, at
    every t of a long sequence."""
    params = HMMParams(*random_hmm(rng, 3, 3))
    X = sampled(rng, params, 400)
    mixture = hmmcore.forecast_mixture(X, params)
    scores = hmmcore.mixture_log_density(mixture._replace(weights=mixture.weights[:-1]), X[1:])
    log_scale = hmmcore.forward(params.startprob, params.transmat, log_b_of(X, params)).log_scale
    np.testing.assert_allclose(scores, log_scale[1:], rtol=1e-10, atol=1e-10)


# -- the chain alone: powers of A, the limit and its rate --------------------------------------------
def test_propagation_equals_matrix_powers(rng):
    transmat = rng.dirichlet(np.ones(4), size=4)
    start = rng.dirichlet(np.ones(4), size=5)
    path = hmmcore.propagate_states(start, transmat, 6)
    assert path.shape == (7, 5, 4)
    for h in range(7):
        np.testing.assert_allclose(path[h], start @ np.linalg.matrix_power(transmat, h), **TIGHT)
    single = hmmcore.propagate_states(start[0], transmat, 6)
    np.testing.assert_array_equal(single, path[:, 0])


def test_two_state_powers_sympy():
    """A^h = (1/(a+b)) [[b, a], [b, a]] + ((1-a-b)^h/(a+b)) [[a, -a], [-b, b]] (by induction:
    true at h = 1, and closed(h) A = closed(h + 1)); so p_h - pi = (p_0 - pi)(1 - a - b)^h.
    Then propagate_states against the exact rational values, h = 1..30."""
    a, b = sp.symbols("a b", positive=True)
    h = sp.symbols("h", integer=True, nonnegative=True)
    A = sp.Matrix([[1 - a, a], [b, 1 - b]])
    stationary = sp.Matrix([[b, a]]) / (a + b)

    def closed(n):
        return (sp.Matrix([[b, a], [b, a]]) + (1 - a - b) ** n * sp.Matrix([[a, -a], [-b, b]])) / (a + b)

    assert sp.simplify(closed(1) - A) == sp.zeros(2, 2)
    assert sp.simplify(closed(h) * A - closed(h + 1)) == sp.zeros(2, 2)
    assert sp.simplify(stationary * A - stationary) == sp.zeros(1, 2)
    p = sp.Symbol("p")
    p0 = sp.Matrix([[p, 1 - p]])
    assert sp.simplify(p0 * closed(h) - stationary - (p0 - stationary) * (1 - a - b) ** h) == sp.zeros(1, 2)
    assert set(A.eigenvals()) == {1, 1 - a - b}
    values = {a: sp.Rational(1, 10), b: sp.Rational(3, 10)}
    start = sp.Matrix([[sp.Rational(1, 4), sp.Rational(3, 4)]])
    exact = np.array([[float(x) for x in start * closed(n).subs(values)] for n in range(31)])
    numeric = hmmcore.propagate_states([0.25, 0.75], np.array(A.subs(values), dtype=float), 30)
    np.testing.assert_allclose(numeric, exact, **TIGHT)


def test_forecasts_tend_to_the_stationary_distribution_at_the_second_eigenvalue():
    """The gap to pi (SymPy's exact solution of pi A = pi) shrinks by |lambda_2| per step
    (SymPy's exact eigenvalues), once the faster third eigenvalue has died out."""
    A = sp.Matrix([[sp.Rational(8, 10), sp.Rational(15, 100), sp.Rational(5, 100)],
                   [sp.Rational(1, 10), sp.Rational(7, 10), sp.Rational(2, 10)],
                   [sp.Rational(5, 100), sp.Rational(25, 100), sp.Rational(7, 10)]])
    pi = sp.Matrix(sp.symbols("x0:3")).T
    solution = sp.solve(list(pi * A - pi) + [sum(pi) - 1], list(pi))
    exact = np.array([float(solution[s]) for s in pi])
    moduli = sorted((abs(complex(v)) for v in A.eigenvals()), reverse=True)
    assert moduli[0] == pytest.approx(1.0) and moduli[1] > moduli[2]
    path = hmmcore.propagate_states([1.0, 0.0, 0.0], np.array(A, dtype=float), 60)
    gaps = np.abs(path - exact).sum(axis=1)
    assert gaps[-1] < 1e-7
    np.testing.assert_allclose(gaps[41:] / gaps[40:-1], moduli[1], rtol=1e-6)


# -- the mixture's moments ---------------------------------------------------------------------------
def test_moments_equal_sympy_integrals():
    """E[O] and Var[O] of a three-state mixture, each a weighted sum of SymPy's exact
    integrals of x and x^2 against N(mu_j, sigma_j^2), at rational parameters."""
    x, mu = sp.Symbol("x", real=True), sp.Symbol("mu", real=True)
    sigma = sp.Symbol("sigma", positive=True)
    normal = sp.exp(-((x - mu) ** 2) / (2 * sigma**2)) / sp.sqrt(2 * sp.pi * sigma**2)
    raw = [sp.simplify(sp.integrate(x**n * normal, (x, -sp.oo, sp.oo))) for n in (1, 2)]
    weights = [sp.Rational(1, 5), sp.Rational(1, 2), sp.Rational(3, 10)]
    means = [sp.Rational(-3, 2), sp.Rational(1, 4), 2]
    sds = [sp.Rational(1, 2), 1, sp.Rational(5, 2)]

    def moment(n):
        return sum(w * raw[n - 1].subs({mu: m, sigma: s}) for w, m, s in zip(weights, means, sds))

    mixture = PredictiveMixture(np.array([weights], dtype=float), np.array(means, dtype=float)[:, None],
                                (np.array(sds, dtype=float) ** 2)[:, None, None])
    moments = hmmcore.mixture_moments(mixture)
    np.testing.assert_allclose(moments.mean[0, 0], float(moment(1)), **TIGHT)
    np.testing.assert_allclose(moments.covariance[0, 0, 0], float(moment(2) - moment(1) ** 2), **TIGHT)


def test_moments_by_quadrature(rng):
    params = HMMParams(*random_hmm(rng, 3, 1))
    X = sampled(rng, params, 30)
    mixture = hmmcore.forecast_mixture(X, params, horizon=2)
    moments = hmmcore.mixture_moments(mixture)
    for t in (0, 12, 29):
        row = mixture._replace(weights=mixture.weights[t : t + 1])

        def density(y, row=row):
            return np.exp(hmmcore.mixture_log_density(row, [[y]])[0])

        first = integrate.quad(lambda y: y * density(y), -np.inf, np.inf, epsabs=1e-12)[0]
        central = integrate.quad(lambda y: (y - first) ** 2 * density(y), -np.inf, np.inf,
                                 epsabs=1e-12)[0]
        np.testing.assert_allclose(moments.mean[t, 0], first, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(moments.covariance[t, 0, 0], central, rtol=1e-8)


def test_moments_by_simulation(rng):
    """D = 3, h = 3: the sample mean within 5 standard errors sqrt(C_dd / n) of the mean,
    each sample covariance within 5 standard errors of the products' mean."""
    params = HMMParams(*random_hmm(rng, 3, 3))
    X = sampled(rng, params, 50)
    horizon, n_draws = 3, 400_000
    moments = hmmcore.mixture_moments(hmmcore.forecast_mixture(X, params, horizon=horizon))
    mean, covariance = moments.mean[-1], moments.covariance[-1]
    draws = draw_ahead(rng, params, hmmcore.filtered(X, params).alpha_hat[-1], horizon, n_draws)
    np.testing.assert_array_less(np.abs(draws.mean(axis=0) - mean), 5 * np.sqrt(np.diag(covariance) / n_draws))
    centred = draws - mean
    products = centred[:, :, None] * centred[:, None, :]
    standard_errors = products.std(axis=0) / np.sqrt(n_draws)
    np.testing.assert_array_less(np.abs(products.mean(axis=0) - covariance), 5 * standard_errors)


# -- marginals, distribution function, quantiles ----------------------------------------------------
def test_marginal_density_integrates_the_joint(rng):
    """The marginal's density of feature 1 at y is the integral of the two-feature mixture's
    density over feature 0; and its distribution function is the integral of that density."""
    params = HMMParams(*random_hmm(rng, 3, 2))
    mixture = hmmcore.forecast_mixture(sampled(rng, params, 5), params)
    row = mixture._replace(weights=mixture.weights[-1:])
    marginal = hmmcore.mixture_marginal(row, [1])
    for y in (-1.0, 0.5, 2.0):
        joint = integrate.quad(lambda x: np.exp(hmmcore.mixture_log_density(row, [[x, y]])[0]),
                               -np.inf, np.inf, epsabs=1e-13)[0]
        np.testing.assert_allclose(np.exp(hmmcore.mixture_log_density(marginal, [[y]])[0]), joint,
                                   rtol=1e-8)
        mass = integrate.quad(lambda v: np.exp(hmmcore.mixture_log_density(marginal, [[v]])[0]),
                              -np.inf, y, epsabs=1e-13)[0]
        np.testing.assert_allclose(hmmcore.mixture_cdf(row, [y], feature=1)[0], mass, rtol=1e-8)
    swapped = hmmcore.mixture_marginal(row, [1, 0])
    np.testing.assert_array_equal(swapped.covars[:, 0, 1], row.covars[:, 1, 0])
    np.testing.assert_array_equal(swapped.means[:, 0], row.means[:, 1])


def test_quantiles_against_enumerated_distribution_function(rng):
    """F at the quantile, with F summed over all paths, sum_Q P(Q | O_1..O_t)
    Phi((x - mu_{q_{t+h}}) / sigma_{q_{t+h}}), equals the level."""
    params = HMMParams(*random_hmm(rng, 3, 2))
    X = sampled(rng, params, 4)
    levels = np.array([0.01, 0.05, 0.5, 0.95])
    sd = np.sqrt(params.covars[:, 1, 1])
    for horizon in (1, 2):
        quantiles = hmmcore.mixture_quantile(hmmcore.forecast_mixture(X, params, horizon=horizon),
                                             levels, feature=1)
        for t in range(4):
            extended = np.vstack([log_b_of(X[: t + 1], params), np.zeros((horizon, 3))])
            exact = hmmcore.enumerate_paths(params.startprob, params.transmat, extended)
            posterior = np.exp(exact.log_joint - exact.log_likelihood)
            last = exact.paths[:, -1]
            cdf = [posterior @ stats.norm.cdf(q, params.means[last, 1], sd[last]) for q in quantiles[t]]
            np.testing.assert_allclose(cdf, levels, rtol=0, atol=1e-12)


@pytest.fixture(scope="module")
def sp500_fit():
    """A three-state model of the S&P 500's daily return, 2005-2009 (one EM run)."""
    features = hmmcore.market_features(hmmcore.load_sp500())
    returns = features.loc["2005":"2009", ["return"]].to_numpy()
    start = hmmcore.initial_params(returns, 3, np.random.default_rng(0))
    result = hmmcore.fit_em(returns, start, options=hmmcore.EMOptions(reg_covar=1e-8), n_iter=300,
                            tol=1e-8)
    assert result.collapse is None
    return returns, result.params


@pytest.mark.parametrize("horizon", [1, 5])
def test_quantiles_against_simulation_from_the_fitted_model(sp500_fit, horizon):
    """10^6 draws of O_{T+h} from the fitted model: if the quantile is right, the number of
    draws below it is Binomial(n, level). Tolerance: 4.5 binomial standard deviations (a
    right quantile fails with probability below 1e-5 per level)."""
    returns, params = sp500_fit
    levels = np.array([0.01, 0.05, 0.25, 0.5, 0.95])
    n_draws = 1_000_000
    quantiles = hmmcore.mixture_quantile(hmmcore.forecast_mixture(returns, params, horizon=horizon),
                                         levels)[-1]
    last = hmmcore.filtered(returns, params).alpha_hat[-1]
    draws = draw_ahead(np.random.default_rng(horizon), params, last, horizon, n_draws)
    counts = (draws[:, 0, None] <= quantiles).sum(axis=0)
    sd = np.sqrt(n_draws * levels * (1 - levels))
    np.testing.assert_array_less(np.abs(counts - n_draws * levels), 4.5 * sd)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 5).flatmap(lambda k: st.tuples(
        st.lists(st.floats(0.0, 1.0), min_size=k, max_size=k).filter(lambda w: sum(w) > 1e-3),
        st.lists(st.floats(-5.0, 5.0), min_size=k, max_size=k),
        st.lists(st.floats(0.01, 5.0), min_size=k, max_size=k),
    )),
    st.floats(1e-4, 1 - 1e-4),
)
def test_quantile_lies_in_its_bracket_and_solves_the_equation(components, level):
    """Random mixtures of 1-5 components (some weights 0): F(x_alpha) = alpha with F written
    out with SciPy's normal distribution function, and x_alpha between the smallest and the
    largest of the components' own quantiles."""
    weights, centres, scales = (np.array(v) for v in components)
    weights = weights / weights.sum()
    mixture = PredictiveMixture(weights[None], centres[:, None], (scales**2)[:, None, None])
    present = weights > 0
    own = centres + scales * stats.norm.ppf(level)
    quantile = hmmcore.mixture_quantile(mixture, level)[0]
    assert own[present].min() - 1e-12 <= quantile <= own[present].max() + 1e-12
    np.testing.assert_allclose(weights @ stats.norm.cdf(quantile, centres, scales), level, rtol=0, atol=1e-12)


def test_quantile_shapes_and_a_single_component():
    mixture = PredictiveMixture(np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([[0.0], [1.0]]),
                                np.array([[[4.0]], [[1.0]]]))
    np.testing.assert_allclose(hmmcore.mixture_quantile(mixture, 0.05),
                               [2.0 * stats.norm.ppf(0.05), 1.0 + stats.norm.ppf(0.05)], **TIGHT)
    assert hmmcore.mixture_quantile(mixture, [0.05]).shape == (2, 1)
    assert hmmcore.mixture_quantile(mixture, [0.01, 0.5, 0.99]).shape == (2, 3)


def test_log_density_of_an_outlier_is_finite():
    """A point 40 standard deviations out: each state's density underflows, the log density
    does not (summed in log space)."""
    mixture = PredictiveMixture(np.array([[0.5, 0.5]]), np.zeros((2, 1)), np.array([[[1.0]], [[4.0]]]))
    expected = np.log(0.5) + stats.norm.logpdf(80.0, 0.0, 2.0)  # the wide state dominates
    np.testing.assert_allclose(hmmcore.mixture_log_density(mixture, [[80.0]]), [expected], rtol=1e-12)


# -- the estimator's methods, every covariance type -------------------------------------------------
@pytest.mark.parametrize("covariance_type", hmmcore.COVARIANCE_TYPES)
def test_estimator_methods(covariance_type):
    rng = np.random.default_rng(21)
    truth = typed_params(rng, covariance_type, 2, 2)
    X = sampled(rng, truth, 300)
    model = hmmcore.GaussianHMM(2, covariance_type=covariance_type, random_state=0, n_iter=20).fit(X)
    params = model.params_
    log_b = log_b_of(X[:4], params)
    for horizon in (1, 3):
        proba = model.forecast_state_proba(X[:4], horizon=horizon)
        np.testing.assert_allclose(proba[-1], enumerated_state_forecast(params, log_b, horizon), **TIGHT)
        mixture = model.forecast_mixture(X, horizon=horizon)
        np.testing.assert_array_equal(mixture.weights,
                                      hmmcore.forecast_state_proba(X, params, horizon=horizon))
        np.testing.assert_array_equal(mixture.covars, model.covars_)
    next_proba = model.predict_next_proba(X[:4], n_steps=3)
    for h in (1, 2, 3):
        np.testing.assert_allclose(next_proba[h - 1], enumerated_state_forecast(params, log_b, h), **TIGHT)
    np.testing.assert_array_equal(model.forecast_next(X[:4], n_steps=3).weights, next_proba)


# -- errors ------------------------------------------------------------------------------------------
PARAMS = HMMParams(np.array([0.5, 0.5]), np.array([[0.9, 0.1], [0.2, 0.8]]), np.array([[0.0], [1.0]]),
                   np.ones((2, 1, 1)))


@pytest.mark.parametrize("horizon", [0, -1, 1.5, True, "1", None])
def test_bad_horizon(horizon):
    with pytest.raises(ValueError, match="`horizon` must be an integer >= 1"):
        hmmcore.forecast_state_proba(np.zeros((3, 1)), PARAMS, horizon=horizon)
    with pytest.raises(ValueError, match="`horizon` must be an integer >= 1"):
        hmmcore.forecast_mixture(np.zeros((3, 1)), PARAMS, horizon=horizon)
    with pytest.raises(ValueError, match="`n_steps` must be an integer >= 1"):
        hmmcore.predict_next_proba(np.zeros((3, 1)), PARAMS, n_steps=horizon)
    with pytest.raises(ValueError, match="`n_steps` must be an integer >= 1"):
        hmmcore.propagate_states([0.5, 0.5], PARAMS.transmat, horizon)


def test_bad_probabilities_for_propagation():
    with pytest.raises(ValueError, match="each row of `probabilities` must sum to 1; row 1"):
        hmmcore.propagate_states([[0.5, 0.5], [0.6, 0.6]], PARAMS.transmat, 1)
    with pytest.raises(ValueError, match=r"`probabilities` must have shape \(K,\) or \(n, K\) with K = 2"):
        hmmcore.propagate_states([1.0, 0.0, 0.0], PARAMS.transmat, 1)
    with pytest.raises(ValueError, match="each row of `transmat` must sum to 1"):
        hmmcore.propagate_states([1.0, 0.0], [[0.9, 0.2], [0.2, 0.8]], 1)


@pytest.mark.parametrize("level", [0.0, 1.0, -0.1, 1.2, np.nan, [0.5, 1.0], True, [[0.5]]])
def test_bad_level(level):
    mixture = PredictiveMixture(np.array([[1.0]]), np.zeros((1, 1)), np.ones((1, 1, 1)))
    with pytest.raises(ValueError, match="`level` must"):
        hmmcore.mixture_quantile(mixture, level)


def test_bad_feature():
    mixture = PredictiveMixture(np.array([[1.0]]), np.zeros((1, 3)), np.eye(3)[None])
    for feature in (3, -1):
        with pytest.raises(ValueError, match=r"`feature` must be a column index in 0\.\.2"):
            hmmcore.mixture_quantile(mixture, 0.5, feature=feature)
    with pytest.raises(TypeError, match="`feature` must be an integer"):
        hmmcore.mixture_cdf(mixture, [0.0], feature=0.0)
    with pytest.raises(ValueError, match="`features` must not repeat a column"):
        hmmcore.mixture_marginal(mixture, [1, 1])
    with pytest.raises(ValueError, match=r"`features` must be a column index in 0\.\.2"):
        hmmcore.mixture_marginal(mixture, [0, 5])


def test_bad_mixture_and_points():
    mixture = PredictiveMixture(np.full((2, 2), 0.5), np.zeros((2, 1)), np.ones((2, 1, 1)))
    with pytest.raises(ValueError, match=r"`points` must have 1 column\(s\)"):
        hmmcore.mixture_log_density(mixture, np.zeros((2, 2)))
    with pytest.raises(ValueError, match="`points` must have one row per row of the mixture"):
        hmmcore.mixture_log_density(mixture, np.zeros((3, 1)))
    with pytest.raises(ValueError, match="`values` must be 1-D with one value per row"):
        hmmcore.mixture_cdf(mixture, np.zeros(3))
    with pytest.raises(ValueError, match="each row of `mixture.weights` must sum to 1"):
        hmmcore.mixture_moments(mixture._replace(weights=np.full((2, 2), 0.6)))
    with pytest.raises(ValueError, match=r"`mixture.weights` must have shape \(n, K\)"):
        hmmcore.mixture_moments(mixture._replace(weights=np.full(2, 0.5)))
    with pytest.raises(ValueError, match="`mixture.covars` must be positive definite"):
        hmmcore.mixture_moments(mixture._replace(covars=-np.ones((2, 1, 1))))
    with pytest.raises(TypeError, match="must be an hmmcore.PredictiveMixture"):
        hmmcore.mixture_moments(tuple(mixture))
    with pytest.raises(ValueError, match=r"`points` has 1 missing value.*mixture_marginal"):
        hmmcore.mixture_log_density(mixture, [[np.nan], [0.0]])


def test_the_estimator_names_what_is_missing():
    model = hmmcore.GaussianHMM(n_components=2)
    for method in (model.forecast_state_proba, model.forecast_mixture, model.predict_next_proba,
                   model.forecast_next):
        with pytest.raises(NotFittedError, match="call `fit`"):
            method(np.zeros((3, 1)))
    model.params_ = PARAMS
    with pytest.raises(ValueError, match="`horizon` must be an integer >= 1"):
        model.forecast_state_proba(np.zeros((3, 1)), horizon=0)
    with pytest.raises(ValueError, match="`n_steps` must be an integer >= 1"):
        model.predict_next_proba(np.zeros((3, 1)), n_steps=0)
    with pytest.raises(ValueError, match="`X` has 2 features but the model has n_features = 1"):
        model.forecast_next(np.zeros((3, 2)))
