"""The E-step against exact oracles: brute force over all K^T paths, finite differences,
and an independent log-space forward-backward written with numpy."""

import numpy as np
import pytest
from scipy.special import logsumexp

import hmmcore
from hmmlearn import _hmmc

from problems import assert_e_step_equals_enumeration

TIGHT = dict(rtol=1e-12, atol=1e-12, equal_nan=False)


def tiny_problem(rng, n_states=3, n_steps=7):
    startprob = rng.dirichlet(np.ones(n_states))
    transmat = rng.dirichlet(np.ones(n_states), size=n_states)
    log_b = rng.normal(scale=2.0, size=(n_steps, n_states))
    return startprob, transmat, log_b


def log_space_forward(startprob, transmat, log_b):
    """A second, independent implementation: the forward recursion entirely in log space."""
    return log_space_e_step(startprob, transmat, log_b)[0]


def log_space_e_step(startprob, transmat, log_b):
    """An implementation independent of hmmcore's loops: alpha and beta in log space (numpy,
    vectorised over states), each step normalised by its own logsumexp so that every logarithm
    stays of order one and rounding does not grow with log P. Returns (log P, gamma, xi_sum)."""
    n_steps = len(log_b)
    with np.errstate(divide="ignore"):
        log_start, log_transmat = np.log(startprob), np.log(transmat)
    log_alpha = np.empty_like(log_b)  # log P(q_t | O_1..O_t)
    log_beta = np.zeros_like(log_b)  # log beta_t, up to a constant per t
    log_c = np.empty(n_steps)
    unnormalised = log_start + log_b[0]
    for t in range(n_steps):
        if t > 0:
            unnormalised = logsumexp(log_alpha[t - 1][:, None] + log_transmat, axis=0) + log_b[t]
        log_c[t] = logsumexp(unnormalised)
        log_alpha[t] = unnormalised - log_c[t]
    for t in range(n_steps - 2, -1, -1):
        unnormalised = logsumexp(log_transmat + (log_b[t + 1] + log_beta[t + 1])[None, :], axis=1)
        log_beta[t] = unnormalised - logsumexp(unnormalised)
    log_gamma = log_alpha + log_beta
    gamma = np.exp(log_gamma - logsumexp(log_gamma, axis=1, keepdims=True))
    log_xi = log_alpha[:-1, :, None] + log_transmat[None] + (log_b[1:] + log_beta[1:])[:, None, :]
    log_xi -= logsumexp(log_xi, axis=(1, 2), keepdims=True)
    return log_c.sum(), gamma, np.exp(log_xi).sum(axis=0)


@pytest.mark.parametrize("n_steps", [1, 2, 3, 5, 7])
def test_e_step_equals_brute_force(rng, n_steps):
    for _ in range(5):
        startprob, transmat, log_b = tiny_problem(rng, 3, n_steps)
        assert_e_step_equals_enumeration(startprob, transmat, log_b)
        assert hmmcore.e_step(startprob, transmat, log_b).xi is None


def test_filtered_probabilities_equal_brute_force(rng):
    """alpha_hat[t] = P(q_t | O_1..O_t): enumerate paths of the first t+1 observations only."""
    startprob, transmat, log_b = tiny_problem(rng, 3, 6)
    alpha_hat = hmmcore.forward(startprob, transmat, log_b).alpha_hat
    for t in range(6):
        prefix = hmmcore.enumerate_paths(startprob, transmat, log_b[: t + 1])
        np.testing.assert_allclose(alpha_hat[t], prefix.gamma[-1], **TIGHT)


def test_scaled_variables_match_their_definitions(rng):
    """c_t = P(O_t | O_1..t-1) and beta_hat_t = beta_t / P(O_t+1..T | O_1..t), by enumeration."""
    startprob, transmat, log_b = tiny_problem(rng, 2, 5)
    posteriors = hmmcore.e_step(startprob, transmat, log_b)
    prefix_ll = [hmmcore.enumerate_paths(startprob, transmat, log_b[: t + 1]).log_likelihood for t in range(5)]
    np.testing.assert_allclose(posteriors.log_scale, np.diff(prefix_ll, prepend=0.0), **TIGHT)
    np.testing.assert_allclose(posteriors.alpha_hat * posteriors.beta_hat, posteriors.gamma, **TIGHT)


@pytest.mark.parametrize("n_steps", [1, 2, 4, 6])
def test_viterbi_equals_brute_force(rng, n_steps):
    for _ in range(5):
        startprob, transmat, log_b = tiny_problem(rng, 3, n_steps)
        exact = hmmcore.enumerate_paths(startprob, transmat, log_b)
        best = hmmcore.viterbi(startprob, transmat, log_b)
        np.testing.assert_array_equal(best.path, exact.best_path)
        np.testing.assert_allclose(best.log_prob, exact.best_log_prob, **TIGHT)
        np.testing.assert_allclose(best.log_prob, hmmcore.joint_log_prob(best.path, startprob, transmat, log_b), **TIGHT)


