"""Every input check of hmmcore, in one place.

Each check returns a clean value (a float64 array, an int, ...) or raises ``ValueError``
(``TypeError`` for an input of the wrong kind) whose message names the argument and says what
was expected, so that a mistake is reported where it was made rather than as a NaN or a
``LinAlgError`` further on. Public functions check their inputs once and hand the checked
values down; the functions they call trust them.

Three messages follow scikit-learn's conventions, so that its estimator checks recognise them:
complex data ("Complex data not supported"), sparse matrices ("Sparse data was passed ...")
and empty arrays ("Found array with 0 sample(s) ...", "0 feature(s) ...").
"""

from __future__ import annotations

import itertools
import numbers
import sys

from typing import NamedTuple

import numpy as np

from .covariances import COVARIANCE_TYPES, compact_from_full, compact_shape, covars_prior_shape, full_from_compact
from .missing import MissingPatterns, missing_patterns
from .params import EMOptions, HMMParams, PredictiveMixture, Priors

#: Largest allowed deviation of a probability vector's sum from 1.
PROBABILITY_SUM_TOLERANCE = 1e-8


#: The parameters EM may update, as hmmlearn's ``params`` letters.
PARAMETER_LETTERS = "stmc"


def as_float_array(value, name: str) -> np.ndarray:
    """``value`` as a float64 array, or an error naming ``name`` (scikit-learn's messages for
    sparse and complex input)."""
    if "scipy.sparse" in sys.modules and sys.modules["scipy.sparse"].issparse(value):
        raise TypeError(
            f"Sparse data was passed for `{name}`, but dense data is required. Use "
            "'.toarray()' to convert to a dense numpy array."
        )
    if np.iscomplexobj(value):
        raise ValueError(f"Complex data not supported: `{name}` must be real.")
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise TypeError(f"`{name}` must be an array of numbers; {error}") from None
    return array


def check_finite(array: np.ndarray, name: str) -> None:
    """Every entry finite: NaN marks a missing observation, never a parameter's value."""
    if not np.all(np.isfinite(array)):
        if np.any(np.isnan(array)):
            raise ValueError(
                f"`{name}` contains NaN; every entry must be a finite number. (NaN marks a "
                "missing value in the observations `X` only: was this value fitted, or did a "
                "fit fail?)"
            )
        raise ValueError(f"`{name}` contains infinite values; every entry must be finite.")


def check_observations(X, name: str = "X") -> np.ndarray:
    """A (T, D) matrix of observations with T >= 1 and D >= 1: finite numbers, or NaN where a
    value is missing (chapter 14); ``inf`` is an error, not a missing value."""
    return _observations(X, name)[0]


def _observations(X, name: str) -> tuple[np.ndarray, bool]:
    """``check_observations``, and whether every value is present (one ``isfinite`` scan)."""
    X = as_float_array(X, name)
    if X.ndim != 2:
        hint = " Reshape a single feature with X.reshape(-1, 1)." if X.ndim == 1 else ""
        raise ValueError(f"`{name}` must be 2-D with shape (n_samples, n_features); got shape {X.shape}.{hint}")
    if X.shape[0] < 1:
        raise ValueError(
            f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 is required: "
            f"`{name}` must have at least one sample."
        )
    if X.shape[1] < 1:
        raise ValueError(
            f"Found array with 0 feature(s) (shape={X.shape}) while a minimum of 1 is required: "
            f"`{name}` must have at least one feature."
        )
    complete = bool(np.all(np.isfinite(X)))
    if not complete:
        check_no_infinity(X, name)
    return X, complete


def check_no_infinity(X: np.ndarray, name: str = "X") -> None:
    """No ``inf`` or ``-inf`` in the observations: NaN is a missing value, inf a data error."""
    infinite = np.argwhere(np.isinf(X))
    if infinite.size:
        t, d = (int(i) for i in infinite[0])
        raise ValueError(
            f"`{name}[{t}, {d}]` is {X[t, d]}: an infinite value is not a missing value. Mark a "
            f"missing value with NaN (np.nan); remove or correct an infinite one "
            f"({len(infinite)} in `{name}`)."
        )


def check_complete(X: np.ndarray, what: str, name: str = "X") -> None:
    """No missing value in ``X``, for a computation derived for complete observations only
    (``what`` names it)."""
    missing = np.isnan(X)
    if missing.any():
        t, d = (int(i) for i in np.argwhere(missing)[0])
        raise ValueError(
            f"`{name}` has {int(missing.sum())} missing value(s) (NaN; the first at "
            f"`{name}[{t}, {d}]`): {what} is derived for complete observations and hmmcore does "
            "not compute it with gaps. Fitting, scoring and decoding accept NaN (chapter 14); "
            "pass the complete rows here, or fill the gaps knowingly."
        )


class Observations(NamedTuple):
    """Checked observations: the data, the sequences' lengths and the missing values."""

    X: np.ndarray
    """(T, D) float64, NaN where a value is missing."""
    lengths: list
    """The sequences' lengths (one sequence: ``[T]``)."""
    patterns: MissingPatterns | None
    """The missingness patterns of ``X`` (:func:`hmmcore.missing_patterns`); None when no
    value is missing."""


def check_data(X, lengths=None, name: str = "X", *, fitting: bool = False) -> Observations:
    """Observations and their sequences, with the missing values found once.

    With no value missing this costs what today's checks cost (one ``isfinite`` scan). With
    gaps: a sequence (of ``lengths``) whose every value is missing is an error (it carries no
    information); with ``fitting``, so is a feature that is never observed (a fit cannot
    estimate what it never sees).
    """
    X, complete = _observations(X, name)
    lengths = check_lengths(lengths, X.shape[0])
    if complete:
        return Observations(X, lengths, None)
    patterns = missing_patterns(X)
    empty_rows = patterns.n_observed[patterns.row_pattern] == 0
    for sequence, (start, end) in enumerate(sequence_bounds(lengths)):
        if empty_rows[start:end].all():
            which = f"`{name}`" if len(lengths) == 1 else f"sequence {sequence} of `{name}` (rows {start} to {end - 1})"
            remedy = "" if len(lengths) == 1 else " Remove it from `X` and its entry from `lengths`."
            raise ValueError(
                f"{which} is entirely missing (every value is NaN): it carries no information."
                f"{remedy}"
            )
    if fitting:
        never = np.flatnonzero(~patterns.observed[np.unique(patterns.row_pattern)].any(axis=0))
        if never.size:
            raise ValueError(
                f"feature(s) {never.tolist()} of `{name}` are never observed (every value is "
                "NaN): the data say nothing about their means and variances. Remove those "
                "columns."
            )
    return Observations(X, lengths, patterns)


