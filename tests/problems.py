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


def sample_hmm(rng, params, n_steps):
    """Draw (X, states) from an HMM with full covariances, written here so that tests of the
    library do not depend on the estimator's ``sample``."""
    startprob, transmat, means, covars = params
    states = np.empty(n_steps, dtype=int)
    states[0] = rng.choice(len(startprob), p=startprob)
    for t in range(1, n_steps):
        states[t] = rng.choice(len(startprob), p=transmat[states[t - 1]])
    X = np.array([rng.multivariate_normal(means[k], covars[k]) for k in states])
    return X, states