def test_gamma_is_gradient_of_log_likelihood_wrt_log_b(rng):
    startprob, transmat, log_b = tiny_problem(rng, 3, 6)
    gamma = hmmcore.e_step(startprob, transmat, log_b).gamma
    step = 1e-6
    numeric = np.empty_like(log_b)
    for index in np.ndindex(log_b.shape):
        up, down = log_b.copy(), log_b.copy()
        up[index] += step
        down[index] -= step
        numeric[index] = (hmmcore.log_likelihood(startprob, transmat, up) - hmmcore.log_likelihood(startprob, transmat, down)) / (2 * step)
    np.testing.assert_allclose(numeric, gamma, rtol=1e-7, atol=1e-9)


def test_xi_sum_is_gradient_of_log_likelihood_wrt_log_transmat(rng):
    """d log P / d log A_ij = sum_t xi_t(i, j), with A's entries treated as free (unnormalised)."""
    startprob, transmat, log_b = tiny_problem(rng, 3, 6)
    xi_sum = hmmcore.e_step(startprob, transmat, log_b).xi_sum
    exact_ll = lambda matrix: hmmcore.enumerate_paths(startprob, matrix / matrix.sum(1, keepdims=True), log_b)
    step = 1e-6
    numeric = np.empty_like(transmat)
    for i, j in np.ndindex(transmat.shape):
        values = []
        for sign in (1, -1):
            scaled = transmat.copy()
            scaled[i, j] *= np.exp(sign * step)
            # Joint probability of each path with the unnormalised A (no renormalisation).
            log_joint = [
                np.log(startprob[p[0]]) + np.log(scaled[p[:-1], p[1:]]).sum() + log_b[np.arange(6), p].sum()
                for p in exact_ll(transmat).paths
            ]
            values.append(logsumexp(log_joint))
        numeric[i, j] = (values[0] - values[1]) / (2 * step)
    np.testing.assert_allclose(numeric, xi_sum, rtol=1e-7, atol=1e-9)