def check_patterns(given, found: MissingPatterns | None) -> MissingPatterns | None:
    """Patterns passed with ``X`` (``given``; None: not passed) must be the ones found in it."""
    if given is None:
        return found
    same = found is not None and isinstance(given, MissingPatterns) and (
        np.array_equal(given.row_pattern, found.row_pattern)
        and np.array_equal(given.observed, found.observed)
    )
    if not same:
        raise ValueError(
            "`patterns` do not describe the missing values of `X`: pass "
            "hmmcore.missing_patterns(X), or None to have them found."
        )
    return found


class UnobservedFeatureError(ValueError):
    """A state with weight never sees a feature observed: the data say nothing about its mean
    and variance of that feature (chapter 14).

    Attributes
    ----------
    state, feature : int
    iteration : int or None
        The EM iteration whose M-step found it (set by :func:`hmmcore.fit_em`).
    """

    def __init__(self, state: int, feature: int, iteration: int | None = None):
        when = f" at iteration {iteration}" if iteration is not None else ""
        super().__init__(
            f"state {state} has expected occupancy > 0, but feature {feature} is missing in every "
            f"row that state {state} explains{when} (its observed weight is 0): the data say "
            f"nothing about its mean and variance of feature {feature}. Remove feature {feature}, "
            "use fewer states, or start from other parameters."
        )
        self.state = state
        self.feature = feature
        self.iteration = iteration

    def at_iteration(self, iteration: int) -> "UnobservedFeatureError":
        """The same error, saying at which EM iteration it happened."""
        return UnobservedFeatureError(self.state, self.feature, iteration)


def check_observed_weight(occupancies, pattern_weights, observed, empty: float) -> None:
    """Every state with expected occupancy of at least ``empty`` has observed weight
    ``sum_t gamma_t(k) [feature d observed at t]`` of at least ``empty`` for every feature d."""
    observed_weight = np.asarray(pattern_weights).T @ np.asarray(observed, dtype=np.float64)
    unidentified = (np.asarray(occupancies)[:, None] >= empty) & (observed_weight < empty)
    if unidentified.any():
        state, feature = (int(i) for i in np.argwhere(unidentified)[0])
        raise UnobservedFeatureError(state, feature)


def check_n_features(X, n_features: int | None) -> int:
    """The number of features of ``X``, which must equal ``n_features`` when that is known."""
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(
            f"`X` has {X.shape[1]} features but the model has n_features = {n_features} (set by "
            "an earlier fit or by its parameters)."
        )
    return X.shape[1]


def check_enough_samples(X, n_components: int) -> None:
    """At least as many samples as states (k-means needs a point per state)."""
    if X.shape[0] < n_components:
        raise ValueError(f"`X` has {X.shape[0]} samples, fewer than `n_components` = {n_components}.")


def check_lengths(lengths, n_samples: int) -> list[int]:
    """Sequence lengths: positive integers summing to ``n_samples``; ``None`` means one sequence."""
    if lengths is None:
        return [n_samples]
    raw = np.asarray(lengths)
    if raw.ndim != 1 or raw.size == 0:
        raise ValueError(f"`lengths` must be a non-empty 1-D list of sequence lengths; got shape {raw.shape}.")
    if not np.issubdtype(raw.dtype, np.integer):
        if not (np.issubdtype(raw.dtype, np.floating) and np.all(raw == np.round(raw))):
            raise ValueError(f"`lengths` must contain whole numbers; got {raw.tolist()}.")
    values = [int(v) for v in raw]
    if min(values) < 1:
        raise ValueError(f"`lengths` must be positive; got {values}.")
    if sum(values) != n_samples:
        raise ValueError(f"`lengths` must sum to len(X) = {n_samples}; they sum to {sum(values)}.")
    return values


def sequence_bounds(lengths: list[int]) -> list[tuple[int, int]]:
    """(start, end) of each sequence in the concatenated observations, from checked ``lengths``."""
    ends = itertools.accumulate(lengths)
    return [(int(end - length), int(end)) for length, end in zip(lengths, ends)]


def check_startprob(startprob, n_components: int | None = None, name: str = "startprob") -> np.ndarray:
    """A probability vector of K entries."""
    return _check_probabilities(startprob, n_components, name, "a vector of K probabilities", 1)


def check_transmat(transmat, n_components: int | None = None, name: str = "transmat") -> np.ndarray:
    """A K x K matrix whose rows are probability vectors."""
    return _check_probabilities(transmat, n_components, name, "a square K x K matrix", 2)


def _check_probabilities(value, n_components, name: str, what: str, ndim: int) -> np.ndarray:
    array = as_float_array(value, name)
    square = ndim == 1 or (array.ndim == 2 and array.shape[0] == array.shape[1])
    if array.ndim != ndim or not square or (n_components is not None and array.shape[0] != n_components):
        size = f" with K = {n_components}" if n_components is not None else ""
        raise ValueError(f"`{name}` must be {what}{size}; got shape {array.shape}.")
    check_finite(array, name)
    if np.any(array < 0):
        raise ValueError(f"`{name}` has negative entries; probabilities must be >= 0.")
    sums = array.sum(axis=-1)
    if np.any(np.abs(sums - 1.0) > PROBABILITY_SUM_TOLERANCE):
        rows = "each row of " if ndim == 2 else ""
        raise ValueError(f"{rows}`{name}` must sum to 1; got sums {np.round(sums, 10).tolist()}.")
    return array


