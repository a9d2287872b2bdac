"""Eq. (29) against SciPy's multivariate normal."""

import numpy as np
import pytest
from scipy.stats import multivariate_normal

import hmmcore
from problems import random_hmm


@pytest.mark.parametrize("n_features", [1, 2, 3, 5])
def test_log_density_equals_scipy(rng, n_features):
    _, _, means, covars = random_hmm(rng, 4, n_features)
    X = rng.normal(scale=3.0, size=(50, n_features))
    ours = hmmcore.gaussian_log_density(X, means, covars)
    expected = np.column_stack([multivariate_normal(mean, cov).logpdf(X) for mean, cov in zip(means, covars)])
    np.testing.assert_allclose(ours, expected.reshape(50, 4), rtol=1e-12, atol=1e-12)


def test_a_singular_covariance_is_named(rng):
    _, _, means, covars = random_hmm(rng, 3, 2)
    covars[1] = [[1.0, 1.0], [1.0, 1.0]]  # rank one
    with pytest.raises(ValueError, match=r"`covars\[1\]`"):
        hmmcore.gaussian_log_density(rng.normal(size=(5, 2)), means, covars)
    with pytest.raises(ValueError, match="state 1"):
        hmmcore.gaussian_log_density(rng.normal(size=(5, 2)), means, covars, validate=False)


def test_returns_scale_densities_exceed_one():
    """sigma = 1 %: the density at the mean is 1/(0.01 sqrt(2 pi)) ~ 39.9, so log b > 0."""
    log_b = hmmcore.gaussian_log_density(np.zeros((1, 1)), np.zeros((1, 1)), np.full((1, 1, 1), 1e-4))
    np.testing.assert_allclose(log_b[0, 0], -np.log(0.01 * np.sqrt(2 * np.pi)), rtol=1e-14)
    assert log_b[0, 0] > 0


def test_far_outlier_is_finite():
    log_b = hmmcore.gaussian_log_density(np.array([[100.0]]), np.zeros((2, 1)), np.array([[[1e-4]], [[4e-4]]]))
    assert np.all(np.isfinite(log_b))
    np.testing.assert_allclose(log_b[0, 0], -0.5 * (np.log(2 * np.pi * 1e-4) + 1e8), rtol=1e-14)


def test_the_density_written_into_a_given_array(rng):
    """``out=`` receives exactly the numbers a new array would, and is what is returned; an
    array of the wrong shape or type is named."""
    _, _, means, covars = random_hmm(rng, 3, 2)
    X = rng.normal(size=(40, 2))
    out = np.full((40, 3), np.nan)
    assert hmmcore.gaussian_log_density(X, means, covars, out=out) is out
    np.testing.assert_array_equal(out, hmmcore.gaussian_log_density(X, means, covars))
    for bad in (np.empty((39, 3)), np.empty((40, 3), dtype=np.float32)):
        with pytest.raises(ValueError, match=r"`out` must be a float64 array of shape \(40, 3\)"):
            hmmcore.gaussian_log_density(X, means, covars, out=bad)
