"""``align_states`` and the Bhattacharyya distance it matches states by (chapter 12)."""

from __future__ import annotations

import numpy as np
import pytest
from problems import typed_params
from scipy import integrate, stats

import hmmcore
from hmmcore.labels import bhattacharyya_distance


def test_bhattacharyya_distance_is_minus_the_log_overlap_in_one_dimension():
    """-log of the integral of sqrt(p q), by adaptive quadrature."""
    for mean_a, var_a, mean_b, var_b in ((0.0, 1.0, 1.0, 1.0), (0.3, 0.2, -1.0, 4.0), (2.0, 9.0, 2.0, 0.5)):
        overlap, _ = integrate.quad(
            lambda x: np.sqrt(stats.norm.pdf(x, mean_a, np.sqrt(var_a)) * stats.norm.pdf(x, mean_b, np.sqrt(var_b))),
            -np.inf, np.inf, epsabs=1e-13, epsrel=1e-12)
        ours = bhattacharyya_distance(np.array([mean_a]), np.array([[var_a]]), np.array([mean_b]), np.array([[var_b]]))
        assert abs(ours + np.log(overlap)) < 1e-9


def test_bhattacharyya_distance_is_minus_the_log_overlap_in_two_dimensions():
    """The same by two-dimensional quadrature, for two correlated Gaussians."""
    mean_a, mean_b = np.array([0.0, 0.5]), np.array([1.0, -0.5])
    covar_a = np.array([[1.0, 0.6], [0.6, 2.0]])
    covar_b = np.array([[0.5, -0.2], [-0.2, 1.0]])
    a, b = stats.multivariate_normal(mean_a, covar_a), stats.multivariate_normal(mean_b, covar_b)
    overlap, _ = integrate.dblquad(lambda y, x: np.sqrt(a.pdf([x, y]) * b.pdf([x, y])), -9, 9, -9, 9,
                                   epsabs=1e-11, epsrel=1e-10)
    assert abs(bhattacharyya_distance(mean_a, covar_a, mean_b, covar_b) + np.log(overlap)) < 1e-7
    assert bhattacharyya_distance(mean_a, covar_a, mean_b, covar_b) == pytest.approx(
        bhattacharyya_distance(mean_b, covar_b, mean_a, covar_a), rel=1e-14)


def test_align_states_undoes_a_relabelling(rng):
    """A random relabelling of a 4-state model, slightly perturbed as a refit would be, is
    put back in the reference's order, for every covariance type."""
    for covariance_type in hmmcore.COVARIANCE_TYPES:
        reference = typed_params(rng, covariance_type, 4, 3)
        order = rng.permutation(4)
        refit = hmmcore.permute_states(reference, order)
        refit = refit._replace(means=refit.means + 0.01 * rng.normal(size=refit.means.shape))
        aligned = hmmcore.permute_states(refit, hmmcore.align_states(refit, reference))
        np.testing.assert_allclose(aligned.covars, reference.covars)
        np.testing.assert_allclose(aligned.means, reference.means, atol=0.05)


def test_align_states_tells_apart_states_with_equal_means():
    """Two states with the same mean and different variances are matched by their variances
    (a distance between means alone could not)."""
    reference = hmmcore.HMMParams(np.full(2, 0.5), np.full((2, 2), 0.5), np.zeros((2, 1)),
                                  np.array([[[1.0]], [[9.0]]]))
    refit = reference._replace(covars=np.array([[[8.0]], [[1.2]]]))
    np.testing.assert_array_equal(hmmcore.align_states(refit, reference), [1, 0])


def test_align_states_accepts_models_and_checks_shapes(rng):
    reference = typed_params(rng, "full", 3, 2)
    model = hmmcore.GaussianHMM(3, covariance_type="full")
    model.params_ = hmmcore.permute_states(reference, [2, 0, 1])
    np.testing.assert_array_equal(hmmcore.align_states(model, reference), [1, 2, 0])
    with pytest.raises(ValueError, match="`params` has 2 states and 2 features but `reference` has 3 and 2"):
        hmmcore.align_states(typed_params(rng, "full", 2, 2), reference)
    with pytest.raises(ValueError, match="`params` has 3 states and 3 features"):
        hmmcore.align_states(typed_params(rng, "full", 3, 3), reference)