def check_log_likelihoods(log_b, n_components: int | None = None, name: str = "log_b") -> np.ndarray:
    """A (T, K) matrix of emission log-likelihoods; -inf is allowed, NaN and +inf are not."""
    log_b = as_float_array(log_b, name)
    if log_b.ndim != 2 or log_b.shape[0] < 1:
        raise ValueError(f"`{name}` must have shape (T, K) with T >= 1; got shape {log_b.shape}.")
    if n_components is not None and log_b.shape[1] != n_components:
        raise ValueError(f"`{name}` must have {n_components} columns (one per state); got shape {log_b.shape}.")
    if np.any(np.isnan(log_b)) or np.any(log_b == np.inf):
        raise ValueError(f"`{name}` contains NaN or +inf; log-likelihoods must be finite or -inf.")
    return log_b


def check_hmm_sequence(startprob, transmat, log_b):
    """One parameter set and one sequence: ``startprob`` (K,) (or None when not needed),
    ``transmat`` (K, K), ``log_b`` (T, K)."""
    log_b = check_log_likelihoods(log_b)
    transmat = check_transmat(transmat, log_b.shape[1])
    if startprob is not None:
        startprob = check_startprob(startprob, log_b.shape[1])
    return startprob, transmat, log_b


def check_log_scale(log_scale, n_steps: int) -> np.ndarray:
    """log c_t of a forward pass: one finite number per time step."""
    log_scale = as_float_array(log_scale, "log_scale")
    if log_scale.shape != (n_steps,):
        raise ValueError(f"`log_scale` must have shape ({n_steps},), one entry per time step; got shape {log_scale.shape}.")
    check_finite(log_scale, "log_scale")
    return log_scale


def check_posteriors(gamma, n_steps: int, name: str = "gamma") -> np.ndarray:
    """A (T, K) matrix of state probabilities, one row per observation."""
    gamma = as_float_array(gamma, name)
    if gamma.ndim != 2 or gamma.shape[0] != n_steps:
        raise ValueError(f"`{name}` must have shape ({n_steps}, K), one row per observation; got shape {gamma.shape}.")
    check_finite(gamma, name)
    if np.any(gamma < 0):
        raise ValueError(f"`{name}` has negative entries; posterior probabilities must be >= 0.")
    return gamma


def check_occupancies(occupancies, gamma: np.ndarray) -> np.ndarray:
    """``occupancies`` passed with ``gamma``: None (then they are computed), or its column sums
    N_k, one finite number >= 0 per state."""
    if occupancies is None:
        return None
    occupancies = as_float_array(occupancies, "occupancies")
    if occupancies.shape != (gamma.shape[1],):
        raise ValueError(
            f"`occupancies` must have shape ({gamma.shape[1]},), the sum over t of each column of "
            f"`gamma`; got shape {occupancies.shape}."
        )
    check_finite(occupancies, "occupancies")
    if np.any(occupancies < 0):
        raise ValueError("`occupancies` has negative entries; sums of probabilities are >= 0.")
    return occupancies


def check_output_array(array, shape: tuple, name: str) -> None:
    """An array that results are written into: float64, of exactly ``shape``."""
    if not isinstance(array, np.ndarray) or array.shape != shape or array.dtype != np.float64:
        raise ValueError(
            f"`{name}` must be a float64 array of shape {shape}; got "
            f"{getattr(array, 'dtype', type(array).__name__)} of shape {getattr(array, 'shape', '?')}."
        )


def check_buffers(buffers, X: np.ndarray, params: HMMParams) -> None:
    """E-step buffers for ``X`` under ``params``: every array of T rows (K columns for a matrix),
    with one for the log-densities."""
    n_steps, n_states = X.shape[0], params.startprob.shape[0]
    if buffers.log_b is None:
        raise ValueError("`buffers` needs an array for the log-densities: EStepBuffers.empty(T, K, log_b=True).")
    for name, array in zip(buffers._fields, buffers):
        shape = (n_steps,) if name in ("shift", "scale", "log_scale") else (n_steps, n_states)
        check_output_array(array, shape, f"buffers.{name}")


def check_moments(moments, X: np.ndarray, n_components: int) -> None:
    """The conditional moments an M-step needs when ``X`` has missing values: None only if
    nothing is missing; otherwise those of ``X`` (:func:`hmmcore.conditional_moments`), one
    completed copy of ``X`` per state that agrees with ``X`` wherever a value is observed."""
    missing = np.isnan(X)
    if moments is None:
        if missing.any():
            raise ValueError(
                "`X` has missing values (NaN): the update needs their conditional moments. Pass "
                "`moments=hmmcore.conditional_moments(X, means, covars)`, computed at the "
                "parameters of the E-step."
            )
        return
    completed = as_float_array(moments.completed, "moments.completed")
    if completed.shape != (n_components,) + X.shape:
        raise ValueError(
            f"`moments.completed` must have shape {(n_components,) + X.shape} (K copies of `X`); "
            f"got {completed.shape}."
        )
    check_finite(completed, "moments.completed")
    if not np.array_equal(completed[:, ~missing], np.broadcast_to(X[~missing], (n_components, int((~missing).sum())))):
        raise ValueError("`moments` are not those of `X`: their completed rows differ from `X` where it is observed.")
    row_pattern = np.asarray(moments.patterns.row_pattern)
    covariances = as_float_array(moments.covariances, "moments.covariances")
    if row_pattern.shape != (X.shape[0],) or covariances.shape[1:] != (n_components,) + X.shape[1:] * 2:
        raise ValueError("`moments` do not match `X` and `gamma` (one pattern per row, K states, D x D).")
    check_finite(covariances, "moments.covariances")


def check_means(means, n_components: int | None = None, n_features: int | None = None, name: str = "means") -> np.ndarray:
    means = as_float_array(means, name)
    if means.ndim != 2:
        raise ValueError(f"`{name}` must have shape (K, D); got shape {means.shape}.")
    expected = (n_components, n_features)
    for axis, size in zip((-2, -1), expected):
        if size is not None and means.shape[axis] != size:
            raise ValueError(f"`{name}` must have shape ({n_components}, {n_features}); got shape {means.shape}.")
    check_finite(means, name)
    return means


