"""A published value: the Stata fed-funds Markov-switching model (Hamilton-style regression with
a switching mean and a common variance), as used in statsmodels' test suite."""

import numpy as np
from statsmodels.tsa.regime_switching.tests.test_markov_regression import fedfunds

import hmmcore

# Stata's estimates, as published with the statsmodels test suite.
P00, P10 = 0.9820939, 0.0503587
MEANS = (3.70877, 9.556793)
SIGMA = 2.107562
PUBLISHED_LOG_LIKELIHOOD = -508.63592


def test_fed_funds_log_likelihood_matches_stata():
    y = np.asarray(fedfunds, dtype=float)[:, None]
    # statsmodels writes P[i, j] = P(s_t = i | s_{t-1} = j); our A[i, j] = P(q_{t+1} = j | q_t = i).
    transmat = np.array([[P00, 1 - P00], [P10, 1 - P10]])
    eigenvalues, eigenvectors = np.linalg.eig(transmat.T)
    stationary = np.real(eigenvectors[:, np.argmin(np.abs(eigenvalues - 1))])
    stationary /= stationary.sum()
    log_b = hmmcore.gaussian_log_density(y, np.array(MEANS)[:, None], np.full((2, 1, 1), SIGMA**2))
    for value in (
        hmmcore.log_likelihood(stationary, transmat, log_b),
        hmmcore.forward(stationary, transmat, log_b).log_likelihood,
    ):
        assert abs(value - PUBLISHED_LOG_LIKELIHOOD) < 1e-5
