"""The M-step functions against the equations written as explicit loops, against the
Q-function they maximise, and on the edge cases (empty states, symmetry, regularisation)."""

import numpy as np
import pytest

import hmmcore
from problems import random_hmm


def posterior_stats(rng, n_states=3, n_steps=200, n_features=2):
    startprob, transmat, means, covars = random_hmm(rng, n_states, n_features)
    X = rng.normal(scale=2.0, size=(n_steps, n_features))
    log_b = hmmcore.gaussian_log_density(X, means, covars)
    return X, hmmcore.e_step(startprob, transmat, log_b, return_xi=True), (startprob, transmat, means, covars)


def test_update_transmat_is_eq_27(rng):
    _, post, _ = posterior_stats(rng)
    expected = np.empty_like(post.xi_sum)
    for i in range(3):
        for j in range(3):
            expected[i, j] = sum(post.xi[t, i, j] for t in range(len(post.xi))) / sum(
                post.gamma[t, i] for t in range(len(post.gamma) - 1)
            )
    np.testing.assert_allclose(hmmcore.update_transmat(post.xi_sum), expected, rtol=1e-12)
    np.testing.assert_allclose(hmmcore.update_transmat(post.xi_sum).sum(axis=1), 1.0, rtol=1e-14)


def test_update_startprob_is_eq_28(rng):
    _, post, _ = posterior_stats(rng)
    np.testing.assert_allclose(hmmcore.update_startprob(post.gamma), post.gamma[0], rtol=1e-14)
    two = hmmcore.update_startprob(post.gamma, lengths=[120, 80])
    np.testing.assert_allclose(two, (post.gamma[0] + post.gamma[120]) / 2, rtol=1e-14)


def test_update_means_and_covars_are_eqs_35_and_41(rng):
    X, post, _ = posterior_stats(rng)
    means = hmmcore.update_means(X, post.gamma)
    covars = hmmcore.update_covars(X, post.gamma, means)
    for k in range(3):
        weights = post.gamma[:, k]
        mean = sum(w * x for w, x in zip(weights, X)) / weights.sum()
        cov = sum(w * np.outer(x - mean, x - mean) for w, x in zip(weights, X)) / weights.sum()
        np.testing.assert_allclose(means[k], mean, rtol=1e-12)
        np.testing.assert_allclose(covars[k], cov, rtol=1e-12)
        np.testing.assert_array_equal(covars[k], covars[k].T)
        assert np.all(np.linalg.eigvalsh(covars[k]) > 0)


def emission_q(X, gamma, means, covars):
    """Term (III) of Eq. (12): sum_t sum_k gamma_t(k) log b_k(x_t)."""
    return float((gamma * hmmcore.gaussian_log_density(X, means, covars)).sum())


def test_updates_maximise_the_q_function(rng):
    """The closed forms beat every random perturbation of the parameters they maximise."""
    X, post, _ = posterior_stats(rng)
    means = hmmcore.update_means(X, post.gamma)
    covars = hmmcore.update_covars(X, post.gamma, means)
    transmat = hmmcore.update_transmat(post.xi_sum)
    best_emission = emission_q(X, post.gamma, means, covars)
    best_transition = float((post.xi_sum * np.log(transmat)).sum())
    for _ in range(50):
        shift = rng.normal(scale=0.05, size=means.shape)
        factor = np.eye(2) + rng.normal(scale=0.05, size=(3, 2, 2))
        perturbed_covars = factor @ covars @ np.swapaxes(factor, 1, 2)
        assert emission_q(X, post.gamma, means + shift, covars) < best_emission
        assert emission_q(X, post.gamma, means, perturbed_covars) < best_emission
        other = transmat * np.exp(rng.normal(scale=0.05, size=transmat.shape))
        other /= other.sum(axis=1, keepdims=True)
        assert float((post.xi_sum * np.log(other)).sum()) < best_transition


def test_empty_state_keeps_previous_parameters(rng):
    X = rng.normal(size=(30, 2))
    gamma = np.zeros((30, 3))
    gamma[:, 0] = 0.4
    gamma[:, 1] = 0.6  # state 2 is never occupied
    xi_sum = np.zeros((3, 3))
    xi_sum[:2, :2] = 29 * np.array([[0.16, 0.24], [0.24, 0.36]])
    _, transmat, means, covars = random_hmm(rng, 3, 2)
    new_means = hmmcore.update_means(X, gamma, previous=means)
    new_covars = hmmcore.update_covars(X, gamma, new_means, previous=covars)
    new_transmat = hmmcore.update_transmat(xi_sum, previous=transmat)
    for value in (new_means, new_covars, new_transmat):
        assert np.all(np.isfinite(value))
    np.testing.assert_array_equal(new_means[2], means[2])
    np.testing.assert_array_equal(new_covars[2], covars[2])
    np.testing.assert_array_equal(new_transmat[2], transmat[2])
    np.testing.assert_allclose(new_means[0], X.mean(axis=0), rtol=1e-12)


def test_empty_state_without_previous_is_an_error(rng):
    gamma = np.zeros((10, 2))
    gamma[:, 0] = 1.0
    with pytest.raises(ValueError, match="zero expected occupancy"):
        hmmcore.update_means(rng.normal(size=(10, 2)), gamma)


def test_diagonal_update_is_the_diagonal_of_the_full_one(rng):
    X, post, _ = posterior_stats(rng, n_features=3)
    means = hmmcore.update_means(X, post.gamma)
    full = hmmcore.update_covars(X, post.gamma, means)
    diag = hmmcore.update_covars_diag(X, post.gamma, means)
    np.testing.assert_allclose(np.diagonal(diag, axis1=1, axis2=2), np.diagonal(full, axis1=1, axis2=2), rtol=1e-14)
    assert np.all(diag[:, ~np.eye(3, dtype=bool)] == 0)


def test_regularisation_inside_and_after_the_m_step(rng):
    X, post, _ = posterior_stats(rng)
    means = hmmcore.update_means(X, post.gamma)
    plain = hmmcore.update_covars(X, post.gamma, means)
    inside = hmmcore.update_covars(X, post.gamma, means, reg_covar=1e-3)
    np.testing.assert_allclose(inside, plain + 1e-3 * np.eye(2), rtol=1e-14)
    np.testing.assert_allclose(hmmcore.regularize_covars(plain, 1e-3), inside, rtol=1e-14)
    with pytest.raises(ValueError, match="reg_covar"):
        hmmcore.regularize_covars(plain, -1.0)


def test_batched_updates_equal_one_at_a_time(rng):
    X = rng.normal(size=(40, 2))
    gammas = rng.dirichlet(np.ones(3), size=(4, 40))
    means = hmmcore.update_means(X, gammas)
    covars = hmmcore.update_covars(X, gammas, means)
    for r in range(4):
        np.testing.assert_allclose(means[r], hmmcore.update_means(X, gammas[r]), rtol=1e-14)
        np.testing.assert_allclose(covars[r], hmmcore.update_covars(X, gammas[r], means[r]), rtol=1e-13)