def check_covars(covars, n_components: int | None = None, n_features: int | None = None, name: str = "covars") -> np.ndarray:
    """Full covariance matrices (K, D, D), each symmetric positive definite."""
    covars = as_float_array(covars, name)
    if covars.ndim != 3 or covars.shape[-1] != covars.shape[-2]:
        raise ValueError(f"`{name}` must have shape (K, D, D) (full covariance matrices); got shape {covars.shape}.")
    if n_components is not None and covars.shape[0] != n_components:
        raise ValueError(f"`{name}` must hold {n_components} matrices; got shape {covars.shape}.")
    if n_features is not None and covars.shape[-1] != n_features:
        raise ValueError(f"`{name}` must hold {n_features} x {n_features} matrices; got shape {covars.shape}.")
    check_finite(covars, name)
    asymmetry = np.abs(covars - np.swapaxes(covars, -1, -2))
    scale = np.maximum(np.abs(covars), np.abs(np.swapaxes(covars, -1, -2)))
    if np.any(asymmetry > 1e-10 * scale + 1e-300):
        raise ValueError(f"`{name}` must be symmetric; some matrix differs from its transpose.")
    eigenvalues = np.linalg.eigvalsh(covars)
    if np.any(eigenvalues <= 0):
        state = int(np.argwhere(eigenvalues <= 0)[0, 0])
        raise ValueError(
            f"`{name}` must be positive definite; `{name}[{state}]` (state {state}) has "
            f"eigenvalue {eigenvalues[state].min():.3g}. Regularise with a positive `reg_covar`."
        )
    return covars


def check_initial_covars(covars) -> np.ndarray:
    """Starting covariances built from the data: positive definite, or a hint at ``min_covar``."""
    if not np.all(np.linalg.eigvalsh(covars) > 0):
        raise ValueError(
            "the data's covariance plus `min_covar` * I is not positive definite (a constant "
            "feature with min_covar = 0?): use `min_covar` > 0."
        )
    return covars


def check_varying_features(X: np.ndarray, name: str = "X") -> np.ndarray:
    """Each feature's variance over its observed values (NaN = missing), which must be > 0:
    a feature with one value wherever it is observed fits no Gaussian."""
    variances = np.nanvar(X, axis=0)
    constant = np.flatnonzero(~(variances > 0))
    if constant.size:
        raise ValueError(
            f"feature(s) {constant.tolist()} of `{name}` take a single value wherever they are "
            "observed: their variance is 0, so no Gaussian fits them. Remove those columns."
        )
    return variances


def check_positive_int(value, name: str) -> int:
    """A whole number >= 1 (``bool`` is not accepted as a number)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"`{name}` must be a positive integer; got {value!r}.")
    return int(value)


def check_n_iter(n_iter) -> int:
    """A whole number >= 0 (0: no iteration)."""
    if isinstance(n_iter, bool) or not isinstance(n_iter, (int, np.integer)) or n_iter < 0:
        raise ValueError(f"`n_iter` must be an integer >= 0; got {n_iter!r}.")
    return int(n_iter)


def check_tol(tol) -> float:
    """Any number but NaN: EM stops when the gain falls below it (``-inf``: never early)."""
    if isinstance(tol, bool) or not isinstance(tol, numbers.Real) or np.isnan(tol):
        raise ValueError(f"`tol` must be a number (or -inf); got {tol!r}.")
    return float(tol)


def check_nonnegative(value, name: str) -> float:
    """A finite number >= 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) or value < 0:
        raise ValueError(f"`{name}` must be a finite number >= 0; got {value!r}.")
    return float(value)


def check_choice(value, name: str, choices: tuple):
    """One of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"`{name}` must be one of {choices}; got {value!r}.")
    return value


def check_covariance_type(covariance_type) -> str:
    return check_choice(covariance_type, "covariance_type", COVARIANCE_TYPES)


def check_letters(letters, name: str = "update") -> str:
    """A string of hmmlearn's parameter letters s(tart), t(ransitions), m(eans), c(ovars)."""
    if not isinstance(letters, str) or set(letters) - set(PARAMETER_LETTERS):
        raise ValueError(
            f"`{name}` must be a string of the letters {PARAMETER_LETTERS!r} (start, transitions, "
            f"means, covariances); got {letters!r}."
        )
    return letters


def check_n_components(n_components) -> int:
    if isinstance(n_components, bool) or not isinstance(n_components, (int, np.integer)):
        raise TypeError(f"`n_components` must be an integer; got {n_components!r}.")
    if n_components < 1:
        raise ValueError(f"`n_components` must be at least 1; got {n_components}.")
    return int(n_components)


def check_monitors(monitors, n_starts: int) -> list:
    """One convergence monitor per starting point."""
    monitors = list(monitors)
    if len(monitors) != n_starts:
        raise ValueError(f"`monitors` must hold one monitor per start ({n_starts}); got {len(monitors)}.")
    return monitors


def check_permutation(order, n_components: int) -> np.ndarray:
    """A permutation of the states 0, ..., K - 1."""
    array = np.asarray(order)
    if array.shape != (n_components,) or sorted(array.tolist()) != list(range(n_components)):
        raise ValueError(
            f"`order` must be a permutation of the states 0..{n_components - 1}; got {order!r}."
        )
    return array.astype(np.intp)


def check_state(state, n_components: int, name: str) -> int:
    """A state index in 0, ..., K - 1."""
    if isinstance(state, bool) or not isinstance(state, (int, np.integer)) or not 0 <= state < n_components:
        raise ValueError(f"`{name}` must be a state index in 0..{n_components - 1}; got {state!r}.")
    return int(state)


