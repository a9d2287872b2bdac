"""The M-step functions against the equations written as explicit loops, against the
Q-function they maximise, and on the edge cases (empty states, symmetry, regularisation)."""

import math

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


@pytest.mark.parametrize("n_steps", range(1, 10))
@pytest.mark.parametrize("order", ["C", "F"])
def test_sums_over_t_count_every_step_in_either_layout(rng, n_steps, order):
    """The sums of four partial sums (and the steps left over, T mod 4 of them) against
    math.fsum, the correctly rounded sum, for every remainder and either memory layout."""
    X = np.asarray(rng.normal(size=(n_steps, 2)), order=order)
    gamma = np.asarray(rng.dirichlet(np.ones(3), size=n_steps), order=order)
    occupancies = hmmcore.occupancy(gamma)
    means = hmmcore.update_means(X, gamma)
    for k in range(3):
        occupancy = math.fsum(gamma[:, k])
        assert occupancies[k] == pytest.approx(occupancy, rel=1e-14)
        for d in range(2):
            mean = math.fsum(gamma[:, k] * X[:, d]) / occupancy
            assert means[k, d] == pytest.approx(mean, rel=1e-13, abs=1e-15)


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


def literal_scatter(X, gamma, means):
    """sum_t gamma_t(k) (x_t - mu_k)(x_t - mu_k)^T by a Python loop over t: the oracle."""
    scatter = np.zeros((gamma.shape[1], X.shape[1], X.shape[1]))
    for t in range(len(X)):
        for k in range(gamma.shape[1]):
            deviation = X[t] - means[k]
            scatter[k] += gamma[t, k] * np.outer(deviation, deviation)
    return scatter


def test_covariance_types_against_a_literal_loop(rng):
    """Each covariance type's ML update, from a loop over t written here (not the library's)."""
    X, post, _ = posterior_stats(rng, n_features=3)
    means = hmmcore.update_means(X, post.gamma)
    scatter = literal_scatter(X, post.gamma, means)
    occupancy = post.gamma.sum(axis=0)
    expected = {
        "full": scatter / occupancy[:, None, None],
        "diag": np.diagonal(scatter, axis1=1, axis2=2)[..., None] * np.eye(3) / occupancy[:, None, None],
        "spherical": np.trace(scatter, axis1=1, axis2=2)[:, None, None] * np.eye(3)
        / (3 * occupancy[:, None, None]),
        "tied": np.broadcast_to(scatter.sum(axis=0) / occupancy.sum(), scatter.shape),
    }
    for covariance_type, oracle in expected.items():
        ours = hmmcore.update_covars(X, post.gamma, means, covariance_type=covariance_type)
        np.testing.assert_allclose(ours, oracle, rtol=1e-12, err_msg=covariance_type)


def test_given_occupancies_are_those_the_updates_would_compute(rng):
    """m_step computes N_k once and hands it to both updates: the same numbers to the bit as
    each update computing N_k itself, and N_k taken from the argument (a wrong one shows)."""
    X, post, _ = posterior_stats(rng, n_features=3)
    occupancies = hmmcore.occupancy(post.gamma)
    means = hmmcore.update_means(X, post.gamma)
    np.testing.assert_array_equal(hmmcore.update_means(X, post.gamma, occupancies=occupancies), means)
    for covariance_type in hmmcore.COVARIANCE_TYPES:
        np.testing.assert_array_equal(
            hmmcore.update_covars(X, post.gamma, means, covariance_type=covariance_type, occupancies=occupancies),
            hmmcore.update_covars(X, post.gamma, means, covariance_type=covariance_type),
        )
    np.testing.assert_allclose(hmmcore.update_means(X, post.gamma, occupancies=2 * occupancies), means / 2, rtol=1e-14)
    np.testing.assert_allclose(
        hmmcore.update_covars(X, post.gamma, means, occupancies=2 * occupancies),
        hmmcore.update_covars(X, post.gamma, means) / 2,
        rtol=1e-14,
    )


@pytest.mark.parametrize(
    "occupancies, message",
    [(np.ones(2), r"`occupancies` must have shape \(3,\)"), (-np.ones(3), "`occupancies` has negative"),
     (np.array([1.0, np.nan, 1.0]), "`occupancies`")],
)
def test_bad_occupancies_are_named(rng, occupancies, message):
    X, post, _ = posterior_stats(rng)
    means = hmmcore.update_means(X, post.gamma)
    with pytest.raises(ValueError, match=message):
        hmmcore.update_means(X, post.gamma, occupancies=occupancies)
    with pytest.raises(ValueError, match=message):
        hmmcore.update_covars(X, post.gamma, means, occupancies=occupancies)


