"""The E-step: the scaled forward and backward recursions, gamma, summed xi, log-likelihood.

Each recursion is written once, as the loop over t that chapter 4 derives, and compiled with
numba (``@njit(cache=True, nogil=True)``, no ``fastmath``: results are reproducible to the
bit). The compiled loop is the one a reader reads.

The variables are Rabiner's *scaled* ones:

* ``alpha_hat[t, i] = P(q_t = i | O_1..O_t)``, the filtered probability;
* ``log_scale[t] = log c_t = log P(O_t | O_1..O_{t-1})``, so ``sum_t log c_t = log P(O | lambda)``
  (Eq. 16);
* ``beta_hat[t, i] = beta_t(i) / P(O_{t+1}..O_T | O_1..O_t)``,

so that ``gamma_t(i) = alpha_hat[t, i] * beta_hat[t, i]`` (Eq. 17) needs no further division.

**Floating point.** Densities of daily returns exceed one and an outlier can have a
log-density of -10^8, so ``b_j(O_t)`` is never formed on its own: at each step the
log-densities are shifted by ``m_t``, the largest of them, and the shift is added back to
``log c_t``; every relative density is then at most 1, so nothing overflows. The state that
attains ``m_t`` contributes its predicted probability times 1 to ``c_t e^{-m_t}``. That
probability is 0 when ``pi`` or ``A`` has zeros, and if every allowed state's relative density
underflows the step is redone with ``m_t`` the largest log-density among the allowed states
(the log-space fallback). A state the past makes impossible gets ``alpha_hat = 0`` and
``gamma = 0``, never NaN.

Inference knows nothing about Gaussians: it takes ``log_b[t, k] = log b_k(O_t)``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from .validation import check_hmm_sequence, check_log_scale


class Forward(NamedTuple):
    """Result of the forward pass."""

    alpha_hat: np.ndarray
    """(T, K) filtered probabilities P(q_t = i | O_1..O_t): the scaled alpha."""
    log_scale: np.ndarray
    """(T,) log c_t = log P(O_t | O_1..O_{t-1})."""
    log_likelihood: float
    """log P(O | lambda) = sum_t log c_t, :eq:`e-step-log-likelihood`."""


class Posteriors(NamedTuple):
    """Everything the E-step produces for one sequence."""

    log_likelihood: float
    """log P(O | lambda), :eq:`seed-16`, summed in log space."""
    gamma: np.ndarray
    """(T, K) gamma_t(i) = P(q_t = i | O), :eq:`seed-17`."""
    xi_sum: np.ndarray
    """(K, K) sum over t of xi_t(i, j), :eq:`seed-21`: the expected number of i -> j transitions."""
    xi: np.ndarray | None
    """(T-1, K, K) xi_t(i, j) = P(q_t = i, q_{t+1} = j | O), :eq:`seed-21`; None unless requested."""
    alpha_hat: np.ndarray
    """(T, K) scaled forward variables (filtered probabilities)."""
    beta_hat: np.ndarray
    """(T, K) scaled backward variables."""
    log_scale: np.ndarray
    """(T,) log c_t."""


class ImpossibleObservationError(ValueError):
    """The observations have probability zero under the parameters."""

    def __init__(self, t: int):
        super().__init__(
            f"the observations have probability zero under these parameters (first at time "
            f"step {t}): no state that can be reached gives O_t a positive density."
        )
        self.t = t


class EStepBuffers(NamedTuple):
    """The arrays the E-step writes, one row per time step. :func:`hmmcore.fit_em` makes them
    once and passes them to every iteration's :func:`hmmcore.posteriors`, so that an iteration
    allocates no array as long as the data: freeing and allocating such arrays each time made
    the C library return memory to the system and fault it back in, in some processes up to
    0.9 ms an iteration, more than the forward and backward recursions together."""

    shift: np.ndarray
    """(T,) :math:`m_t`, each step's largest log-density."""
    density: np.ndarray
    """(T, K) the densities relative to :math:`e^{m_t}`."""
    alpha_hat: np.ndarray
    """(T, K) the filtered probabilities."""
    scale: np.ndarray
    """(T,) :math:`c_t e^{-m_t}`."""
    log_scale: np.ndarray
    r"""(T,) :math:`\log c_t`."""
    beta_hat: np.ndarray
    """(T, K) the scaled backward variables."""
    gamma: np.ndarray
    """(T, K) the smoothed probabilities, stored by column (Fortran order): the M-step's sums over
    t read each state's column contiguously."""
    log_b: np.ndarray | None = None
    """(T, K) the emission log-densities (:func:`hmmcore.posteriors` computes them here), or None."""

    @classmethod
    def empty(cls, n_steps: int, n_states: int, *, log_b: bool = False) -> "EStepBuffers":
        """Uninitialised buffers for T = ``n_steps`` and K = ``n_states`` (``log_b``: also one for
        the log-densities)."""
        matrix = lambda: np.empty((n_steps, n_states))  # noqa: E731
        gamma = np.empty((n_steps, n_states), order="F")
        return cls(np.empty(n_steps), matrix(), matrix(), np.empty(n_steps), np.empty(n_steps), matrix(),
                   gamma, matrix() if log_b else None)

    def rows(self, start: int, end: int) -> "EStepBuffers":
        """The buffers of time steps ``start`` to ``end - 1`` (views: one sequence's part)."""
        return EStepBuffers(*(None if array is None else array[start:end] for array in self))