def check_random_state(seed):
    """scikit-learn's rule (None: numpy's global ``RandomState``; an int: a new ``RandomState``;
    a ``RandomState`` as it is), and a numpy ``Generator`` passed through."""
    if seed is None or seed is np.random:
        return np.random.mtrand._rand
    if isinstance(seed, (np.random.RandomState, np.random.Generator)):
        return seed
    if isinstance(seed, (numbers.Integral, np.integer)) and not isinstance(seed, bool):
        return np.random.RandomState(seed)
    raise ValueError(
        "`random_state` must be None, an int, a numpy RandomState or a numpy Generator; "
        f"got {seed!r}."
    )


def check_params(params, n_features: int | None = None, name: str = "params") -> HMMParams:
    """One parameter set (startprob, transmat, means, covars) with (K, D, D) covariances, all
    finite, probabilities summing to 1, covariances symmetric positive definite; D must equal
    ``n_features`` when given."""
    if len(params) != 4:
        raise ValueError(f"`{name}` must be (startprob, transmat, means, covars); got {len(params)} items.")
    prefix = "" if name == "params" else f"{name}."
    means = check_means(params[2], n_features=n_features, name=f"{prefix}means")
    n_states = means.shape[0]
    return HMMParams(
        check_startprob(params[0], n_states, f"{prefix}startprob"),
        check_transmat(params[1], n_states, f"{prefix}transmat"),
        means,
        check_covars(params[3], n_states, means.shape[1], f"{prefix}covars"),
    )


def check_broadcast(value, name: str, shape: tuple) -> np.ndarray:
    """A finite number or array broadcast (numpy's rules) to ``shape``, as a new C-ordered
    float64 array: the one form the M-step's compiled updates read."""
    array = as_float_array(value, name)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"`{name}` must be finite; got {value!r}.")
    try:
        return np.array(np.broadcast_to(array, shape), order="C")
    except ValueError:
        raise ValueError(
            f"`{name}` must be a number or broadcast to shape {shape}; got shape {array.shape}."
        ) from None


def check_means_prior(means_prior, means_weight, n_components: int, n_features: int) -> tuple:
    """The means' normal prior: ``means_prior`` broadcast to (K, D), ``means_weight`` to (K,)
    and >= 0 (:func:`check_broadcast`)."""
    means_prior = check_broadcast(means_prior, "means_prior", (n_components, n_features))
    checked_weight = check_broadcast(means_weight, "means_weight", (n_components,))
    if np.any(checked_weight < 0):
        raise ValueError(f"`means_weight` must be >= 0; got {means_weight!r}.")
    return means_prior, checked_weight


def check_priors(priors: Priors, n_components: int, n_features: int, covariance_type: str) -> Priors:
    """The priors, each broadcast to the shape its update reads (:func:`check_broadcast`):
    (K,) and (K, K) for the Dirichlet concentrations, (K, D) for ``means_prior``, (K,) for the
    weights, and for ``covars_prior`` the shape of the numerator it is added to
    (``covars_prior_shape`` of ``hmmcore.covariances``). ``means_weight`` >= 0; for "tied",
    ``covars_weight`` is the same for every state (one matrix pools every state's)."""
    if not isinstance(priors, Priors):
        raise TypeError(f"`priors` must be an hmmcore.Priors; got {type(priors).__name__}.")
    K, D = n_components, n_features
    checked = Priors(
        check_broadcast(priors.startprob_prior, "startprob_prior", (K,)),
        check_broadcast(priors.transmat_prior, "transmat_prior", (K, K)),
        *check_means_prior(priors.means_prior, priors.means_weight, K, D),
        check_broadcast(priors.covars_prior, "covars_prior", covars_prior_shape(covariance_type, K, D)),
        check_broadcast(priors.covars_weight, "covars_weight", (K,)),
    )
    if covariance_type == "tied" and np.any(checked.covars_weight != checked.covars_weight[0]):
        raise ValueError(
            "`covars_weight` for 'tied' must be one number, the same for every state (one matrix "
            f"pools every state's); got {priors.covars_weight!r}."
        )
    return checked


def check_options(options: EMOptions, n_components: int, n_features: int) -> EMOptions:
    """The M-step's options (:class:`hmmcore.EMOptions`), with the priors in the form the
    M-step reads (:func:`check_priors`): the form every ``validate=False`` call must pass."""
    if not isinstance(options, EMOptions):
        raise TypeError(f"`options` must be an hmmcore.EMOptions; got {type(options).__name__}.")
    check_covariance_type(options.covariance_type)
    check_nonnegative(options.reg_covar, "reg_covar")
    check_letters(options.update, "update")
    priors = check_priors(options.priors, n_components, n_features, options.covariance_type)
    return options._replace(priors=priors)


#: What the (K, D, D) matrices of each covariance type look like.
COVARIANCE_FORMS = {
    "full": "symmetric positive definite matrices",
    "diag": "diagonal matrices",
    "spherical": "multiples c_k I of the identity",
    "tied": "one matrix shared by all states",
}


class EMInputs(NamedTuple):
    """The checked inputs of an EM function."""

    X: np.ndarray
    lengths: list
    params: HMMParams
    options: EMOptions
    patterns: MissingPatterns | None
    """The missingness patterns of ``X`` (None: nothing is missing)."""


def check_em_inputs(X, lengths, params, options, name: str = "params", patterns=None) -> EMInputs:
    """``(X, lengths, params, options)`` of an EM function, checked against each other, and
    the missing values of ``X`` (``patterns``, if passed, must be ``X``'s own)."""
    X, lengths, found = check_data(X, lengths, fitting=True)
    params = check_params(params, X.shape[1], name)
    options = check_options(options, len(params.startprob), X.shape[1])
    return EMInputs(X, lengths, params, options, check_patterns(patterns, found))


