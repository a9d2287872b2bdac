"""State labels: relabelling a model or a parameter set by a permutation of its states.

The likelihood does not change when the states are relabelled (chapter 10, identifiability),
so two fits of the same data may list the same regimes in different orders; comparing them
starts by permuting one of them.
"""

from __future__ import annotations

import copy

import numpy as np

from .params import HMMParams
from .validation import check_permutation


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
    >>> params = HMMParams(np.array([0.25, 0.75]), np.array([[0.9, 0.1], [0.2, 0.8]]),
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