@njit(cache=True, nogil=True)
def _shift_log_densities(log_b, shift, relative):
    """``shift[t] = m_t = max_j log_b[t, j]`` and ``relative[t, j] = log_b[t, j] - m_t``
    (``relative`` is left undefined in a row whose maximum is -inf)."""
    n_steps, n_states = log_b.shape
    for t in range(n_steps):
        largest = log_b[t, 0]
        for j in range(1, n_states):
            if log_b[t, j] > largest:
                largest = log_b[t, j]
        shift[t] = largest
        if largest == -np.inf:
            largest = 0.0
        for j in range(n_states):
            relative[t, j] = log_b[t, j] - largest


def relative_densities(log_b, shift, density):
    """``(m, exp(log_b - m))`` written into ``shift`` and ``density``: each step's largest
    log-density m_t, and every density relative to it (at most 1, so nothing overflows), the
    exponentials computed by numpy at once."""
    _shift_log_densities(log_b, shift, density)
    with np.errstate(under="ignore"):  # a density far below the step's largest is 0 relative to it
        np.exp(density, out=density)
    return shift, density


@njit(cache=True, nogil=True)
def _log_space_fallback(t, log_b, predicted, shift, density, joint):
    r"""Step t of the forward pass redone when every state the past allows has a density that
    underflows next to that of a state it forbids: :math:`m_t` becomes the largest log-density
    among the allowed states (``predicted[j] > 0``), ``shift`` and ``density`` are corrected and
    ``joint`` recomputed. Returns the new :math:`c_t e^{-m_t}`, or 0 if no state is allowed."""
    n_states = log_b.shape[1]
    allowed_shift = -np.inf
    for j in range(n_states):
        if predicted[j] > 0.0 and log_b[t, j] > allowed_shift:
            allowed_shift = log_b[t, j]
    if allowed_shift == -np.inf:
        return 0.0
    shift[t] = allowed_shift
    total = 0.0
    for j in range(n_states):
        density[t, j] = math.exp(log_b[t, j] - allowed_shift) if predicted[j] > 0.0 else 0.0
        joint[j] = predicted[j] * density[t, j]
        total += joint[j]
    return total