def check_compact_covars(covars, covariance_type: str, n_components: int, name: str = "covars_") -> np.ndarray:
    """A user's covariances, returned in hmmlearn's storage for ``covariance_type``:
    spherical (K,), diag (K, D), full (K, D, D), tied (D, D). (K, D, D) matrices of the type's
    form are accepted for every type, and so are hmmlearn's (K, D) spherical variances after
    ``fit`` (equal along D)."""
    check_covariance_type(covariance_type)
    covars = as_float_array(covars, name).copy()
    check_finite(covars, name)
    K = n_components
    matrices = covars.ndim == 3 and covars.shape[0] == K and covars.shape[1] == covars.shape[2]
    if matrices and covariance_type != "full":
        compact = compact_from_full(covars, covariance_type)
        if not np.array_equal(full_from_compact(compact, covariance_type, K, covars.shape[1]), covars):
            raise ValueError(f"`{name}` for {covariance_type!r} must be {COVARIANCE_FORMS[covariance_type]}.")
        covars = compact
    if covariance_type == "spherical" and covars.size == K:
        covars = covars.reshape(K)
    elif covariance_type == "spherical" and covars.ndim == 2 and covars.shape[0] == K and np.all(covars == covars[:, :1]):
        covars = covars[:, 0].copy()
    expected = {
        "spherical": (K,),
        "diag": (K, "D"),
        "full": (K, "D", "D"),
        "tied": ("D", "D"),
    }[covariance_type]
    n_features = covars.shape[-1] if covars.ndim else 0
    if covars.shape != compact_shape(covariance_type, K, n_features):
        raise ValueError(
            f"`{name}` for {covariance_type!r} must have shape {expected} (in hmmlearn's storage) "
            f"or ({K}, D, D) ({COVARIANCE_FORMS[covariance_type]}); got {covars.shape}."
        )
    if covariance_type in ("spherical", "diag") and np.any(covars <= 0):
        raise ValueError(f"`{name}` ({covariance_type} variances) must be positive; got {covars.tolist()}.")
    if covariance_type in ("full", "tied"):
        check_covars(covars.reshape((-1,) + covars.shape[-2:]), name=name)
    return covars


def check_hyperparameters(hyper: dict, n_features: int) -> Priors:
    """The constructor arguments of :class:`hmmcore.GaussianHMM` (``get_params()``), checked
    once at ``fit`` as scikit-learn does, for data of ``n_features`` features; returns the
    priors as :func:`check_priors` does."""
    n_components = check_n_components(hyper["n_components"])
    check_covariance_type(hyper["covariance_type"])
    check_nonnegative(hyper["min_covar"], "min_covar")
    check_choice(hyper["algorithm"], "algorithm", ("viterbi", "map"))
    check_choice(hyper["implementation"], "implementation", ("log", "scaling"))
    check_n_iter(hyper["n_iter"])
    check_tol(hyper["tol"])
    check_letters(hyper["params"], "params")
    check_letters(hyper["init_params"], "init_params")
    check_positive_int(hyper["n_init"], "n_init")
    check_nonnegative(hyper["reg_covar"], "reg_covar")
    check_nonnegative(hyper["posthoc_reg_covar"], "posthoc_reg_covar")
    check_random_state(hyper["random_state"])
    priors = Priors(*(hyper[name] for name in Priors._fields))
    return check_priors(priors, n_components, n_features, hyper["covariance_type"])


# -- the fitted model's uncertainty and fit (chapter 12) -----------------------------------------

#: How a sequence's chain starts, for the information (chapter 12): ``"free"``, pi is a
#: parameter; ``"fixed"``, pi is known (the likelihood conditional on it); ``"stationary"``,
#: pi is the stationary distribution of A (Hamilton's, Stata's and statsmodels' convention).
START_CONVENTIONS = ("free", "fixed", "stationary")

#: A probability below this is on the boundary of the parameter space, for the information.
BOUNDARY_TOLERANCE = 1e-8


class BoundaryError(ValueError):
    """A free probability sits on the boundary of the parameter space (it is 0), where the
    usual asymptotics of the maximum-likelihood estimator do not hold and the information
    does not give standard errors.

    Attributes
    ----------
    parameter : str
        Its name, e.g. ``"params.transmat[2, 0]"``.
    value : float
    """

    def __init__(self, parameter: str, value: float, advice: str):
        super().__init__(
            f"`{parameter}` = {value:.3g} is on the boundary of the parameter space (a "
            f"probability of 0): standard errors from the information do not apply there. {advice}"
        )
        self.parameter = parameter
        self.value = value


def check_start(start) -> str:
    """One of :data:`START_CONVENTIONS`."""
    return check_choice(start, "start", START_CONVENTIONS)


def check_level(level) -> float:
    """The coverage of an interval, strictly between 0 and 1."""
    if isinstance(level, bool) or not isinstance(level, numbers.Real) or not 0 < level < 1:
        raise ValueError(f"`level` must be a coverage strictly between 0 and 1 (e.g. 0.95); got {level!r}.")
    return float(level)


def check_params_of_type(params, n_features: int | None, covariance_type: str, name: str = "params") -> HMMParams:
    """:func:`check_params`, and covariances of the form of ``covariance_type`` (diagonal,
    multiples of I, or one matrix shared by the states; exactly, as EM returns them)."""
    check_covariance_type(covariance_type)
    params = check_params(params, n_features, name)
    check_compact_covars(params.covars, covariance_type, len(params.startprob), f"{name}.covars")
    return params


def check_unique_stationary(transmat, name: str = "transmat") -> None:
    """A chain with exactly one closed class of states, hence one stationary distribution:
    from every state the chain can reach that class (read on the graph of A's non-zero
    entries)."""
    from scipy.sparse.csgraph import connected_components

    n_classes, labels = connected_components(transmat > 0, directed=True, connection="strong")
    leaves = (transmat > 0) & (labels[:, None] != labels[None, :])
    closed = sorted({int(labels[i]) for i in range(len(labels))} - {int(labels[i]) for i in np.argwhere(leaves)[:, 0]})
    if len(closed) > 1:
        groups = [np.flatnonzero(labels == c).tolist() for c in closed]
        raise ValueError(
            f"`{name}` has {len(closed)} closed classes of states {groups}: the chain never leaves "
            "each of them once there, so it has no unique stationary distribution."
        )


