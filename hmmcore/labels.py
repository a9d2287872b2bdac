"""State labels: relabelling a model or a parameter set by a permutation of its states, and
finding the permutation that best matches another fit.

The likelihood does not change when the states are relabelled (chapter 10, identifiability),
so two fits of the same data may list the same regimes in different orders; comparing them
starts by permuting one of them (:func:`permute_states`), by the permutation that matches
their emission densities best (:func:`align_states`, chapter 12).
"""

from __future__ import annotations

import copy

import numpy as np

from .params import HMMParams
from .validation import check_comparable_params, check_permutation


def permute_states(params_or_model, order):
    """Relabel the states: new state ``k`` is old state ``order[k]``.

    Parameters
    ----------
    params_or_model : HMMParams or GaussianHMM
        A parameter set, or a model whose parameters are set (fitted).
    order : sequence of int
        A permutation of ``0, ..., K - 1``.

    Returns
    -------
    HMMParams or GaussianHMM
        A new parameter set, or a relabelled copy of the model.

    Raises
    ------
    ValueError
        If ``order`` is not a permutation of the K states.

    Examples
    --------
    >>> transmat = np.array([[0.9, 0.1], [0.2, 0.8]])
    >>> params = HMMParams(np.array([0.25, 0.75]), transmat,
    ...                    np.array([[0.0], [3.0]]), np.array([[[1.0]], [[2.0]]]))
    >>> swapped = permute_states(params, [1, 0])
    >>> swapped.startprob, swapped.transmat[0]
    (array([0.75, 0.25]), array([0.8, 0.2]))
    """
    if not isinstance(params_or_model, HMMParams):
        model = copy.deepcopy(params_or_model)
        model.params_ = permute_states(model.params_, order)
        return model
    params = params_or_model
    order = check_permutation(order, len(params.startprob))
    return HMMParams(
        params.startprob[order],
        params.transmat[np.ix_(order, order)],
        params.means[order],
        params.covars[order],
    )


def bhattacharyya_distance(mean_a, covar_a, mean_b, covar_b) -> float:
    r"""The Bhattacharyya distance between N(mean_a, covar_a) and N(mean_b, covar_b):
    minus the log of their overlap :math:`\int \sqrt{p\,q}`,

    .. math::
        \tfrac18 (\mu_a - \mu_b)^\top \bar\Sigma^{-1} (\mu_a - \mu_b)
        + \tfrac12 \log \frac{\det \bar\Sigma}{\sqrt{\det\Sigma_a \det\Sigma_b}},
        \qquad \bar\Sigma = \tfrac12(\Sigma_a + \Sigma_b)

    (:eq:`info-bhattacharyya`). Inputs trusted (positive definite covariances).
    """
    pooled = 0.5 * (covar_a + covar_b)
    factor = np.linalg.cholesky(pooled)
    z = np.linalg.solve(factor, mean_a - mean_b)
    log_det_pooled = 2.0 * np.log(np.diag(factor)).sum()
    log_det_a = np.linalg.slogdet(covar_a)[1]
    log_det_b = np.linalg.slogdet(covar_b)[1]
    return float(z @ z / 8.0 + 0.5 * (log_det_pooled - 0.5 * (log_det_a + log_det_b)))


def align_states(params_or_model, reference) -> np.ndarray:
    """The relabelling of ``params_or_model`` that best matches ``reference``'s states.

    The states are matched one to one so that the summed Bhattacharyya distance between the
    matched emission densities is least (the assignment problem, solved exactly by SciPy's
    ``linear_sum_assignment``). The Bhattacharyya distance is minus the log of the overlap
    of two densities: symmetric (which fit is the reference does not change the cost),
    finite for any two Gaussians, invariant under an affine change of the features' units,
    and it weighs a difference of means by the states' spreads and also sees a difference of
    covariances alone (two regimes with the same mean return and different volatilities are
    told apart).

    Parameters
    ----------
    params_or_model : HMMParams or GaussianHMM
        The fit to relabel (a model's ``params_``).
    reference : HMMParams or GaussianHMM
        The fit whose labels to follow: the same number of states and features.

    Returns
    -------
    ndarray of int, shape (K,)
        ``order`` with ``permute_states(params_or_model, order)`` labelled as ``reference``:
        its state k is the old state ``order[k]``.

    Raises
    ------
    ValueError
        If the two have different numbers of states or features, or invalid parameters.

    Examples
    --------
    A refit that lists a calm and a volatile state in the other order:

    >>> transmat = np.array([[0.9, 0.1], [0.2, 0.8]])
    >>> covars = np.array([[[1.0]], [[9.0]]])
    >>> reference = HMMParams(np.array([0.5, 0.5]), transmat,
    ...                       np.array([[0.1], [-0.2]]), covars)
    >>> refit = HMMParams(np.array([0.4, 0.6]), np.array([[0.7, 0.3], [0.1, 0.9]]),
    ...                   np.array([[-0.3], [0.1]]), np.array([[[8.0]], [[1.1]]]))
    >>> order = align_states(refit, reference)
    >>> order, permute_states(refit, order).covars.ravel()
    (array([1, 0]), array([1.1, 8. ]))
    """
    params = params_or_model if isinstance(params_or_model, HMMParams) else params_or_model.params_
    reference = reference if isinstance(reference, HMMParams) else reference.params_
    params, reference = check_comparable_params(params, reference)
    n_states = len(reference.startprob)
    cost = np.array([[bhattacharyya_distance(reference.means[i], reference.covars[i], params.means[j],
                                             params.covars[j]) for j in range(n_states)]
                     for i in range(n_states)])
    # imported on use: scipy.optimize would add 0.1 s to `import hmmcore`
    from scipy.optimize import linear_sum_assignment

    _, order = linear_sum_assignment(cost)
    return order.astype(np.intp)
