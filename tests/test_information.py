"""The score, the observed information and the standard errors (chapter 12) against
independent oracles: finite differences of the forward log-likelihood (statsmodels' numdiff),
brute force over all K^T paths (hmmcore.enumerate_paths and joint_log_prob), SymPy's
derivatives of the closed forms, EM's measured rate of convergence, and EM's own fixed point
for each covariance type. The published and second-implementation anchors are in
test_information_anchors.py."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
import sympy as sp
from problems import sample_hmm, typed_params
from statsmodels.tools.numdiff import approx_fprime, approx_hess3

import hmmcore
from hmmcore.coordinates import (
    coordinate_layout,
    from_coordinates,
    natural_parameters,
    stationary_derivatives,
    to_coordinates,
    transmat_derivatives,
)
from hmmcore.covariances import n_covariance_parameters
from hmmcore.information import emission_derivatives
from hmmcore.validation import START_CONVENTIONS

CASES = list(itertools.product(hmmcore.COVARIANCE_TYPES, START_CONVENTIONS))


def simulate(rng, params, lengths):
    """Sequences of the given lengths from ``params``, one after another."""
    return np.concatenate([sample_hmm(rng, params, n)[0] for n in lengths])


def forward_log_likelihood(theta, coordinates, X, lengths, startprob):
    """log P(X | lambda(theta)) by hmmcore's forward pass: the finite-difference oracle."""
    return hmmcore.score(X, from_coordinates(theta, coordinates, startprob), lengths)


def richardson_hessian(function, theta, args, step=2e-3):
    """Central second differences at steps h and h/2, combined to cancel the h^2 error."""
    coarse = approx_hess3(theta, function, epsilon=step, args=args)
    fine = approx_hess3(theta, function, epsilon=step / 2, args=args)
    return (4 * fine - coarse) / 3


def newton_gain(information):
    """score^T I^{-1} score / 2: the gain in log-likelihood Newton's step predicts."""
    return 0.5 * information.score @ np.linalg.solve(information.observed, information.score)


# -- coordinates ---------------------------------------------------------------------------------