def check_irreducible(transmat, name: str = "transmat") -> None:
    """A chain that can go from every state to every other (on the graph of A's non-zero
    entries): its stationary distribution puts mass on every state, as a chain started from
    it must for start="stationary"."""
    from scipy.sparse.csgraph import connected_components

    n_classes, labels = connected_components(transmat > 0, directed=True, connection="strong")
    if n_classes > 1:
        groups = [np.flatnonzero(labels == c).tolist() for c in range(n_classes)]
        raise ValueError(
            f"`{name}` is not irreducible: its states fall into {n_classes} classes {groups} "
            "that do not all reach each other, so its stationary distribution gives some state "
            "probability 0 (or is not unique); start='stationary' needs a chain that can go "
            "from every state to every other."
        )


def check_boundary(params: HMMParams, start: str, boundary_tol: float) -> None:
    """No free probability of ``params`` below ``boundary_tol``: pi's entries when ``start``
    is "free", every entry of A; else :class:`BoundaryError` naming the smallest."""
    if start == "free":
        k = int(np.argmin(params.startprob))
        if params.startprob[k] < boundary_tol:
            raise BoundaryError(
                f"params.startprob[{k}]", params.startprob[k],
                "pi-hat (the average of gamma_1 over the sequences) is at a vertex, as it "
                "nearly always is with one sequence: the data hold one draw of q_1 per "
                "sequence, so pi is not estimated consistently as T grows. Report the other "
                "parameters conditional on pi (start='fixed'), or use the likelihood whose "
                "chain starts from its stationary distribution (start='stationary').",
            )
    i, j = np.unravel_index(int(np.argmin(params.transmat)), params.transmat.shape)
    if params.transmat[i, j] < boundary_tol:
        raise BoundaryError(
            f"params.transmat[{i}, {j}]", params.transmat[i, j],
            "Report this transition as 0 with a one-sided likelihood-ratio bound (the "
            "statistic is a 50:50 mixture of chi-squared with 0 and 1 degrees of freedom), and "
            "the other parameters from the model that fixes it at 0.",
        )


def check_information_inputs(X, params, lengths, covariance_type, start, boundary_tol):
    """``(X, lengths, params)`` of the information's functions, checked against each other:
    covariances of the type's form, the start convention, no free probability on the
    boundary, and an irreducible chain for start="stationary"."""
    X = check_observations(X)
    check_complete(X, "the score and the observed information (chapter 12; standard errors and Newton's method use them)")
    lengths = check_lengths(lengths, X.shape[0])
    check_start(start)
    params = check_params_of_type(params, X.shape[1], covariance_type)
    check_nonnegative(boundary_tol, "boundary_tol")
    check_boundary(params, start, boundary_tol)
    if start == "stationary":
        check_irreducible(params.transmat, "params.transmat")
    return X, lengths, params


def check_comparable_params(params, reference) -> tuple[HMMParams, HMMParams]:
    """Two parameter sets (:func:`check_params`) with the same numbers of states and features."""
    params, reference = check_params(params), check_params(reference, name="reference")
    if params.means.shape != reference.means.shape:
        raise ValueError(
            f"`params` has {params.means.shape[0]} states and {params.means.shape[1]} features but "
            f"`reference` has {reference.means.shape[0]} and {reference.means.shape[1]}: only "
            "models of the same shape can be aligned."
        )
    return params, reference


def check_data_and_params(X, params, lengths) -> tuple[np.ndarray, HMMParams, list[int], MissingPatterns | None]:
    """``(X, params, lengths)`` of a function on the parameter level, checked against each
    other, and the missing values' patterns (:func:`check_data`)."""
    X, lengths, patterns = check_data(X, lengths)
    return X, check_params(params, X.shape[1]), lengths, patterns


# -- forecasts (chapter 13) -----------------------------------------------------------------------


def check_horizon(horizon, name: str = "horizon") -> int:
    """A number of steps ahead, an integer h >= 1 (``bool`` is not a number here)."""
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise ValueError(
            f"`{name}` must be an integer >= 1 (1: the next step; the filtered probabilities "
            f"of the current step are `filtered`); got {horizon!r}."
        )
    return int(horizon)


def check_state_distributions(probabilities, n_components: int, name: str = "probabilities") -> np.ndarray:
    """Distributions over the K states, one per row: (n, K) (a vector (K,) is one row); each
    row non-negative and summing to 1."""
    rows = as_float_array(probabilities, name)
    if rows.ndim == 1:
        rows = rows[None, :]
    if rows.ndim != 2 or rows.shape[0] < 1 or rows.shape[1] != n_components:
        raise ValueError(
            f"`{name}` must have shape (K,) or (n, K) with K = {n_components} (one column per "
            f"state); got shape {np.shape(probabilities)}."
        )
    check_finite(rows, name)
    if np.any(rows < 0):
        raise ValueError(f"`{name}` has negative entries; probabilities must be >= 0.")
    sums = rows.sum(axis=1)
    if np.any(np.abs(sums - 1.0) > PROBABILITY_SUM_TOLERANCE):
        row = int(np.argmax(np.abs(sums - 1.0)))
        raise ValueError(f"each row of `{name}` must sum to 1; row {row} sums to {sums[row]:.10g}.")
    return rows


def check_mixture(mixture) -> PredictiveMixture:
    """A :class:`hmmcore.PredictiveMixture`: weights (n, K) whose rows are distributions over
    the K states, means (K, D), covariances (K, D, D) symmetric positive definite."""
    if not isinstance(mixture, PredictiveMixture):
        raise TypeError(
            "`mixture` must be an hmmcore.PredictiveMixture (from forecast_mixture or "
            f"forecast_next); got {type(mixture).__name__}."
        )
    means = check_means(mixture.means, name="mixture.means")
    n_states, n_features = means.shape
    if np.ndim(mixture.weights) != 2:
        raise ValueError(f"`mixture.weights` must have shape (n, K); got shape {np.shape(mixture.weights)}.")
    weights = check_state_distributions(mixture.weights, n_states, "mixture.weights")
    covars = check_covars(mixture.covars, n_states, n_features, "mixture.covars")
    return PredictiveMixture(weights, means, covars)