@njit(cache=True, nogil=True)
def _forward_loop(startprob, transmat, log_b, shift, density, alpha_hat, scale):
    r"""The scaled forward recursion; returns -1, or the first t at which P(O_t | past) = 0.

    .. math::
        \tilde\alpha_1(j) = \pi_j\, b_j(O_1), \qquad
        \tilde\alpha_t(j) = \Big[\sum_i \hat\alpha_{t-1}(i) A_{ij}\Big] b_j(O_t), \qquad
        c_t = \sum_j \tilde\alpha_t(j), \qquad \hat\alpha_t = \tilde\alpha_t / c_t ,

    with every density taken relative to the step's largest one: ``density[t, j]`` =
    :math:`b_j(O_t)\, e^{-m_t}` and ``scale[t]`` = :math:`c_t\, e^{-m_t}`, where
    ``shift[t]`` = :math:`m_t`. When every state the past allows has a density that
    underflows next to that of a state it forbids, ``scale`` would be 0: the step is then
    redone with :math:`m_t` the largest log-density among the allowed states (the log-space
    fallback, :func:`_log_space_fallback`), and ``shift`` and ``density`` are corrected.

    The prediction divides by :math:`c_{t-1}` after the sum over i,
    :math:`\sum_i \hat\alpha_{t-1}(i) A_{ij} = \big[\sum_i \tilde\alpha_{t-1}(i) A_{ij}\big] / c_{t-1}`,
    so that the processor forms the sum while it computes :math:`1/c_{t-1}` (a division is the
    slowest step of the chain from one t to the next).
    """
    n_steps, n_states = log_b.shape
    predicted = np.empty(n_states)
    joint, previous_joint = np.empty(n_states), np.empty(n_states)  # alpha-tilde_t, alpha-tilde_{t-1}
    inverse_scale = 1.0
    for t in range(n_steps):
        if shift[t] == -np.inf:
            return t
        total = 0.0
        for j in range(n_states):
            if t == 0:
                prediction = startprob[j]
            else:
                prediction = 0.0
                for i in range(n_states):
                    prediction += previous_joint[i] * transmat[i, j]
                prediction *= inverse_scale
            predicted[j] = prediction
            if prediction == 0.0:
                density[t, j] = 0.0
            joint[j] = prediction * density[t, j]
            total += joint[j]
        if not total > 0.0:
            total = _log_space_fallback(t, log_b, predicted, shift, density, joint)
            if not total > 0.0:
                return t
        scale[t] = total
        inverse_scale = 1.0 / total
        for j in range(n_states):
            alpha_hat[t, j] = joint[j] * inverse_scale
        joint, previous_joint = previous_joint, joint
    return -1


@njit(cache=True, nogil=True)
def _backward_loop(transmat, density, scale, beta_hat):
    r"""The scaled backward recursion:

    .. math::
        \hat\beta_T(i) = 1, \qquad
        \hat\beta_t(i) = \sum_j A_{ij}\, \frac{b_j(O_{t+1})}{c_{t+1}}\, \hat\beta_{t+1}(j),

    where :math:`b_j(O_t)/c_t` = ``density[t, j] / scale[t]``.
    """
    n_steps, n_states = density.shape
    for i in range(n_states):
        beta_hat[n_steps - 1, i] = 1.0
    for t in range(n_steps - 2, -1, -1):
        inverse_scale = 1.0 / scale[t + 1]
        for i in range(n_states):
            total = 0.0
            for j in range(n_states):
                total += transmat[i, j] * (density[t + 1, j] * inverse_scale * beta_hat[t + 1, j])
            beta_hat[t, i] = total


#: Time steps per block of the posterior loop: its scratch stays small.
POSTERIOR_BLOCK = 256


@njit(cache=True, nogil=True)
def _posterior_loop(transmat, density, scale, alpha_hat, beta_hat, gamma, xi_sum, xi):
    r"""gamma (Eq. 17) and xi summed over t (Eq. 21) from the scaled alpha and beta:

    .. math::
        \gamma_t(i) = \frac{\hat\alpha_t(i)}{n_t}\,\hat\beta_t(i), \qquad
        \sum_t \xi_t(i, j) = A_{ij} \sum_t \frac{\hat\alpha_t(i)}{n_t}\,
        \frac{b_j(O_{t+1})\, \hat\beta_{t+1}(j)}{c_{t+1}}, \qquad
        n_t = \sum_i \hat\alpha_t(i)\hat\beta_t(i),

    where :math:`n_t` is one up to rounding (dividing by it removes the rounding). Every factor
    is finite (the forward pass sets the relative density of a state the past forbids to 0),
    so a zero in pi, A or alpha_hat gives exact zeros. Each xi_t is also stored in ``xi`` when
    that has T - 1 rows (it is empty otherwise).

    The steps are taken in blocks of ``POSTERIOR_BLOCK``, whose two factors of xi_t are kept in
    small arrays; each of the K^2 sums over t runs in order, carried from block to block, and
    two of them share a pass over the block (with an odd count the last pass computes one sum
    twice), so that the processor adds two independent sums side by side.
    """
    n_steps, n_states = density.shape
    n_pairs = n_states * n_states
    forward_factor = np.empty((POSTERIOR_BLOCK, n_states))  # alpha_hat_t(i) / n_t
    backward_factor = np.empty((POSTERIOR_BLOCK, n_states))  # b_j(O_{t+1}) beta_hat_{t+1}(j) / c_{t+1}
    sums = np.zeros(n_pairs)  # entry i K + j: the sum over t without A_ij
    for start in range(0, n_steps, POSTERIOR_BLOCK):
        size = min(POSTERIOR_BLOCK, n_steps - start)
        for s in range(size):
            t = start + s
            total = 0.0
            for i in range(n_states):
                total += alpha_hat[t, i] * beta_hat[t, i]
            inverse_total = 1.0 / total
            for i in range(n_states):
                forward_factor[s, i] = alpha_hat[t, i] * inverse_total
                gamma[t, i] = forward_factor[s, i] * beta_hat[t, i]
        size = min(size, n_steps - 1 - start)  # xi_t needs step t + 1
        for s in range(size):
            inverse_scale = 1.0 / scale[start + s + 1]
            for j in range(n_states):
                backward_factor[s, j] = density[start + s + 1, j] * inverse_scale * beta_hat[start + s + 1, j]
        for pair in range(0, n_pairs, 2):
            other = min(pair + 1, n_pairs - 1)
            i, j = divmod(pair, n_states)
            other_i, other_j = divmod(other, n_states)
            total, other_total = sums[pair], sums[other]
            for s in range(size):
                total += forward_factor[s, i] * backward_factor[s, j]
                other_total += forward_factor[s, other_i] * backward_factor[s, other_j]
            sums[pair], sums[other] = total, other_total
        if xi.shape[0] == n_steps - 1:
            for s in range(size):
                for i in range(n_states):
                    for j in range(n_states):
                        xi[start + s, i, j] = forward_factor[s, i] * transmat[i, j] * backward_factor[s, j]
    for i in range(n_states):
        for j in range(n_states):
            xi_sum[i, j] = transmat[i, j] * sums[i * n_states + j]


