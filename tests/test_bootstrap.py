"""The parametric bootstrap (chapter 12): on data simulated from a well-specified model its
standard errors agree with the observed information's, within Monte Carlo error."""

from __future__ import annotations

import numpy as np
import pytest

import hmmcore


def test_bootstrap_and_information_agree_when_the_model_is_true():
    """K = 2, D = 1, T = 600: the bootstrap standard errors of the 8 natural parameters
    (B = 60) divided by the observed information's at the fit have median within 0.2 of 1
    (the Monte Carlo standard deviation of one ratio is about 1 / sqrt(2 B) = 0.09), and
    every replication's states are aligned with the fit's (no ratio is far off, as a
    label switch would make it)."""
    rng = np.random.default_rng(30)
    truth = hmmcore.HMMParams(np.array([0.5, 0.5]), np.array([[0.95, 0.05], [0.08, 0.92]]),
                              np.array([[-1.0], [1.5]]), np.array([[[1.0]], [[0.6]]]))
    X, _ = hmmcore.sample(truth, 600, rng)
    fitted = hmmcore.fit_em(X, truth, n_iter=2000, tol=1e-10).params
    information = hmmcore.standard_errors(X, fitted, start="fixed")
    boot = hmmcore.parametric_bootstrap(fitted, 600, 60, rng, n_random_starts=1)
    assert boot.names == information.names and boot.replicates.shape == (60, 8)
    ratio = boot.standard_errors / information.standard_errors
    assert abs(np.median(ratio) - 1) < 0.2
    assert np.all((0.6 < ratio) & (ratio < 1.6))
    lower, upper = boot.percentile_interval(0.9)
    assert np.all(lower < fitted_values(information)) and np.all(fitted_values(information) < upper)


def fitted_values(result):
    return result.estimates


def test_bootstrap_checks_its_arguments():
    params = hmmcore.HMMParams(np.full(2, 0.5), np.full((2, 2), 0.5), np.array([[0.0], [1.0]]), np.ones((2, 1, 1)))
    with pytest.raises(ValueError, match="`n_boot`"):
        hmmcore.parametric_bootstrap(params, 100, 0)
    with pytest.raises(ValueError, match="`n_random_starts`"):
        hmmcore.parametric_bootstrap(params, 100, 2, n_random_starts=-1)
    with pytest.raises(ValueError, match="`params.covars` for 'tied'"):
        hmmcore.parametric_bootstrap(params._replace(covars=np.array([[[1.0]], [[2.0]]])), 100, 2,
                                     covariance_type="tied")