def check_feature(feature, n_features: int, name: str = "feature") -> int:
    """A column of the observations: an integer 0 <= feature < D."""
    if isinstance(feature, bool) or not isinstance(feature, (int, np.integer)):
        raise TypeError(f"`{name}` must be an integer column index; got {feature!r}.")
    if not 0 <= feature < n_features:
        raise ValueError(
            f"`{name}` must be a column index in 0..{n_features - 1} (the mixture has D = "
            f"{n_features} features); got {feature}."
        )
    return int(feature)


def check_features(features, n_features: int) -> list[int]:
    """One or more distinct columns of the observations, in the order given."""
    columns = np.atleast_1d(np.asarray(features, dtype=object))
    if columns.ndim != 1 or columns.size == 0:
        raise ValueError(f"`features` must be a column index or a non-empty list of them; got {features!r}.")
    checked = [check_feature(column, n_features, "features") for column in columns.tolist()]
    if len(set(checked)) != len(checked):
        raise ValueError(f"`features` must not repeat a column; got {checked}.")
    return checked


def check_quantile_levels(level) -> np.ndarray:
    """Probability levels of quantiles, strictly between 0 and 1: a number or a 1-D array
    (returned as a 1-D array)."""
    if isinstance(level, bool):
        raise ValueError(f"`level` must be a probability strictly between 0 and 1; got {level!r}.")
    levels = as_float_array(level, "level")
    if levels.ndim > 1 or levels.size == 0:
        raise ValueError(f"`level` must be a number or a 1-D array of numbers; got shape {levels.shape}.")
    if not np.all((levels > 0.0) & (levels < 1.0)):
        raise ValueError(
            "`level` must lie strictly between 0 and 1 (e.g. 0.01 for the 1 % quantile, whose "
            f"negative is the 1 % Value at Risk); got {np.asarray(level).tolist()!r}."
        )
    return np.atleast_1d(levels)


def check_points(points, mixture: PredictiveMixture, name: str = "points") -> np.ndarray:
    """Points at which a mixture is evaluated: (n, D), one per row of the mixture, or any
    number of points under a mixture of one row."""
    points = check_observations(points, name)
    check_complete(points, "a mixture's density at points (for some coordinates only, take "
                   "hmmcore.mixture_marginal first)", name)
    n_rows, n_features = mixture.weights.shape[0], mixture.means.shape[1]
    if points.shape[1] != n_features:
        raise ValueError(f"`{name}` must have {n_features} column(s), the mixture's features; got shape {points.shape}.")
    if n_rows not in (1, points.shape[0]):
        raise ValueError(
            f"`{name}` must have one row per row of the mixture ({n_rows}), or the mixture one "
            f"row; got {points.shape[0]} rows."
        )
    return points


def check_values(values, mixture: PredictiveMixture) -> np.ndarray:
    """Values of one feature at which a mixture's distribution function is evaluated: (n,),
    one per row of the mixture, or any number under a mixture of one row."""
    values = as_float_array(values, "values")
    n_rows = mixture.weights.shape[0]
    if values.ndim != 1 or values.size == 0 or n_rows not in (1, values.shape[0]):
        raise ValueError(
            f"`values` must be 1-D with one value per row of the mixture ({n_rows}), or the "
            f"mixture one row; got shape {values.shape}."
        )
    check_finite(values, "values")
    return values


def check_refit_days(refit_days, n_samples: int, n_components: int) -> list[int]:
    """Refit days of a walk-forward run: increasing indices into the observations, the first
    leaving at least ``n_components`` days to fit, the last before the end."""
    days = np.asarray(refit_days)
    if days.ndim != 1 or days.size == 0 or not np.issubdtype(days.dtype, np.integer):
        raise ValueError(f"`refit_days` must be a non-empty 1-D list of integer day indices; got {refit_days!r}.")
    if np.any(np.diff(days) <= 0):
        raise ValueError("`refit_days` must be strictly increasing.")
    if days[0] < n_components or days[-1] >= n_samples:
        raise ValueError(
            f"`refit_days` must lie in {n_components}..{n_samples - 1}: the first refit needs at "
            f"least n_components = {n_components} days to fit, and each refit a day to forecast; "
            f"got {days[0]}..{days[-1]}."
        )
    return [int(day) for day in days]


def check_walk_forward_inputs(X, refit_days, n_components, options, *, n_iter, tol, n_initial, n_iter_initial,
                              check_every, n_fresh, n_iter_fresh, beat_margin, seed):
    """The arguments of :func:`hmmcore.walk_forward`, checked against each other; returns
    ``(X, refit_days, n_components, options, settings)`` with the numbers in the order of
    the signature."""
    X = check_observations(X)
    check_complete(X, "the walk forward")
    n_components = check_n_components(n_components)
    refit_days = check_refit_days(refit_days, X.shape[0], n_components)
    options = check_options(options, n_components, X.shape[1])
    if isinstance(check_every, bool) or not isinstance(check_every, (int, np.integer)) or check_every < 0:
        raise ValueError(f"`check_every` must be an integer >= 0 (0: no restart checks); got {check_every!r}.")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"`seed` must be an integer >= 0; got {seed!r}.")
    settings = (
        check_n_iter(n_iter), check_tol(tol), check_positive_int(n_initial, "n_initial"),
        check_positive_int(n_iter_initial, "n_iter_initial"), int(check_every),
        check_positive_int(n_fresh, "n_fresh"), check_positive_int(n_iter_fresh, "n_iter_fresh"),
        check_nonnegative(beat_margin, "beat_margin"), int(seed),
    )
    return X, refit_days, n_components, options, settings


def check_dates(dates):
    """Dates as a strictly increasing ``pandas.DatetimeIndex``."""
    import pandas as pd

    try:
        index = pd.DatetimeIndex(dates)
    except (TypeError, ValueError) as error:
        raise ValueError(f"`dates` must be dates (a pandas DatetimeIndex); {error}") from None
    if index.size == 0 or not index.is_monotonic_increasing or not index.is_unique:
        raise ValueError("`dates` must be a non-empty sequence of strictly increasing dates.")
    return index
