"""Seeded random problems shared by the tests."""

import numpy as np

import hmmcore


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


def model_at(module, values, covariance_type, **options):
    """A GaussianHMM of ``module`` (hmmlearn's ``hmm`` or ``hmmcore``) set to the parameters
    ``values`` (with (K, D, D) covariances of the type's form), started there (``init_params=""``)."""
    model = module.GaussianHMM(len(values[0]), covariance_type=covariance_type, init_params="", **options)
    model.startprob_, model.transmat_, model.means_ = (np.array(value) for value in values[:3])
    model.covars_ = hmmcore.compact_from_full(np.asarray(values[3]), covariance_type)
    return model


def covars_of_type(covars, covariance_type):
    """(K, D, D) matrices turned into valid matrices of ``covariance_type``: their diagonals
    (diag), the mean of each diagonal times I (spherical), the first matrix for every state
    (tied)."""
    covars = np.asarray(covars, dtype=float)
    n_states, n_features = covars.shape[:2]
    variances = np.diagonal(covars, axis1=1, axis2=2)
    return {
        "full": covars,
        "diag": variances[:, :, None] * np.eye(n_features),
        "spherical": variances.mean(axis=1)[:, None, None] * np.eye(n_features),
        "tied": np.repeat(covars[:1], n_states, axis=0),
    }[covariance_type]


def typed_params(rng, covariance_type, n_states=3, n_features=3):
    """A random parameter set (``random_hmm``) whose covariances have the form of ``covariance_type``."""
    startprob, transmat, means, covars = random_hmm(rng, n_states, n_features)
    return hmmcore.HMMParams(startprob, transmat, means, covars_of_type(covars, covariance_type))


TIGHT = dict(rtol=1e-12, atol=1e-12)


def assert_e_step_equals_enumeration(startprob, transmat, log_b):
    """hmmcore's E-step (log-likelihood, gamma, summed xi, every xi) against the sum over all
    K^T paths, to 1e-12."""
    exact = hmmcore.enumerate_paths(startprob, transmat, log_b)
    ours = hmmcore.e_step(startprob, transmat, log_b, return_xi=True)
    np.testing.assert_allclose(ours.log_likelihood, exact.log_likelihood, **TIGHT)
    np.testing.assert_allclose(ours.gamma, exact.gamma, **TIGHT)
    np.testing.assert_allclose(ours.xi_sum, exact.xi_sum, **TIGHT)
    np.testing.assert_allclose(ours.xi, exact.xi, **TIGHT)
    return exact
