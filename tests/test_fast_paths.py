"""The vectorised code paths against literal loops, at the shapes where they branch: block
boundaries of the blocked scan, parameter sets of different kinds in one batch, and data far
from the origin for the expanded sums of the emissions and the M-step."""

import numpy as np
import pytest
from scipy.stats import multivariate_normal

import hmmcore
from hmmcore.inference import block_length
from problems import random_hmm


def block_edge_lengths():
    """T a multiple of the block length, one step short of it and one beyond."""
    lengths = set()
    for n_steps in (49, 400, 2500):
        length = block_length(n_steps)
        lengths |= {length * length - 1, length * length, length * length + 1}
    return sorted(lengths)


@pytest.mark.parametrize("n_steps", block_edge_lengths())
def test_blocked_e_step_equals_reference_at_block_edges(rng, n_steps):
    startprob, transmat, means, covars = random_hmm(rng, 3, 2)
    log_b = hmmcore.gaussian_log_density(rng.normal(scale=2.0, size=(n_steps, 2)), means, covars)
    fast = hmmcore.e_step(startprob, transmat, log_b)
    exact = hmmcore.e_step_reference(startprob, transmat, log_b)
    np.testing.assert_allclose(fast.log_likelihood, exact.log_likelihood, rtol=1e-12)
    for name in ("alpha_hat", "beta_hat", "gamma", "log_scale", "xi_sum"):
        np.testing.assert_allclose(getattr(fast, name), getattr(exact, name), rtol=1e-10, atol=1e-13, err_msg=name)


def test_batch_mixing_fast_and_fallback_sets(rng):
    """One set needs the literal fallback (zeros in A), the others do not; each equals its own run."""
    n_steps = 300
    log_b = rng.normal(size=(n_steps, 3))
    log_b[1] = [-800.0, -900.0, 0.0]
    left_to_right = (np.array([1.0, 0.0, 0.0]), np.array([[0.9, 0.1, 0.0], [0.0, 0.9, 0.1], [0.0, 0.0, 1.0]]))
    sets = [random_hmm(rng, 3)[:2], left_to_right, random_hmm(rng, 3)[:2]]
    batched = hmmcore.e_step(np.stack([s[0] for s in sets]), np.stack([s[1] for s in sets]), np.stack([log_b] * 3))
    for r, (startprob, transmat) in enumerate(sets):
        exact = hmmcore.e_step_reference(startprob, transmat, log_b)
        np.testing.assert_allclose(batched.log_likelihood[r], exact.log_likelihood, rtol=1e-12)
        np.testing.assert_allclose(batched.gamma[r], exact.gamma, rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(batched.xi_sum[r], exact.xi_sum, rtol=1e-10, atol=1e-13)


def test_log_density_far_from_the_origin(rng):
    """Data and means near 1000 with unit spread: whitening x and mu separately stays accurate."""
    _, _, means, covars = random_hmm(rng, 3, 3)
    means += 1000.0
    X = 1000.0 + rng.normal(scale=2.0, size=(100, 3))
    ours = hmmcore.gaussian_log_density(X, means, covars)
    expected = np.column_stack([multivariate_normal(mean, cov).logpdf(X) for mean, cov in zip(means, covars)])
    np.testing.assert_allclose(ours, expected, rtol=1e-10)


@pytest.mark.parametrize("offset", [0.0, 1000.0])
def test_covariance_update_equals_literal_sum_for_any_means(rng, offset):
    """The scatter about arbitrary means (not only the updated ones), written as a loop over t."""
    X = offset + rng.normal(size=(200, 2))
    gamma = rng.dirichlet(np.ones(3), size=200)
    means = offset + rng.normal(size=(3, 2))
    expected = np.empty((3, 2, 2))
    for k in range(3):
        scatter = sum(gamma[t, k] * np.outer(X[t] - means[k], X[t] - means[k]) for t in range(200))
        expected[k] = scatter / gamma[:, k].sum()
    np.testing.assert_allclose(hmmcore.update_covars(X, gamma, means), expected, rtol=1e-10)


def test_threaded_batch_equals_single_thread_bit_for_bit(rng, monkeypatch):
    """Two threads over the halves of a batch give exactly the single-threaded results; an error
    in one half, and the caller's numpy error state, reach the threads' work."""
    from hmmcore import em

    X = hmmcore.simulate_regimes(2_000, rng).X
    starts = [hmmcore.initial_params(X, 3, rng) for _ in range(5)]
    params = hmmcore.HMMParams(*(np.stack(values) for values in zip(*starts)))
    lengths = [1_200, 800]

    def results():
        fitted = hmmcore.fit_em(X, params, lengths, n_iter=4, tol=0.0)
        stepped = hmmcore.em_step(X, params, lengths)[0]
        return em.expected_statistics(X, params, lengths), stepped, fitted.params, fitted.log_likelihoods

    threaded = results()
    monkeypatch.setattr(em, "_THREADS", 1)
    single = results()
    for got, expected in zip(threaded, single):
        assert all(np.array_equal(a, b) for a, b in zip(got, expected))

    monkeypatch.setattr(em, "_THREADS", 2)
    means = params.means.copy()
    means[4] = 1e200  # every state of the last set gives every observation probability 0
    with np.errstate(over="ignore"), pytest.raises(ValueError, match="probability zero"):
        hmmcore.em_step(X, params._replace(means=means))
    with np.errstate(over="raise"), pytest.raises(FloatingPointError):  # the caller's error state applies
        hmmcore.em_step(X, params._replace(means=means))
