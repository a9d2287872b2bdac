"""Seeded random problems shared by the tests."""

import numpy as np


def random_hmm(rng, n_states, n_features=2):
    """A random parameter set (startprob, transmat, means, covars) with well-conditioned covariances."""
    startprob = rng.dirichlet(np.ones(n_states))
    transmat = rng.dirichlet(np.ones(n_states), size=n_states)
    means = rng.normal(scale=2.0, size=(n_states, n_features))
    factors = rng.normal(size=(n_states, n_features, n_features))
    covars = factors @ np.swapaxes(factors, 1, 2) + 0.5 * np.eye(n_features)
    return startprob, transmat, means, covars