def forward(startprob, transmat, log_b, *, validate: bool = True) -> Forward:
    """The scaled forward pass over one sequence, :eq:`e-step-scaled-recursion`: the filtered
    probabilities, log c_t and log P(O | lambda), :eq:`e-step-log-likelihood`.

    Parameters
    ----------
    startprob : array_like, shape (K,)
    transmat : array_like, shape (K, K)
    log_b : array_like, shape (T, K)
        ``log_b[t, k] = log b_k(O_t)``, e.g. from :func:`hmmcore.gaussian_log_density`;
        ``-inf`` is allowed.
    validate : bool
        False skips the input checks, for callers that made them.

    Returns
    -------
    Forward
        ``alpha_hat`` (T, K), ``log_scale`` (T,), ``log_likelihood``.

    Raises
    ------
    ImpossibleObservationError
        If the observations have probability zero under the parameters.

    Examples
    --------
    With one state the state is certain and log P(O) is the sum of the log-densities:

    >>> result = forward([1.0], [[1.0]], [[-1.0], [-2.0]])
    >>> result.alpha_hat.ravel(), result.log_likelihood
    (array([1., 1.]), -3.0)
    """
    if validate:
        startprob, transmat, log_b = check_hmm_sequence(startprob, transmat, log_b)
    return _forward(startprob, transmat, log_b, EStepBuffers.empty(*log_b.shape))


def _forward(startprob, transmat, log_b, buffers: EStepBuffers) -> Forward:
    """The forward pass, written into ``buffers`` (with the relative densities and scales that
    the backward pass reuses)."""
    shift, density = relative_densities(log_b, buffers.shift, buffers.density)
    impossible_at = _forward_loop(startprob, transmat, log_b, shift, density, buffers.alpha_hat, buffers.scale)
    if impossible_at >= 0:
        raise ImpossibleObservationError(impossible_at)
    log_scale = np.log(buffers.scale, out=buffers.log_scale)
    log_scale += shift
    return Forward(buffers.alpha_hat, log_scale, float(log_scale.sum()))


