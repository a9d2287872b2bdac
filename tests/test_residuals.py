"""One-step-ahead pseudo-residuals (chapter 12) against enumeration of the prefix paths with
Schur-complement conditionals (scipy.stats), the forward pass's c_t, 50-digit arithmetic in
the tails (mpmath), SymPy, and their distribution on data simulated from the model."""

from __future__ import annotations

import numpy as np
import sympy as sp
from problems import sample_hmm, typed_params
from scipy import stats

import hmmcore


def test_rosenblatt_conditionals_are_the_cholesky_entries():
    """Given x_1, x_2, feature 3 of N(mu, L L^T) has mean mu_3 + L_31 z_1 + L_32 z_2 and
    variance L_33^2 (z = L^{-1}(x - mu)): SymPy against the Schur-complement formulas."""
    l11, l21, l22, l31, l32, l33 = sp.symbols("l11 l21 l22 l31 l32 l33", positive=True)
    x1, x2, m1, m2, m3 = sp.symbols("x1 x2 m1 m2 m3", real=True)
    L = sp.Matrix([[l11, 0, 0], [l21, l22, 0], [l31, l32, l33]])
    S = L * L.T
    S12, S3 = S[:2, :2], S[2, :2]
    schur_mean = m3 + (S3 * S12.inv() * sp.Matrix([x1 - m1, x2 - m2]))[0]
    schur_variance = S[2, 2] - (S3 * S12.inv() * S3.T)[0]
    z = L[:2, :2].LUsolve(sp.Matrix([x1 - m1, x2 - m2]))
    assert sp.simplify(schur_mean - (m3 + l31 * z[0] + l32 * z[1])) == 0
    assert sp.simplify(schur_variance - l33**2) == 0


def test_densities_multiply_to_the_predictive_density():
    """The product over features of the Rosenblatt conditionals is the one-step-ahead
    density, whose log is the forward pass's log c_t (two sequences, K = 3, D = 3)."""
    rng = np.random.default_rng(8)
    params = typed_params(rng, "full", 3, 3)
    X = np.concatenate([sample_hmm(rng, params, n)[0] for n in (40, 60)])
    result = hmmcore.pseudo_residuals(X, params, [40, 60])
    log_scale = hmmcore.filtered(X, params, [40, 60]).log_scale
    np.testing.assert_allclose(result.log_predictive.sum(axis=1), log_scale, rtol=1e-12, atol=1e-12)


def test_pseudo_residuals_against_enumeration():
    """On a tiny model: P(q_t | O_1..O_{t-1}) by enumerating every path of the prefix, the
    conditional of feature 2 given feature 1 by the Schur complement, and the mixture's
    distribution functions by scipy.stats.norm."""
    rng = np.random.default_rng(9)
    params = typed_params(rng, "full", 2, 2)
    X, _ = sample_hmm(rng, params, 6)
    result = hmmcore.pseudo_residuals(X, params)
    for t in range(6):
        if t == 0:
            predicted = params.startprob
        else:
            log_b = hmmcore.gaussian_log_density(X[:t], params.means, params.covars)
            predicted = hmmcore.enumerate_paths(params.startprob, params.transmat, log_b).gamma[-1] @ params.transmat
        np.testing.assert_allclose(hmmcore.predicted_probabilities(X, params)[t], predicted, rtol=1e-12)
        sd1 = np.sqrt(params.covars[:, 0, 0])
        u1 = predicted @ stats.norm.cdf(X[t, 0], params.means[:, 0], sd1)
        weights = predicted * stats.norm.pdf(X[t, 0], params.means[:, 0], sd1)
        weights /= weights.sum()
        slope = params.covars[:, 1, 0] / params.covars[:, 0, 0]
        mean2 = params.means[:, 1] + slope * (X[t, 0] - params.means[:, 0])
        sd2 = np.sqrt(params.covars[:, 1, 1] - slope * params.covars[:, 1, 0])
        u2 = weights @ stats.norm.cdf(X[t, 1], mean2, sd2)
        np.testing.assert_allclose(result.uniform[t], [u1, u2], rtol=1e-10)
        np.testing.assert_allclose(result.normal[t], stats.norm.ppf([u1, u2]), rtol=1e-8)


def test_pseudo_residuals_are_iid_normal_on_simulated_data():
    """On 200 series simulated from a K = 3, D = 2 model: the Kolmogorov-Smirnov p-values of
    the normal pseudo-residuals are uniform (a KS test of the p-values), and the mean lag-1
    and lag-2 autocorrelations of the residuals and of the squares of the first feature's are
    within 4 standard errors of an i.i.d. series' -1/T."""
    rng = np.random.default_rng(10)
    params = typed_params(rng, "full", 3, 2)
    n_series, n_steps = 200, 250
    p_values, autocorrelations = [], []
    for _ in range(n_series):
        X, _ = hmmcore.sample(params, n_steps, rng)
        normal = hmmcore.pseudo_residuals(X, params).normal
        p_values.append(stats.kstest(normal.ravel(), "norm").pvalue)
        for series in (normal[:, 0], normal[:, 1], normal[:, 0] ** 2):
            centred = series - series.mean()
            autocorrelations.append([centred[lag:] @ centred[:-lag] / (centred @ centred) for lag in (1, 2)])
    assert stats.kstest(p_values, "uniform").pvalue > 0.01
    standard_error = 1 / np.sqrt(n_steps * len(autocorrelations))
    assert np.all(np.abs(np.mean(autocorrelations, axis=0) + 1 / n_steps) < 4 * standard_error)


def test_pseudo_residuals_keep_extreme_tails():
    """Observations 15 and 14 standard deviations out, under a two-state mixture, give the
    normal residuals of 50-digit arithmetic (mpmath), not +-inf or a value capped near 8."""
    import mpmath

    mpmath.mp.dps = 50
    params = hmmcore.HMMParams(np.array([0.5, 0.5]), np.eye(2), np.array([[0.0], [1.0]]), np.ones((2, 1, 1)))
    X = np.array([[15.0], [-14.0]])  # each its own one-step sequence: both start from pi
    result = hmmcore.pseudo_residuals(X, params, lengths=[1, 1])
    for t, x in enumerate(X[:, 0]):
        u = (mpmath.ncdf(x) + mpmath.ncdf(x - 1)) / 2
        expected = float(mpmath.sqrt(2) * mpmath.erfinv(2 * u - 1))
        assert abs(result.normal[t, 0] - expected) < 1e-9 * abs(expected)


def test_the_estimators_method_is_the_function():
    rng = np.random.default_rng(21)
    params = typed_params(rng, "diag", 2, 2)
    X, _ = sample_hmm(rng, params, 50)
    model = hmmcore.GaussianHMM(2, covariance_type="diag")
    model.params_ = params
    np.testing.assert_array_equal(model.pseudo_residuals(X, [20, 30]).normal,
                                  hmmcore.pseudo_residuals(X, params, [20, 30]).normal)