@pytest.mark.parametrize("covariance_type,start", CASES)
def test_coordinates_round_trip(covariance_type, start):
    params = typed_params(np.random.default_rng(1), covariance_type, 3, 2)
    coordinates = coordinate_layout(3, 2, covariance_type, start)
    back = from_coordinates(to_coordinates(params, coordinates), coordinates, params.startprob)
    if start == "stationary":  # pi(A) by the definition: pi^T A = pi^T
        np.testing.assert_allclose(back.startprob @ params.transmat, back.startprob, rtol=1e-12)
    else:
        np.testing.assert_allclose(back.startprob, params.startprob, rtol=1e-12)
    for name in ("transmat", "means", "covars"):
        np.testing.assert_allclose(getattr(back, name), getattr(params, name), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("covariance_type,start", CASES)
def test_free_parameter_count_is_hmmlearns(covariance_type, start):
    """hmmlearn's count of free scalars (used by its AIC and BIC), less pi's K - 1 unless free."""
    K, D = 3, 3
    expected = (K - 1 if start == "free" else 0) + K * (K - 1) + K * D
    expected += n_covariance_parameters(covariance_type, K, D)
    assert coordinate_layout(K, D, covariance_type, start).size == expected


@pytest.mark.parametrize("covariance_type,start", CASES)
def test_delta_method_jacobian_against_finite_differences(covariance_type, start):
    params = typed_params(np.random.default_rng(2), covariance_type, 3, 2)
    coordinates = coordinate_layout(3, 2, covariance_type, start)
    natural = natural_parameters(params, coordinates)

    def values(theta):
        return natural_parameters(from_coordinates(theta, coordinates, params.startprob), coordinates).values

    numeric = approx_fprime(to_coordinates(params, coordinates), values, centered=True)
    np.testing.assert_allclose(natural.jacobian, numeric, atol=1e-8)


# -- SymPy: the closed forms ----------------------------------------------------------------------

@pytest.mark.parametrize("n_features", [1, 2, 3])
def test_gaussian_derivatives_against_sympy(n_features):
    """The gradient and Hessian of log N(x; mu, L L^T) in (mu, log-diagonal Cholesky)
    coordinates, against SymPy's differentiation of the density written out."""
    D = n_features
    mu, x = sp.symbols(f"mu0:{D}"), sp.symbols(f"x0:{D}")
    pairs = [(a, b) for a in range(D) for b in range(a + 1)]
    chol = {pair: sp.Symbol(f"c{pair[0]}{pair[1]}") for pair in pairs}
    L = sp.zeros(D, D)
    for (a, b), symbol in chol.items():
        L[a, b] = sp.exp(symbol) if a == b else symbol
    z = L.LUsolve(sp.Matrix(x) - sp.Matrix(mu))  # forward substitution
    log_density = (-sp.Rational(D, 2) * sp.log(2 * sp.pi) - sum(chol[(a, a)] for a in range(D))
                   - (z.T * z)[0] / 2)
    variables = list(mu) + [chol[pair] for pair in pairs]
    gradient = sp.Matrix([log_density]).jacobian(variables)
    hessian = sp.hessian(log_density, variables)

    rng = np.random.default_rng(3 + D)
    params = typed_params(rng, "full", 1, D)
    point = rng.normal(size=D) + params.means[0]
    factor = np.linalg.cholesky(params.covars[0])
    values = dict(zip(mu, params.means[0])) | dict(zip(x, point))
    values |= {chol[(a, b)]: (np.log(factor[a, a]) if a == b else factor[a, b]) for a, b in pairs}
    expected_gradient = np.array(gradient.subs(values).evalf(), dtype=float).ravel()
    expected_hessian = np.array(hessian.subs(values).evalf(), dtype=float)

    ours_gradient, ours_information = emission_derivatives(point[None], params, np.ones((1, 1)))
    np.testing.assert_allclose(ours_gradient[0, 0], expected_gradient, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(-ours_information[0], expected_hessian, rtol=1e-10, atol=1e-12)


def test_log_ratio_derivatives_against_sympy():
    """d A_ij / d zeta_il and d^2 A_ij / d zeta_il d zeta_im of a softmax row (K = 3)."""
    zeta = sp.symbols("z0:2")
    denominator = 1 + sum(sp.exp(v) for v in zeta)
    row = [sp.exp(zeta[0]) / denominator, sp.exp(zeta[1]) / denominator, 1 / denominator]
    values = {zeta[0]: 0.3, zeta[1]: -0.8}
    A = np.array([[float(v.subs(values)) for v in row]] * 3)
    dA, d2A = transmat_derivatives(A)
    for j, l in itertools.product(range(3), range(2)):
        assert abs(dA[l, 0, j] - float(sp.diff(row[j], zeta[l]).subs(values))) < 1e-14
        for m in range(2):
            assert abs(d2A[l, m, 0, j] - float(sp.diff(row[j], zeta[l], zeta[m]).subs(values))) < 1e-14


def test_stationary_derivatives_against_sympy():
    """First and second derivatives of the stationary distribution in the log-ratio
    coordinates of A, against SymPy solving pi^T (I - A) = 0, sum pi = 1 for K = 3."""
    K = 3
    zeta = sp.Matrix(K, K - 1, lambda i, l: sp.Symbol(f"z{i}{l}"))
    A = sp.zeros(K, K)
    for i in range(K):
        denominator = 1 + sum(sp.exp(zeta[i, l]) for l in range(K - 1))
        for j in range(K):
            A[i, j] = (sp.exp(zeta[i, j]) if j < K - 1 else 1) / denominator
    pi = sp.Matrix(sp.symbols("p0:3"))
    solution = sp.solve(list((pi.T * (sp.eye(K) - A))[: K - 1]) + [sum(pi) - 1], list(pi), dict=True)[0]
    stationary = [solution[p] for p in pi]
    numbers = np.random.default_rng(4).normal(scale=0.7, size=(K, K - 1))
    values = {zeta[i, l]: numbers[i, l] for i in range(K) for l in range(K - 1)}
    flat = [zeta[i, l] for i in range(K) for l in range(K - 1)]
    ours_pi, ours_dpi, ours_d2pi = stationary_derivatives(np.array(A.subs(values).evalf(), dtype=float))
    for j in range(K):
        assert abs(float(stationary[j].subs(values)) - ours_pi[j]) < 1e-12
        for a, u in enumerate(flat):
            first = sp.diff(stationary[j], u)
            assert abs(float(first.subs(values)) - ours_dpi[a, j]) < 1e-12
            for b, v in enumerate(flat[a:], start=a):
                assert abs(float(sp.diff(first, v).subs(values)) - ours_d2pi[a, b, j]) < 1e-11


# -- finite differences of the forward log-likelihood ----------------------------------------------

@pytest.mark.parametrize("covariance_type,start", CASES)
def test_score_and_information_against_finite_differences(covariance_type, start):
    """Fisher's and Louis' identities against the gradient and Hessian of the forward
    log-likelihood by central differences; two sequences, K = 3, D = 2."""
    rng = np.random.default_rng(5)
    params = typed_params(rng, covariance_type, 3, 2)
    lengths = [70, 50]
    X = simulate(rng, params, lengths)
    coordinates = coordinate_layout(3, 2, covariance_type, start)
    theta = to_coordinates(params, coordinates)
    args = (coordinates, X, lengths, params.startprob)
    information = hmmcore.observed_information(X, params, lengths, covariance_type=covariance_type, start=start)
    assert abs(information.log_likelihood - forward_log_likelihood(theta, *args)) < 1e-9

    numeric_score = approx_fprime(theta, forward_log_likelihood, args=args, centered=True)
    np.testing.assert_allclose(information.score, numeric_score, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(
        hmmcore.score_vector(X, params, lengths, covariance_type=covariance_type, start=start),
        numeric_score, rtol=1e-6, atol=1e-6)

    numeric_hessian = richardson_hessian(forward_log_likelihood, theta, args)
    scale = np.abs(numeric_hessian).max()
    # the oracle's error: rounding eps |log L| / h^2 ~ 2e-8 of the largest entry, truncation
    # O(h^4) ~ 1e-11
    assert np.abs(information.observed + numeric_hessian).max() < 1e-7 * scale
    # and the identity is not met trivially: the missing information is far from 0
    assert np.abs(information.missing).max() > 1e-2 * scale


def test_score_contributions_are_the_scores_of_the_prefixes():
    """The running sum of the per-observation scores up to t is the score of the data up to t,
    computed afresh on the prefix (two sequences: the second starts its own sum)."""
    rng = np.random.default_rng(17)
    params = typed_params(rng, "full", 3, 2)
    X = simulate(rng, params, [30, 25])
    information = hmmcore.observed_information(X, params, [30, 25], start="stationary")
    running = np.cumsum(information.score_contributions[30:], axis=0)
    for t in (1, 2, 11, 25):
        prefix = hmmcore.score_vector(X[30:30 + t], params, start="stationary")
        np.testing.assert_allclose(running[t - 1], prefix, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(information.score_contributions.sum(axis=0), information.score,
                               rtol=1e-10, atol=1e-10)


# -- brute force over every path ------------------------------------------------------------------

def path_log_likelihoods(theta, coordinates, X, paths, startprob):
    """log P(O, Q | lambda(theta)) of every path Q, written out: log pi_{q_1} plus the
    logs of the transitions and of the emission densities along the path."""
    p = from_coordinates(theta, coordinates, startprob)
    log_b = hmmcore.gaussian_log_density(X, p.means, p.covars)
    return (np.log(p.startprob[paths[:, 0]]) + np.log(p.transmat[paths[:, :-1], paths[:, 1:]]).sum(axis=1)
            + log_b[np.arange(len(X)), paths].sum(axis=1))


@pytest.mark.parametrize("covariance_type,start", [("full", "free"), ("tied", "stationary"),
                                                   ("diag", "fixed"), ("spherical", "stationary")])
def test_louis_identity_against_enumeration(covariance_type, start):
    """Over all K^T = 3^5 paths: the posterior mean of the complete-data score is the score,
    its posterior covariance the missing information, and the posterior mean of minus the
    complete-data Hessian (the Hessian of Q(theta | theta_0)) the complete information."""
    rng = np.random.default_rng(6)
    params = typed_params(rng, covariance_type, 3, 2)
    X = simulate(rng, params, [5])
    coordinates = coordinate_layout(3, 2, covariance_type, start)
    theta = to_coordinates(params, coordinates)
    exact = from_coordinates(theta, coordinates, params.startprob)
    brute = hmmcore.enumerate_paths(exact.startprob, exact.transmat,
                                    hmmcore.gaussian_log_density(X, exact.means, exact.covars))
    weights = np.exp(brute.log_joint - brute.log_likelihood)
    args = (coordinates, X, np.asarray(brute.paths), params.startprob)

    path_scores = approx_fprime(theta, path_log_likelihoods, args=args, centered=True)
    mean = weights @ path_scores
    centred = path_scores - mean
    covariance = centred.T @ (weights[:, None] * centred)
    complete = -richardson_hessian(lambda t: weights @ path_log_likelihoods(t, *args), theta, ())

    information = hmmcore.observed_information(X, params, covariance_type=covariance_type, start=start)
    assert abs(information.log_likelihood - brute.log_likelihood) < 1e-10
    np.testing.assert_allclose(information.score, mean, atol=1e-7)
    # the oracles difference log P(O, Q): ~1e-10 (gradient), ~1e-9 (Hessian) relative
    np.testing.assert_allclose(information.missing, covariance, atol=1e-7 * np.abs(covariance).max())
    np.testing.assert_allclose(information.complete, complete, atol=1e-7 * np.abs(complete).max())


# -- the fraction of missing information is EM's rate ----------------------------------------------

def test_em_rate_is_the_largest_fraction_of_missing_information():
    """Dempster, Laird and Rubin (1977): near the maximum EM contracts the error by the largest
    eigenvalue rho of I_c^{-1} I_m, so successive gains in log-likelihood shrink by rho^2.
    hmmcore's EM (pi held fixed, as start="fixed") against the information's rho."""
    rng = np.random.default_rng(22)
    truth = typed_params(rng, "full", 2, 2)
    X = simulate(rng, truth, [300])
    run = hmmcore.fit_em(X, truth, options=hmmcore.EMOptions(update="tmc"), n_iter=800, tol=-np.inf)
    gains = np.diff(run.log_likelihoods)
    previous, current = gains[:-1], gains[1:]
    window = (previous < 1e-5) & (current > 1e-9)  # past the transient, above rounding
    assert window.sum() >= 5
    ratios = current[window] / previous[window]
    information = hmmcore.observed_information(X, run.params, start="fixed")
    rho = np.max(np.real(np.linalg.eigvals(np.linalg.solve(information.complete, information.missing))))
    assert abs(np.median(ratios) - rho**2) < 1e-3 * rho**2


# -- EM's fixed point, Newton, and the estimator's methods -------------------------------------------

@pytest.mark.parametrize("covariance_type", hmmcore.COVARIANCE_TYPES)
def test_score_vanishes_at_the_em_fit_of_each_covariance_type(covariance_type):
    """hmmcore's EM for a covariance type maximises within that type, so at its converged fit
    Newton's predicted gain in that type's coordinates is ~0 (an independent check of the
    coordinate maps: each type's M-step is separate code), while the same fit is not a
    maximum in the unrestricted full coordinates (the check can fail). Eight sequences keep
    pi-hat inside the simplex. Runs the estimator's three methods."""
    rng = np.random.default_rng(18)
    truth = typed_params(rng, covariance_type, 2, 2)
    lengths = [60] * 8
    X = simulate(rng, truth, lengths)
    model = hmmcore.GaussianHMM(2, covariance_type=covariance_type, covars_prior=0.0, n_iter=5000, tol=1e-11,
                                init_params="")
    model.params_ = truth
    model.fit(X, lengths)
    information = model.observed_information(X, lengths)
    # EM stopped at a gain below 1e-11 per iteration: at most ~1e-9 nats remain
    assert newton_gain(information) < 1e-8
    if covariance_type != "full":
        unrestricted = hmmcore.observed_information(X, model.params_, lengths, covariance_type="full")
        assert newton_gain(unrestricted) > 1e-2
    result = model.standard_errors(X, lengths)
    np.testing.assert_array_equal(result.standard_errors, hmmcore.standard_errors(
        X, model.params_, lengths, covariance_type=covariance_type).standard_errors)
    assert np.all(result.standard_errors > 0)
    assert model.pseudo_residuals(X, lengths).normal.shape == X.shape


def test_newton_reaches_the_maximum_em_creeps_to():
    """From a perturbed start Newton reaches, in a few steps, the maximum that EM reaches
    after many iterations (both maximise the likelihood with pi fixed)."""
    rng = np.random.default_rng(19)
    truth = typed_params(rng, "full", 2, 2)
    X = simulate(rng, truth, [400])
    em = hmmcore.fit_em(X, truth, options=hmmcore.EMOptions(update="tmc"), n_iter=5000, tol=1e-12)
    start = truth._replace(means=truth.means + 0.05)
    newton = hmmcore.fit_newton(X, start, start="fixed", tol=1e-14)
    assert newton.converged and newton.n_iter < 15
    assert abs(newton.information.log_likelihood - em.log_likelihoods[-1]) < 1e-8
    for ours, theirs in zip(newton.params, em.params):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


# -- errors --------------------------------------------------------------------------------------------

def em_fit(X, params):
    """EM run to a gain below 1e-10 from ``params`` (pi-hat = gamma_1: a vertex, one sequence)."""
    return hmmcore.fit_em(X, params, n_iter=2000, tol=1e-10).params


def test_boundary_error_names_the_start_probability():
    rng = np.random.default_rng(11)
    params = typed_params(rng, "full", 2, 1)
    X = simulate(rng, params, [300])
    fitted = em_fit(X, params)
    zero = int(np.argmin(fitted.startprob))
    assert fitted.startprob[zero] < 1e-8  # one sequence: pi-hat = gamma_1 is at a vertex
    with pytest.raises(hmmcore.BoundaryError, match=rf"params\.startprob\[{zero}\].*start='fixed'"):
        hmmcore.standard_errors(X, fitted)
    hmmcore.standard_errors(X, fitted, start="fixed")  # conditional on pi: fine


def test_boundary_error_names_the_transition():
    rng = np.random.default_rng(12)
    params = typed_params(rng, "full", 3, 1)
    transmat = params.transmat.copy()
    transmat[2, 2] += transmat[2, 0]
    transmat[2, 0] = 0.0
    params = params._replace(transmat=transmat)
    X = simulate(rng, params, [100])
    with pytest.raises(hmmcore.BoundaryError, match=r"params\.transmat\[2, 0\]") as caught:
        hmmcore.observed_information(X, params, start="fixed")
    assert caught.value.parameter == "params.transmat[2, 0]"


def test_singular_information_names_the_twin_states():
    """State 2 of a fitted 2-state model split into identical twins (states 2 and 3, equal
    rows of A): the likelihood cannot tell them apart, and the error says where. Along the
    direction it reports, the forward log-likelihood (a central second difference) does not
    curve down, and its largest component is among the parameters it names."""
    rng = np.random.default_rng(13)
    base = typed_params(rng, "full", 2, 1)
    X = simulate(rng, base, [300])
    fitted = em_fit(X, base)
    twins = hmmcore.HMMParams(
        np.array([fitted.startprob[0], fitted.startprob[1] / 2, fitted.startprob[1] / 2]),
        np.column_stack([fitted.transmat[[0, 1, 1], 0], fitted.transmat[[0, 1, 1], 1:] * [0.5, 0.5]]),
        fitted.means[[0, 1, 1]],
        fitted.covars[[0, 1, 1]],
    )
    with pytest.raises(hmmcore.SingularInformationError) as caught:
        hmmcore.standard_errors(X, twins, start="fixed")
    direction = caught.value.direction
    coordinates = coordinate_layout(3, 1, "full", "fixed")
    theta = to_coordinates(twins, coordinates)
    args = (coordinates, X, [300], twins.startprob)
    step = 1e-3
    curvature = (forward_log_likelihood(theta + step * direction, *args) - 2 * forward_log_likelihood(theta, *args)
                 + forward_log_likelihood(theta - step * direction, *args)) / step**2
    observed = hmmcore.observed_information(X, twins, start="fixed").observed
    assert curvature > -1e-3 * np.abs(observed).max()
    largest = coordinates.names[int(np.argmax(np.abs(direction * np.sqrt(np.diag(observed)))))]
    assert largest in caught.value.parameters


def test_not_at_maximum_warns():
    rng = np.random.default_rng(14)
    params = hmmcore.HMMParams(np.array([0.5, 0.5]), np.array([[0.9, 0.1], [0.2, 0.8]]),
                               np.array([[-2.0], [2.0]]), np.ones((2, 1, 1)))
    X = simulate(rng, params, [400])
    fitted = em_fit(X, params)
    with warnings.catch_warnings():
        warnings.simplefilter("error", hmmcore.NotAtMaximumWarning)
        hmmcore.standard_errors(X, fitted, start="fixed")  # at the maximum: no warning
    with pytest.warns(hmmcore.NotAtMaximumWarning, match="would raise the log-likelihood"):
        hmmcore.standard_errors(X, fitted._replace(means=fitted.means + 0.2), start="fixed")


def test_rare_transition_warns():
    """50 days in state 1 then 50 in state 2: the transition 2 -> 1 is expected less than
    once, and the warning names it."""
    rng = np.random.default_rng(15)
    params = hmmcore.HMMParams(np.array([0.5, 0.5]), np.array([[0.98, 0.02], [0.02, 0.98]]),
                               np.array([[0.0], [6.0]]), np.ones((2, 1, 1)))
    X = np.concatenate([rng.normal(0.0, 1.0, (50, 1)), rng.normal(6.0, 1.0, (50, 1))])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", hmmcore.NotAtMaximumWarning)
        with pytest.warns(hmmcore.NearBoundaryWarning, match=r"`transmat\[1, 0\]`"):
            hmmcore.standard_errors(X, params, start="fixed")


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"covariance_type": "banded"}, "`covariance_type`"),
        ({"start": "uniform"}, "`start`"),
        ({"covariance_type": "diag"}, r"`params\.covars` for 'diag' must be diagonal"),
        ({"covariance_type": "tied"}, r"`params\.covars` for 'tied' must be one matrix"),
        ({"level": 95}, "`level`"),
        ({"covariance": "sandwich"}, "`covariance`"),
        ({"boundary_tol": -1.0}, "`boundary_tol`"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    rng = np.random.default_rng(16)
    params = typed_params(rng, "full", 2, 2)
    X = simulate(rng, params, [20])
    with pytest.raises(ValueError, match=match):
        hmmcore.standard_errors(X, params, **({"start": "fixed"} | kwargs))


def test_stationary_start_needs_an_irreducible_chain():
    params = hmmcore.HMMParams(np.array([0.5, 0.5]), np.array([[0.9, 0.1], [0.0, 1.0]]),
                               np.array([[0.0], [3.0]]), np.ones((2, 1, 1)))
    with pytest.raises(ValueError, match=r"`params\.transmat` is not irreducible"):
        hmmcore.observed_information(np.zeros((5, 1)), params, start="stationary", boundary_tol=0.0)
