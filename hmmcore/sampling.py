"""Drawing data from a Gaussian HMM: the hidden path by the chain, then each observation from
its state's Gaussian."""

from __future__ import annotations

import numpy as np

from .validation import check_params, check_positive_int, check_random_state, check_state


def sample(params, n_samples: int, random_state=None, first_state=None, *, validate: bool = True):
    """Draw ``n_samples`` observations and their hidden states.

    Parameters
    ----------
    params : HMMParams
        The model, with (K, D, D) covariances.
    n_samples : int
        The number of time steps T.
    random_state : None, int, numpy.random.RandomState or numpy.random.Generator
        None: numpy's global generator; an int: a new ``RandomState(int)`` (scikit-learn's
        rule). With a ``RandomState`` the draws are hmmlearn's, in hmmlearn's order (for each
        step one uniform for the state, then one ``multivariate_normal``), so the samples equal
        hmmlearn's ``sample``. With a ``Generator`` the states are drawn one by one and the
        Gaussian noise all at once through the Cholesky factors: the same distribution, faster.
    first_state : int, optional
        The state of the first observation (e.g. the last state of an earlier call); drawn from
        ``params.startprob`` when None.

    Returns
    -------
    X : ndarray, shape (T, D)
    states : ndarray of int, shape (T,)

    Examples
    --------
    >>> from hmmcore import HMMParams
    >>> params = HMMParams(np.array([1.0, 0.0]), np.array([[0.0, 1.0], [1.0, 0.0]]),
    ...                    np.array([[0.0], [10.0]]), np.array([[[1.0]], [[1.0]]]))
    >>> X, states = sample(params, 4, np.random.default_rng(0))
    >>> states
    array([0, 1, 0, 1])
    """
    if validate:
        params = check_params(params)
        n_samples = check_positive_int(n_samples, "n_samples")
        random_state = check_random_state(random_state)
        if first_state is not None:
            first_state = check_state(first_state, len(params.startprob), "first_state")
    startprob, transmat, means, covars = params
    if isinstance(random_state, np.random.Generator):
        states = np.empty(n_samples, dtype=np.intp)
        states[0] = random_state.choice(len(startprob), p=startprob) if first_state is None else first_state
        for t in range(1, n_samples):
            states[t] = random_state.choice(len(startprob), p=transmat[states[t - 1]])
        noise = random_state.standard_normal((n_samples, means.shape[1]))
        factors = np.linalg.cholesky(covars)
        return means[states] + np.einsum("tij,tj->ti", factors[states], noise), states
    startprob_cdf, transmat_cdf = np.cumsum(startprob), np.cumsum(transmat, axis=1)
    state = int((startprob_cdf > random_state.random_sample()).argmax()) if first_state is None else first_state
    states, X = [state], [random_state.multivariate_normal(means[state], covars[state])]
    for _ in range(n_samples - 1):
        state = int((transmat_cdf[state] > random_state.random_sample()).argmax())
        states.append(state)
        X.append(random_state.multivariate_normal(means[state], covars[state]))
    return np.atleast_2d(X), np.array(states, dtype=int)