def test_priors_enter_as_pseudo_counts(rng):
    """With a normal prior on the means and an inverse-Wishart-type prior on the covariances the
    updates are weighted averages (Gauvain & Lee), written out here from their definitions."""
    X, post, _ = posterior_stats(rng, n_features=2)
    gamma, occupancy = post.gamma, post.gamma.sum(axis=0)
    prior_mean, weight, psi, nu = np.array([0.3, -0.2]), 4.0, 0.5, 6.0
    means = hmmcore.update_means(X, gamma, means_prior=prior_mean, means_weight=weight)
    np.testing.assert_allclose(
        means, (weight * prior_mean + gamma.T @ X) / (weight + occupancy[:, None]), rtol=1e-13
    )
    covars = hmmcore.update_covars(
        X, gamma, means, covars_prior=psi * np.eye(2), covars_weight=nu,
        means_prior=prior_mean, means_weight=weight,
    )
    offset = means - prior_mean
    numerator = psi * np.eye(2) + literal_scatter(X, gamma, means) + weight * np.einsum(
        "ki,kj->kij", offset, offset
    )
    np.testing.assert_allclose(covars, numerator / (nu - 2 + occupancy)[:, None, None], rtol=1e-12)
    transmat = hmmcore.update_transmat(post.xi_sum, transmat_prior=3.0)
    np.testing.assert_allclose(
        transmat, (post.xi_sum + 2.0) / (post.xi_sum + 2.0).sum(axis=1, keepdims=True), rtol=1e-13
    )


def test_a_weight_per_state_weighs_that_state_only(rng):
    """Prior weights given per state, shape (K,), written out state by state: state k's mean
    and covariance take tau_k and nu_k, and no other state's (K = 3 states, D = 2 features)."""
    X, post, _ = posterior_stats(rng, n_features=2)
    gamma, occupancy = post.gamma, post.gamma.sum(axis=0)
    prior_mean, weight, psi, nu = rng.normal(size=(3, 2)), np.array([1.0, 4.0, 9.0]), 0.5, np.array([4.0, 6.0, 9.0])
    means = hmmcore.update_means(X, gamma, means_prior=prior_mean, means_weight=weight)
    for k in range(3):
        expected = (weight[k] * prior_mean[k] + gamma[:, k] @ X) / (weight[k] + occupancy[k])
        np.testing.assert_allclose(means[k], expected, rtol=1e-13)
    covars = hmmcore.update_covars(X, gamma, means, covars_prior=psi, covars_weight=nu,
                                   means_prior=prior_mean, means_weight=weight)
    scatter = literal_scatter(X, gamma, means)
    for k in range(3):
        offset = means[k] - prior_mean[k]
        expected = (psi + scatter[k] + weight[k] * np.outer(offset, offset)) / (nu[k] - 2 + occupancy[k])
        np.testing.assert_allclose(covars[k], expected, rtol=1e-12)


@pytest.mark.parametrize(
    "covariance_type, priors, message",
    [
        ("full", {"means_prior": np.zeros(5)}, r"`means_prior` must be a number or broadcast to shape \(3, 2\)"),
        ("full", {"means_weight": [1.0, 2.0]}, r"`means_weight` must be a number or broadcast to shape \(3,\)"),
        ("diag", {"covars_prior": np.ones((3, 3))}, r"`covars_prior` must be a number or broadcast to shape \(3, 2\)"),
        ("tied", {"covars_weight": [3.0, 4.0, 5.0]}, "`covars_weight` for 'tied' must be one number"),
        ("full", {"startprob_prior": np.inf}, "`startprob_prior` must be finite"),
    ],
)
def test_priors_of_the_wrong_shape_are_named(rng, covariance_type, priors, message):
    X, _, params = posterior_stats(rng)
    options = hmmcore.EMOptions(covariance_type, priors=hmmcore.Priors(**priors))
    with pytest.raises(ValueError, match=message):
        hmmcore.fit_em(X, hmmcore.HMMParams(*params), options=options, n_iter=2)
    with pytest.raises(ValueError, match=message):
        hmmcore.GaussianHMM(3, covariance_type, **priors).fit(X)


def test_regularisation_inside_and_after_the_m_step(rng):
    X, post, _ = posterior_stats(rng)
    means = hmmcore.update_means(X, post.gamma)
    plain = hmmcore.update_covars(X, post.gamma, means)
    inside = hmmcore.update_covars(X, post.gamma, means, reg_covar=1e-3)
    np.testing.assert_allclose(inside, plain + 1e-3 * np.eye(2), rtol=1e-14)
    np.testing.assert_allclose(hmmcore.regularize_covars(plain, 1e-3), inside, rtol=1e-14)
    with pytest.raises(ValueError, match="reg_covar"):
        hmmcore.regularize_covars(plain, -1.0)




def test_a_state_never_left_is_named_by_its_departures():
    """Row i of the transition update divides by the expected departures from i, which can be 0
    while the state's occupancy is not (a state reached only on the last day)."""
    xi_sum = np.array([[3.0, 1.0], [0.0, 0.0]])
    with pytest.raises(ValueError, match=r"state\(s\) \[1\] \(0-based indices\) have zero expected departures"):
        hmmcore.update_transmat(xi_sum)