def test_long_sequences_equal_log_space_implementation(rng):
    for n_states, n_steps in [(2, 1000), (3, 17_520), (5, 2_000)]:
        startprob, transmat, _ = tiny_problem(rng, n_states, 1)
        log_b = rng.normal(loc=3.0, scale=4.0, size=(n_steps, n_states))  # positive log-densities too
        ours = hmmcore.e_step(startprob, transmat, log_b)
        log_p, gamma, xi_sum = log_space_e_step(startprob, transmat, log_b)
        np.testing.assert_allclose(ours.log_likelihood, log_p, rtol=1e-12)
        np.testing.assert_allclose(ours.gamma, gamma, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(ours.xi_sum, xi_sum, rtol=1e-9)
        np.testing.assert_allclose(ours.log_likelihood, ours.log_scale.sum(), rtol=1e-14)


def test_forward_and_backward_are_the_e_steps_passes(rng):
    """The public passes give the e_step's own alpha_hat, log c_t and beta_hat."""
    startprob, transmat, log_b = tiny_problem(rng, 3, 200)
    posteriors = hmmcore.e_step(startprob, transmat, log_b)
    passed = hmmcore.forward(startprob, transmat, log_b)
    np.testing.assert_array_equal(passed.alpha_hat, posteriors.alpha_hat)
    np.testing.assert_array_equal(passed.log_scale, posteriors.log_scale)
    beta_hat = hmmcore.backward(transmat, log_b, passed.log_scale)
    np.testing.assert_allclose(beta_hat, posteriors.beta_hat, rtol=1e-12)


def test_invariants(rng):
    startprob, transmat, log_b = tiny_problem(rng, 4, 300)
    posteriors = hmmcore.e_step(startprob, transmat, log_b, return_xi=True)
    np.testing.assert_allclose(posteriors.gamma.sum(axis=1), 1.0, rtol=1e-13)
    # Eq. (22): summing xi_t over j gives gamma_t, and over i gives gamma_{t+1}.
    np.testing.assert_allclose(posteriors.xi.sum(axis=2), posteriors.gamma[:-1], atol=1e-13)
    np.testing.assert_allclose(posteriors.xi.sum(axis=1), posteriors.gamma[1:], atol=1e-13)
    np.testing.assert_allclose(posteriors.xi.sum(axis=0), posteriors.xi_sum, rtol=1e-12)


def returns_scale_problem(rng, n_steps):
    """Daily-return-like data (sigma ~ 1 %), whose densities exceed 1: log-likelihoods are positive."""
    startprob = np.array([0.5, 0.3, 0.2])
    transmat = np.array([[0.98, 0.01, 0.01], [0.02, 0.95, 0.03], [0.02, 0.01, 0.97]])
    means = np.array([[0.0005], [-0.0012], [0.0]])
    covars = np.array([[[0.010**2]], [[0.022**2]], [[0.015**2]]])
    X = rng.normal(scale=0.01, size=(n_steps, 1))
    return startprob, transmat, means, covars, X


def test_outlier_at_ten_thousand_sigma(rng):
    """One observation 10^4 sigma away: every state's density underflows; ours must stay exact."""
    startprob, transmat, means, covars, X = returns_scale_problem(rng, 3000)
    X[1500] = 1e4 * 0.01
    log_b = hmmcore.gaussian_log_density(X, means, covars)
    fast = hmmcore.e_step(startprob, transmat, log_b)
    log_p, gamma, xi_sum = log_space_e_step(startprob, transmat, log_b)
    assert np.all(np.isfinite(fast.gamma)) and np.isfinite(fast.log_likelihood)
    np.testing.assert_allclose(fast.log_likelihood, log_p, rtol=1e-12)
    np.testing.assert_allclose(fast.gamma, gamma, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(fast.xi_sum, xi_sum, rtol=1e-9)
    # At the outlier the widest state (Bear/Crash) must take all the posterior mass.
    assert fast.gamma[1500, 1] > 1 - 1e-12


def test_million_steps_positive_log_likelihood(rng):
    """T = 10^6 on returns-scale data with an outlier: positive log-likelihood, no under/overflow,
    equal to the log-space forward recursion."""
    startprob, transmat, means, covars, X = returns_scale_problem(rng, 1_000_000)
    X[123_456] = 1e4 * 0.01
    log_b = hmmcore.gaussian_log_density(X, means, covars)
    fast = hmmcore.e_step(startprob, transmat, log_b)
    assert np.all(np.isfinite(fast.gamma))
    np.testing.assert_allclose(fast.gamma.sum(axis=1), 1.0, rtol=1e-12)
    # The independent implementation here is hmmlearn's C++ forward pass in log space.
    log_p, log_alpha = _hmmc.forward_log(startprob, transmat, log_b)
    # Both sum 10^6 terms, one of them about -1e7 (the outlier): allow T ulps of the largest.
    rounding = len(log_b) * np.finfo(float).eps * np.abs(fast.log_scale).max()
    np.testing.assert_allclose(fast.log_likelihood, log_p, rtol=0, atol=rounding)
    # hmmlearn's log alpha reaches 7e6 in magnitude: normalising it per step costs a few ulps of that.
    filtered = np.exp(log_alpha - logsumexp(log_alpha, axis=1, keepdims=True))
    log_rounding = 8 * np.finfo(float).eps * np.abs(log_alpha).max()
    np.testing.assert_allclose(fast.alpha_hat, filtered, rtol=log_rounding, atol=1e-12)
    clean = np.delete(log_b, 123_456, axis=0)
    assert hmmcore.log_likelihood(startprob, transmat, clean) > 0


def test_zero_transition_probabilities_fall_back_exactly(rng):
    """A left-to-right chain (zeros in A) with an observation only an unreachable state explains:
    every allowed state's relative density underflows, so the step is redone in log space."""
    startprob = np.array([1.0, 0.0, 0.0])
    transmat = np.array([[0.9, 0.1, 0.0], [0.0, 0.9, 0.1], [0.0, 0.0, 1.0]])
    log_b = rng.normal(size=(40, 3))
    log_b[1] = [-800.0, -900.0, 0.0]  # only state 2 explains O_1, and it cannot be reached at t = 1
    fast = hmmcore.e_step(startprob, transmat, log_b, return_xi=True)
    log_p, gamma, xi_sum = log_space_e_step(startprob, transmat, log_b)
    assert np.all(np.isfinite(fast.gamma)) and np.all(np.isfinite(fast.xi_sum))
    np.testing.assert_allclose(fast.log_likelihood, log_p, rtol=1e-12)
    np.testing.assert_allclose(fast.gamma, gamma, atol=1e-12)
    np.testing.assert_allclose(fast.xi_sum, xi_sum, atol=1e-12)
    assert fast.gamma[1, 2] == 0.0 and fast.gamma[1, 0] > 1 - 1e-12  # unreachable, however well it fits
    assert fast.xi[0, 0, 2] == 0.0 and not np.any(np.isnan(fast.beta_hat))


def test_impossible_observations_raise(rng):
    startprob = np.array([1.0, 0.0])
    transmat = np.array([[1.0, 0.0], [0.0, 1.0]])
    log_b = np.zeros((5, 2))
    log_b[2, 0] = -np.inf
    with pytest.raises(ValueError, match="probability zero"):
        hmmcore.e_step(startprob, transmat, log_b)
    with pytest.raises(ValueError, match="probability zero"):
        hmmcore.viterbi(startprob, transmat, log_b)