def backward(transmat, log_b, log_scale, *, validate: bool = True) -> np.ndarray:
    """The scaled backward pass over one sequence, :eq:`e-step-beta-recursion` divided by the
    forward pass's scale factors.

    Parameters
    ----------
    transmat : array_like, shape (K, K)
    log_b : array_like, shape (T, K)
    log_scale : array_like, shape (T,)
        log c_t from :func:`forward`.

    Returns
    -------
    ndarray, shape (T, K)
        ``beta_hat``, with ``alpha_hat * beta_hat`` equal to gamma.

    Examples
    --------
    The product of the scaled forward and backward variables is gamma:

    >>> startprob, transmat = [0.5, 0.5], [[0.9, 0.1], [0.2, 0.8]]
    >>> log_b = np.log([[0.5, 0.1], [0.2, 0.4], [0.3, 0.3]])
    >>> passed = forward(startprob, transmat, log_b)
    >>> beta_hat = backward(transmat, log_b, passed.log_scale)
    >>> gamma = e_step(startprob, transmat, log_b).gamma
    >>> bool(np.allclose(passed.alpha_hat * beta_hat, gamma))
    True
    """
    if validate:
        _, transmat, log_b = check_hmm_sequence(None, transmat, log_b)
        log_scale = check_log_scale(log_scale, log_b.shape[0])
    with np.errstate(over="ignore", under="ignore"):
        density_over_scale = np.exp(log_b - log_scale[:, None])
    # b_j(O_t) / c_t can overflow only for a state the past forbids (c_t >= its predicted
    # probability times b_j(O_t)); as in the forward pass, such a state contributes 0.
    density_over_scale[~np.isfinite(density_over_scale)] = 0.0
    beta_hat = np.empty(log_b.shape)
    _backward_loop(transmat, density_over_scale, np.ones(log_b.shape[0]), beta_hat)
    return beta_hat


def e_step(startprob, transmat, log_b, return_xi: bool = False, *, buffers: EStepBuffers | None = None,
           validate: bool = True) -> Posteriors:
    """The E-step of one sequence: forward, backward, gamma (:eq:`seed-17`) and xi summed over t
    (:eq:`seed-21`).

    Parameters
    ----------
    startprob : array_like, shape (K,)
    transmat : array_like, shape (K, K)
    log_b : array_like, shape (T, K)
    return_xi : bool
        Also store every xi_t, a (T - 1, K, K) array.
    buffers : EStepBuffers, optional
        Arrays of T rows to write into (the result's arrays are then views of them, valid
        until they are written again); None: new ones.

    Returns
    -------
    Posteriors

    Raises
    ------
    ImpossibleObservationError
        If the observations have probability zero under the parameters.

    Examples
    --------
    Each gamma_t is a distribution; the expected transitions add up to T - 1; at the last step
    nothing lies ahead, so gamma_T is the filtered distribution:

    >>> log_b = np.log([[0.5, 0.1], [0.2, 0.4], [0.3, 0.3]])
    >>> post = e_step([0.5, 0.5], [[0.9, 0.1], [0.2, 0.8]], log_b)
    >>> post.gamma.sum(axis=1), round(float(post.xi_sum.sum()), 12)
    (array([1., 1., 1.]), 2.0)
    >>> bool(np.allclose(post.gamma[-1], post.alpha_hat[-1]))
    True
    """
    if validate:
        startprob, transmat, log_b = check_hmm_sequence(startprob, transmat, log_b)
    n_steps, n_states = log_b.shape
    buffers = EStepBuffers.empty(n_steps, n_states) if buffers is None else buffers
    passed = _forward(startprob, transmat, log_b, buffers)
    xi_sum = np.zeros((n_states, n_states))
    xi = np.empty((max(n_steps - 1, 0) if return_xi else 0, n_states, n_states))
    _backward_loop(transmat, buffers.density, buffers.scale, buffers.beta_hat)
    _posterior_loop(transmat, buffers.density, buffers.scale, passed.alpha_hat, buffers.beta_hat, buffers.gamma,
                    xi_sum, xi)
    return Posteriors(
        log_likelihood=passed.log_likelihood,
        gamma=buffers.gamma,
        xi_sum=xi_sum,
        xi=xi if return_xi else None,
        alpha_hat=passed.alpha_hat,
        beta_hat=buffers.beta_hat,
        log_scale=passed.log_scale,
    )


def log_likelihood(startprob, transmat, log_b) -> float:
    """log P(O | lambda) of one sequence, :eq:`seed-16`, from the forward pass alone.

    Parameters
    ----------
    startprob : array_like, shape (K,)
    transmat : array_like, shape (K, K)
    log_b : array_like, shape (T, K)

    Returns
    -------
    float

    Examples
    --------
    States with the same densities cannot be told apart: log P(O) is then the sum of the
    log-densities, whatever pi and A are.

    >>> log_b = [[-1.0, -1.0], [-2.0, -2.0]]
    >>> log_likelihood([0.3, 0.7], [[0.9, 0.1], [0.4, 0.6]], log_b)
    -3.0
    """
    return forward(startprob, transmat, log_b).log_likelihood
