"""``GaussianHMM``: hmmlearn's estimator, computed by the book's functions.

A user of ``hmmlearn.hmm.GaussianHMM`` switches by changing the import. The constructor takes
hmmlearn 0.3.3's keywords in hmmlearn's order with hmmlearn's defaults (hmmlearn's
test-suite, ``hmmlearn/tests/test_gaussian_hmm.py``, runs against this class in
``tests/test_hmmlearn_suite.py``), followed by hmmcore's additions, keyword-only:

* ``n_init``: independent random starts, run in parallel threads; the best is kept;
* ``reg_covar``: ``reg_covar * I`` added to every covariance inside each M-step;
* ``posthoc_reg_covar``: ``posthoc_reg_covar * I`` added once after EM (the source system's
  ``_regularize_covariance``), before the restarts are compared.

**What ``fit`` computes.** hmmlearn's loop: initialise the parameters named in
``init_params`` (and those not set by hand), then repeat ``n_iter`` times: the E-step at the
current parameters gives log P(X | lambda), reported to :attr:`monitor_`; the M-step (MAP
with the priors of chapter 11, :func:`hmmcore.em_step`) updates the parameters named in
``params``; stop when :attr:`monitor_` says converged. As in hmmlearn the final parameters are
those after the last M-step. The defaults are hmmlearn's, so ``covars_prior = 1e-2`` (a MAP
prior, not maximum likelihood): pass ``covars_prior=0`` for the plain maximum-likelihood
updates of the derivation chapters.

**Covariances.** ``covars_`` reads as (K, D, D) matrices for every covariance type; it can be
set in hmmlearn's storage shapes, kept in ``_covars_``: ``"spherical"`` (K,), ``"diag"``
(K, D), ``"full"`` (K, D, D), ``"tied"`` (D, D) (and, for every type, as (K, D, D) matrices of
that type's form).

**Collapsing states.** Without a covariance prior a state can collapse onto a few points (the
likelihood is unbounded there). Such a restart ends with a :class:`DegenerateStateWarning`
naming the state and the iteration, and ``fit`` keeps the best restart that did not collapse
(a ``ValueError`` if every restart did).

**Differences from hmmlearn** (all deliberate): means are initialised by SciPy's k-means++
(``scipy.cluster.vq.kmeans2``, one run per restart, seeded from ``random_state``) rather than
scikit-learn's ``KMeans(n_init=10)``; ``implementation="scaling"`` gives the same (stable)
numbers as ``"log"`` and raises hmmlearn's ``ValueError`` only where hmmlearn's scaled pass
underflows; :attr:`monitor_` takes ``tol``, ``n_iter`` and ``verbose`` from the estimator at each
``fit`` (hmmlearn keeps the values given to the constructor, so ``set_params`` did not reach
it); a decrease of the log-likelihood raises a :class:`LikelihoodDecreaseWarning` (hmmlearn logs
it) and does not count as convergence in :attr:`converged_`; a state whose covariance stops
being positive definite is reported (hmmlearn silently adds 1e-7 to its diagonal when it
evaluates the density).
"""

from __future__ import annotations

import copy
import logging
import sys
import warnings
from collections import deque

import numpy as np
from scipy import linalg
from scipy.cluster.vq import kmeans2
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from sklearn.utils import check_random_state as _sklearn_check_random_state

from .em import (
    PARAMETER_LETTERS,
    HMMParams,
    Priors,
    check_params,
    fit_em,
    sequence_bounds,
)
from .data import sample_hmm
from .emissions import gaussian_log_density
from .inference import e_step, forward
from .mstep import check_covariance_type, regularize_covars
from .validation import (
    as_float_array,
    check_covars,
    check_lengths,
    check_n_components,
    check_nonnegative,
    check_observations,
    check_positive_int,
    check_transmat,
)
from .viterbi import viterbi

_log = logging.getLogger(__name__)

#: The decoders of :meth:`GaussianHMM.decode`, as in hmmlearn.
DECODER_ALGORITHMS = ("viterbi", "map")

#: hmmlearn's forward-backward implementations; both give hmmcore's stable result here.
IMPLEMENTATIONS = ("log", "scaling")

#: hmmlearn's jitter for a singular covariance (its ``min_covar`` of the full log-density).
SINGULAR_JITTER = 1e-7


def check_random_state(seed):
    """scikit-learn's ``check_random_state`` (None: numpy's global generator, an int: a new
    ``RandomState``), which also passes a ``numpy.random.Generator`` through."""
    if isinstance(seed, np.random.Generator):
        return seed
    try:
        return _sklearn_check_random_state(seed)
    except ValueError:
        raise ValueError(
            "`random_state` must be None, an int, a numpy RandomState or a numpy Generator; "
            f"got {seed!r}."
        ) from None


class ConvergenceMonitor:
    """hmmlearn's convergence monitor: the same fields (``tol``, ``n_iter``, ``verbose``,
    ``history``, ``iter``), the same report and the same ``converged`` rule.

    ``history`` holds log P(X | lambda) at every E-step of the last ``fit``, in order. EM
    stops when ``converged``: ``n_iter`` iterations done, or the last gain below ``tol``. A
    subclass redefining ``converged`` can be assigned to ``model.monitor_`` before ``fit``.
    """

    _template = "{iter:>10d} {log_prob:>16.8f} {delta:>+16.8f}"

    def __init__(self, tol, n_iter, verbose):
        self.tol = tol
        self.n_iter = n_iter
        self.verbose = verbose
        self.history = deque()
        self.iter = 0

    def __repr__(self):
        fields = sorted(dict(vars(self), history=list(self.history)).items())
        return f"{type(self).__name__}(\n" + "".join(f"    {k}={v},\n" for k, v in fields) + ")"

    def _reset(self):
        """Forget the previous run."""
        self.iter = 0
        self.history.clear()

    def report(self, log_prob):
        """Record ``log_prob``, the log-likelihood at the start of an iteration; print it
        (with the gain) to stderr if ``verbose``. (A decrease is reported by ``fit_em`` as a
        LikelihoodDecreaseWarning.)"""
        if self.verbose:
            delta = log_prob - self.history[-1] if self.history else np.nan
            print(self._template.format(iter=self.iter + 1, log_prob=log_prob, delta=delta),
                  file=sys.stderr)
        self.history.append(log_prob)
        self.iter += 1

    @property
    def converged(self):
        """Whether EM should stop: ``n_iter`` reached, or the last gain below ``tol``."""
        return self.iter == self.n_iter or (
            len(self.history) >= 2 and self.history[-1] - self.history[-2] < self.tol
        )


# -- covariance storage -----------------------------------------------------------------------


def _positive_vector(values, what):
    if not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise ValueError(f"`covars_` ({what}) must be finite and positive; got {values.tolist()}.")
    return values


def compact_covars(covars, covariance_type: str, n_components: int) -> np.ndarray:
    """hmmlearn's storage of the covariances (``_covars_``) from what a user may assign to
    ``covars_``: spherical (K,), diag (K, D), full (K, D, D), tied (D, D); (K, D, D) matrices
    of the type's form are accepted for every type."""
    check_covariance_type(covariance_type)
    covars = np.array(as_float_array(covars, "covars_"), dtype=np.float64, copy=True)
    matrices = covars.ndim == 3 and covars.shape[0] == n_components and (
        covars.shape[1] == covars.shape[2]
    )
    if covariance_type == "spherical":
        if covars.size == n_components:
            return _positive_vector(covars.reshape(n_components), "one variance per state")
        if matrices:
            values = covars[:, 0, 0].copy()
            if not np.array_equal(covars, values[:, None, None] * np.eye(covars.shape[1])):
                raise ValueError("`covars_` for 'spherical' must be multiples c_k I of the identity.")
            return _positive_vector(values, "one variance per state")
        if covars.ndim == 2 and covars.shape[0] == n_components and np.all(covars == covars[:, :1]):
            return _positive_vector(covars[:, 0].copy(), "one variance per state")
        raise ValueError(
            f"`covars_` for 'spherical' must have shape ({n_components},); got {covars.shape}."
        )
    if covariance_type == "diag":
        if matrices:
            values = np.diagonal(covars, axis1=1, axis2=2).copy()
            if not np.array_equal(covars, values[:, :, None] * np.eye(covars.shape[1])):
                raise ValueError("`covars_` for 'diag' must be diagonal matrices.")
            covars = values
        if covars.ndim != 2 or covars.shape[0] != n_components:
            raise ValueError(
                f"`covars_` for 'diag' must have shape ({n_components}, n_features); "
                f"got {covars.shape}."
            )
        _positive_vector(covars.ravel(), "variances")
        return covars
    if covariance_type == "tied":
        if matrices:
            if not np.all(covars == covars[:1]):
                raise ValueError("`covars_` for 'tied' must be one matrix shared by all states.")
            covars = covars[0].copy()
        if covars.ndim != 2 or covars.shape[0] != covars.shape[1]:
            raise ValueError(
                f"`covars_` for 'tied' must have shape (n_features, n_features); got {covars.shape}."
            )
        check_covars(covars[None], name="covars_")
        return covars
    if not matrices:
        raise ValueError(
            f"`covars_` for 'full' must have shape ({n_components}, n_features, n_features); "
            f"got {covars.shape}."
        )
    check_covars(covars, name="covars_")
    return covars


def full_covars(compact, covariance_type: str, n_components: int, n_features: int) -> np.ndarray:
    """(K, D, D) matrices from hmmlearn's storage ``compact`` of ``covariance_type``."""
    check_covariance_type(covariance_type)
    compact = np.asarray(compact, dtype=np.float64)
    expected = {
        "spherical": (n_components,),
        "diag": (n_components, n_features),
        "full": (n_components, n_features, n_features),
        "tied": (n_features, n_features),
    }[covariance_type]
    if compact.shape != expected:
        raise ValueError(
            f"`_covars_` for {covariance_type!r} must have shape {expected} "
            f"(n_components = {n_components}, n_features = {n_features}); got {compact.shape}."
        )
    identity = np.eye(n_features)
    if covariance_type == "spherical":
        return compact[:, None, None] * identity
    if covariance_type == "diag":
        return compact[:, :, None] * identity
    if covariance_type == "tied":
        return np.repeat(compact[None], n_components, axis=0)
    return compact.copy()


def compact_from_full(covars: np.ndarray, covariance_type: str) -> np.ndarray:
    """The inverse of :func:`full_covars` for matrices of the type's form (exact)."""
    if covariance_type == "spherical":
        return covars[:, 0, 0].copy()
    if covariance_type == "diag":
        return np.diagonal(covars, axis1=1, axis2=2).copy()
    if covariance_type == "tied":
        return covars[0].copy()
    return covars.copy()


# -- the estimator ----------------------------------------------------------------------------


class GaussianHMM(BaseEstimator):
    """Hidden Markov model with Gaussian emissions, fitted by Baum-Welch EM (MAP with priors).

    Parameters (hmmlearn's, in its order)
    -------------------------------------
    n_components : number of hidden states K.
    covariance_type : ``"spherical"``, ``"diag"`` (default), ``"full"`` or ``"tied"``.
    min_covar : added to the diagonal of the data's covariance when initialising ``covars_``.
    startprob_prior, transmat_prior : Dirichlet concentrations for pi and the rows of A
        (1 = flat).
    means_prior, means_weight : normal prior on the means, N(means_prior, Sigma_k/means_weight)
        (weight 0 = flat).
    covars_prior, covars_weight : inverse-Wishart-type prior on the covariances, applied as
        hmmlearn applies it (``covars_prior=0``, ``covars_weight=1``: flat, plain ML).
    algorithm : decoder of ``decode``/``predict``, ``"viterbi"`` or ``"map"``.
    random_state : None (numpy's global generator), an int, a ``RandomState`` or a
        ``Generator``; draws the initial parameters and, in ``sample``, the samples.
    n_iter, tol : at most ``n_iter`` EM iterations; stop when the gain in log-likelihood < tol.
    verbose : print each iteration's log-likelihood and gain to stderr.
    params, init_params : letters of the parameters updated by EM (``params``) and
        initialised before it (``init_params``): s(tart), t(ransitions), m(eans), c(ovars).
        Parameters set by hand and absent from ``init_params`` are the starting point; those
        absent from ``params`` stay as they are.
    implementation : ``"log"`` or ``"scaling"``, accepted for hmmlearn's sake: both compute
        hmmcore's stable scaled recursions.

    hmmcore's additions (keyword-only)
    ----------------------------------
    n_init : number of random starts, run in parallel threads; the best final score is kept.
    reg_covar : ``reg_covar * I`` added to every covariance inside each M-step.
    posthoc_reg_covar : ``posthoc_reg_covar * I`` added once after EM, before scoring.

    Attributes after ``fit``
    ------------------------
    startprob_, transmat_, means_, covars_ (K, D, D), _covars_ (hmmlearn's storage),
    n_features, monitor_ (the best restart's), restart_scores_ (final log-likelihood of each
    restart, -inf for one that collapsed), restart_degenerate_ (None or the collapse message of
    each restart), log_likelihood_history_, converged_, n_iter_.
    """

    def __init__(
        self,
        n_components=1,
        covariance_type="diag",
        min_covar=1e-3,
        startprob_prior=1.0,
        transmat_prior=1.0,
        means_prior=0,
        means_weight=0,
        covars_prior=1e-2,
        covars_weight=1,
        algorithm="viterbi",
        random_state=None,
        n_iter=10,
        tol=1e-2,
        verbose=False,
        params="stmc",
        init_params="stmc",
        implementation="log",
        *,
        n_init=1,
        reg_covar=0.0,
        posthoc_reg_covar=0.0,
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.min_covar = min_covar
        self.startprob_prior = startprob_prior
        self.transmat_prior = transmat_prior
        self.means_prior = means_prior
        self.means_weight = means_weight
        self.covars_prior = covars_prior
        self.covars_weight = covars_weight
        self.algorithm = algorithm
        self.random_state = random_state
        self.n_iter = n_iter
        self.tol = tol
        self.verbose = verbose
        self.params = params
        self.init_params = init_params
        self.implementation = implementation
        self.n_init = n_init
        self.reg_covar = reg_covar
        self.posthoc_reg_covar = posthoc_reg_covar
        self.monitor_ = ConvergenceMonitor(tol, n_iter, verbose)

    # -- covariances in hmmlearn's storage ---------------------------------------------------
    @property
    def covars_(self) -> np.ndarray:
        """The covariance matrices, (K, D, D) for every covariance type."""
        if not hasattr(self, "_covars_"):
            raise AttributeError("covars_")
        return full_covars(self._covars_, self.covariance_type, self.n_components,
                           self._n_features_for_covars())

    @covars_.setter
    def covars_(self, covars):
        self._covars_ = compact_covars(covars, self.covariance_type, self.n_components)

    def _n_features_for_covars(self) -> int:
        compact = np.asarray(self._covars_)
        if self.covariance_type in ("diag", "tied", "full") and compact.ndim >= 2:
            return compact.shape[-1]
        if hasattr(self, "n_features"):
            return int(self.n_features)
        if hasattr(self, "means_"):
            return np.shape(self.means_)[-1]
        raise ValueError("spherical `covars_` need `n_features` (or `means_`) to be known.")

    # -- hyper-parameters --------------------------------------------------------------------
    def _check_hyperparameters(self) -> Priors:
        """Validate the constructor's arguments (at ``fit``, as scikit-learn does); return the
        priors."""
        n_components = check_n_components(self.n_components)
        check_covariance_type(self.covariance_type)
        check_nonnegative(self.min_covar, "min_covar")
        if self.algorithm not in DECODER_ALGORITHMS:
            raise ValueError(f"`algorithm` must be one of {DECODER_ALGORITHMS}; got {self.algorithm!r}.")
        if self.implementation not in IMPLEMENTATIONS:
            raise ValueError(
                f"`implementation` must be one of {IMPLEMENTATIONS}; got {self.implementation!r}."
            )
        if isinstance(self.n_iter, bool) or not isinstance(self.n_iter, (int, np.integer)) or self.n_iter < 0:
            raise ValueError(f"`n_iter` must be an integer >= 0; got {self.n_iter!r}.")
        if not isinstance(self.tol, (int, float, np.integer, np.floating)) or np.isnan(self.tol):
            raise ValueError(f"`tol` must be a number; got {self.tol!r}.")
        for name in ("params", "init_params"):
            letters = getattr(self, name)
            if not isinstance(letters, str) or set(letters) - set(PARAMETER_LETTERS):
                raise ValueError(
                    f"`{name}` must be a string of the letters {PARAMETER_LETTERS!r} (start, "
                    f"transitions, means, covariances); got {letters!r}."
                )
        check_positive_int(self.n_init, "n_init")
        check_nonnegative(self.reg_covar, "reg_covar")
        check_nonnegative(self.posthoc_reg_covar, "posthoc_reg_covar")
        shapes = {"startprob_prior": (n_components,), "transmat_prior": (n_components, n_components)}
        for name in ("startprob_prior", "transmat_prior", "means_prior", "means_weight",
                     "covars_prior", "covars_weight"):
            value = as_float_array(getattr(self, name), name)
            if not np.all(np.isfinite(value)):
                raise ValueError(f"`{name}` must be finite; got {getattr(self, name)!r}.")
            if name in shapes:
                try:
                    np.broadcast_shapes(value.shape, shapes[name])
                except ValueError:
                    raise ValueError(
                        f"`{name}` must be a number or broadcast to shape {shapes[name]}; "
                        f"got shape {value.shape}."
                    ) from None
            if name == "means_weight" and np.any(value < 0):
                raise ValueError(f"`means_weight` must be >= 0; got {self.means_weight!r}.")
        return Priors(self.startprob_prior, self.transmat_prior, self.means_prior,
                      self.means_weight, self.covars_prior, self.covars_weight)

    # -- hmmlearn's extension points ---------------------------------------------------------
    def _get_n_fit_scalars_per_param(self) -> dict:
        """Free scalars per parameter letter (hmmlearn's counts, used by ``aic``/``bic``)."""
        nc, nf = self.n_components, self.n_features
        return {
            "s": nc - 1,
            "t": nc * (nc - 1),
            "m": nc * nf,
            "c": {
                "spherical": nc,
                "diag": nc * nf,
                "full": nc * nf * (nf + 1) // 2,
                "tied": nf * (nf + 1) // 2,
            }[self.covariance_type],
        }

    def _check_and_set_n_features(self, X):
        n_features = X.shape[1]
        if hasattr(self, "n_features"):
            if self.n_features != n_features:
                raise ValueError(
                    f"`X` has {n_features} features but the model has n_features = "
                    f"{self.n_features} (set by an earlier fit or by hand)."
                )
        else:
            self.n_features = n_features

    def _preset(self) -> dict:
        """The parameters set before ``fit``, by letter."""
        names = {"s": "startprob_", "t": "transmat_", "m": "means_", "c": "_covars_"}
        return {letter: getattr(self, name) for letter, name in names.items() if hasattr(self, name)}

    def _log_init_messages(self, X, preset):
        """hmmlearn's log messages before initialising: overwritten parameters, too few data."""
        names = {"s": "startprob_", "t": "transmat_", "m": "means_", "c": "covars_"}
        for letter in PARAMETER_LETTERS:
            if letter in self.init_params and letter in preset:
                _log.warning(
                    "Even though the %r attribute is set, it will be overwritten during "
                    "initialization because 'init_params' contains %r", names[letter], letter
                )
        counts = self._get_n_fit_scalars_per_param()
        n_fit_scalars = sum(counts[letter] for letter in self.params)
        if X.size < n_fit_scalars:
            _log.warning(
                "Fitting a model with %d free scalar parameters with only %d data points will "
                "result in a degenerate solution.", n_fit_scalars, X.size
            )

    def _initial_params(self, X, random_state, preset) -> HMMParams:
        """One starting point: the parameters in ``init_params`` (or not in ``preset``) drawn
        as hmmlearn does, the others taken from ``preset``.

        pi and the rows of A: Dirichlet draws with concentration 1/K; means: k-means++ centres
        (SciPy); covariances: the data's covariance plus ``min_covar * I``, in the type's form
        (its diagonal for "diag", the mean of its entries for "spherical", as hmmlearn)."""
        K, (n_samples, n_features) = self.n_components, X.shape

        def needed(letter):
            return letter in self.init_params or letter not in preset

        if needed("s"):
            startprob = random_state.dirichlet(np.full(K, 1.0 / K))
        else:
            startprob = np.asarray(preset["s"], dtype=np.float64)
        if needed("t"):
            transmat = random_state.dirichlet(np.full(K, 1.0 / K), size=K)
        else:
            transmat = np.asarray(preset["t"], dtype=np.float64)
        if needed("m"):
            means = kmeans_centres(X, K, random_state)
        else:
            means = np.asarray(preset["m"], dtype=np.float64)
        if needed("c"):
            spread = np.atleast_2d(np.cov(X, rowvar=False)) if n_samples > 1 else np.zeros((n_features,) * 2)
            spread = spread + self.min_covar * np.eye(n_features)
            compact = {
                "spherical": lambda: np.full(K, spread.mean()),
                "diag": lambda: np.tile(np.diag(spread), (K, 1)),
                "full": lambda: np.tile(spread, (K, 1, 1)),
                "tied": lambda: spread.copy(),
            }[self.covariance_type]()
            if not np.all(np.linalg.eigvalsh(np.atleast_2d(spread)) > 0):
                raise ValueError(
                    "the data's covariance plus `min_covar` * I is not positive definite (a "
                    "constant feature with min_covar = 0?): use `min_covar` > 0."
                )
        else:
            compact = np.asarray(preset["c"], dtype=np.float64)
        covars = full_covars(compact, self.covariance_type, K, n_features)
        return HMMParams(startprob, transmat, means, covars)

    def _set_fitted(self, params: HMMParams):
        self.startprob_ = params.startprob
        self.transmat_ = params.transmat
        self.means_ = params.means
        self._covars_ = compact_from_full(params.covars, self.covariance_type)

    def _init(self, X, lengths=None):
        """Initialise the parameters before EM, as hmmlearn's ``_init`` (``lengths`` unused)."""
        X = check_observations(X)
        self._check_hyperparameters()
        self._check_and_set_n_features(X)
        preset = self._preset()
        self._log_init_messages(X, preset)
        self._set_fitted(self._initial_params(X, check_random_state(self.random_state), preset))

    def _check(self) -> HMMParams:
        """Validate the parameters (hmmlearn's ``_check``); returns them with (K, D, D)
        covariances. Raises ``NotFittedError`` (a ValueError) if some are missing."""
        missing = [n for n in ("startprob_", "transmat_", "means_", "_covars_") if not hasattr(self, n)]
        if missing:
            raise NotFittedError(
                f"this GaussianHMM has no {', '.join(missing)}: call `fit` or set them first."
            )
        check_covariance_type(self.covariance_type)
        means = as_float_array(self.means_, "means_")
        if means.ndim != 2:
            raise ValueError(f"`means_` must have shape (K, D); got shape {means.shape}.")
        if means.shape[0] != self.n_components:
            raise ValueError(
                f"the parameters have {means.shape[0]} states but `n_components` = {self.n_components}."
            )
        self.n_features = means.shape[1]
        covars = full_covars(self._covars_, self.covariance_type, self.n_components, self.n_features)
        params = check_params(HMMParams(self.startprob_, self.transmat_, means, covars), self.n_features)
        self.startprob_, self.transmat_, self.means_ = params.startprob, params.transmat, params.means
        return params

    # -- fitting -----------------------------------------------------------------------------
    def fit(self, X, lengths=None) -> "GaussianHMM":
        """Estimate the parameters by EM from ``n_init`` starts and keep the best; returns self."""
        X = check_observations(X)
        lengths = check_lengths(lengths, X.shape[0])
        priors = self._check_hyperparameters()
        n_init = int(self.n_init)
        if n_init == 1:
            self._init(X, lengths)
            starts = [self._check()]
            monitors = [self.monitor_]
        else:
            self._check_and_set_n_features(X)
            preset = self._preset()
            self._log_init_messages(X, preset)
            random_state = check_random_state(self.random_state)
            starts = [
                check_params(self._initial_params(X, random_state, preset), X.shape[1])
                for _ in range(n_init)
            ]
            monitors = [copy.deepcopy(self.monitor_) for _ in range(n_init)]
        for monitor in monitors:
            monitor.tol, monitor.n_iter, monitor.verbose = self.tol, self.n_iter, self.verbose
            monitor._reset()
        has_prior = bool(np.any(np.asarray(self.covars_prior, dtype=np.float64) != 0))
        if self.implementation == "scaling":
            for start in starts:
                log_b = gaussian_log_density(X, start.means, start.covars, validate=False)
                self._forward_passes(start, log_b, lengths)
        stacked = HMMParams(*(np.stack(values) for values in zip(*starts)))
        # hmmlearn's loop: its monitor decides when to stop, and its fit returns the parameters
        # after the last M-step (``next_params``). With a covariance prior, a singular M-step is
        # redone with SINGULAR_JITTER (hmmlearn adds 1e-7 to such a covariance's diagonal).
        result = fit_em(
            X, stacked, lengths, int(self.n_iter), self.tol, self.covariance_type,
            self.reg_covar, priors, self.params,
            monitors=monitors, singular_jitter=SINGULAR_JITTER if has_prior else 0.0, validate=False,
        )
        fitted, scores = [], []
        for restart, message in enumerate(result.degenerate):
            params = HMMParams(*(value[restart] for value in result.next_params))
            params = params._replace(covars=regularize_covars(params.covars, self.posthoc_reg_covar))
            fitted.append(params)
            if message is None:
                log_b = gaussian_log_density(X, params.means, params.covars, validate=False)
                scores.append(sum(p.log_likelihood for p in self._forward_passes(params, log_b, lengths)))
            else:
                scores.append(-np.inf)
        scores = np.array(scores)
        degenerate = result.degenerate
        if all(message is not None for message in degenerate):
            raise ValueError(
                f"every one of the {n_init} restart(s) collapsed (see the DegenerateStateWarning"
                f"s); first: {degenerate[0]}"
            )
        best = int(np.argmax(scores))
        self._set_fitted(fitted[best])
        self.monitor_ = monitors[best]
        self.restart_scores_ = scores
        self.restart_degenerate_ = degenerate
        history = list(result.log_likelihoods[best])
        self.log_likelihood_history_ = history
        self.converged_ = bool(result.converged[best])
        self.n_iter_ = int(self.monitor_.iter)
        return self

    # -- evaluation --------------------------------------------------------------------------
    def _prepare(self, X, lengths):
        """Validated ``(X, lengths, params, log_b)`` for the evaluation methods."""
        X = check_observations(X)
        lengths = check_lengths(lengths, X.shape[0])
        if self.implementation not in IMPLEMENTATIONS:
            raise ValueError(
                f"`implementation` must be one of {IMPLEMENTATIONS}; got {self.implementation!r}."
            )
        params = self._check()
        if X.shape[1] != params.means.shape[1]:
            raise ValueError(
                f"`X` has {X.shape[1]} features but `means` must have shape "
                f"({self.n_components}, {X.shape[1]}); got shape {params.means.shape}."
            )
        log_b = gaussian_log_density(X, params.means, params.covars, validate=False)
        return X, lengths, params, log_b

    def _forward_passes(self, params, log_b, lengths):
        """The forward pass of each sequence (with hmmlearn's underflow error for
        ``implementation="scaling"``)."""
        passes = []
        for start, end in sequence_bounds(lengths):
            passed = forward(params.startprob, params.transmat, log_b[start:end], validate=False)
            self._check_scaling(params, log_b[start:end], passed.alpha_hat, start)
            passes.append(passed)
        return passes

    def _check_scaling(self, params, log_b, alpha_hat, offset=0):
        if self.implementation != "scaling":
            return
        predicted = np.vstack([params.startprob[None], alpha_hat[:-1] @ params.transmat])
        with np.errstate(under="ignore"):
            reachable = np.any(predicted * np.exp(log_b) > 0, axis=1)
        if not reachable.all():
            t = offset + int(np.argmin(reachable))
            raise ValueError(
                f"implementation='scaling': the scaled forward pass underflows at time step {t} "
                "(every reachable state's density rounds to 0), as hmmlearn's does; use "
                "implementation='log'."
            )

    def _posteriors(self, X, lengths):
        _, lengths, params, log_b = self._prepare(X, lengths)
        parts = []
        for start, end in sequence_bounds(lengths):
            part = e_step(params.startprob, params.transmat, log_b[start:end], validate=False)
            self._check_scaling(params, log_b[start:end], part.alpha_hat, start)
            parts.append(part)
        return parts

    def score(self, X, lengths=None) -> float:
        """log P(X | lambda), summed over the sequences."""
        _, lengths, params, log_b = self._prepare(X, lengths)
        return float(sum(p.log_likelihood for p in self._forward_passes(params, log_b, lengths)))

    def score_samples(self, X, lengths=None):
        """``(log P(X | lambda), gamma)``: the log-likelihood and the smoothed posteriors."""
        parts = self._posteriors(X, lengths)
        return float(sum(p.log_likelihood for p in parts)), np.concatenate([p.gamma for p in parts])

    def predict_proba(self, X, lengths=None) -> np.ndarray:
        """Smoothed posteriors gamma_t(i) = P(q_t = i | all of X), Eq. (17). Uses the future."""
        return self.score_samples(X, lengths)[1]

    def filter_proba(self, X, lengths=None) -> np.ndarray:
        """Filtered probabilities P(q_t = i | X_1..X_t): what is known on day t, no look-ahead
        (hmmcore's addition)."""
        _, lengths, params, log_b = self._prepare(X, lengths)
        return np.concatenate([p.alpha_hat for p in self._forward_passes(params, log_b, lengths)])

    def decode(self, X, lengths=None, algorithm=None):
        """``(log_prob, state_sequence)``, per sequence, with ``algorithm`` (default:
        ``self.algorithm``). ``"viterbi"``: the most probable path Q* and log P(X, Q* | lambda).
        ``"map"``: each step's most probable state argmax_i gamma_t(i) and, as hmmlearn
        returns it, the sum over t of max_i gamma_t(i) (not a log-probability)."""
        algorithm = algorithm or self.algorithm
        if algorithm not in DECODER_ALGORITHMS:
            raise ValueError(f"`algorithm` must be one of {DECODER_ALGORITHMS}; got {algorithm!r}.")
        if algorithm == "map":
            gammas = [part.gamma for part in self._posteriors(X, lengths)]
            return (float(sum(gamma.max(axis=1).sum() for gamma in gammas)),
                    np.concatenate([gamma.argmax(axis=1) for gamma in gammas]))
        _, lengths, params, log_b = self._prepare(X, lengths)
        paths = [viterbi(params.startprob, params.transmat, log_b[start:end], validate=False)
                 for start, end in sequence_bounds(lengths)]
        return float(sum(p.log_prob for p in paths)), np.concatenate([p.path for p in paths])

    def predict(self, X, lengths=None) -> np.ndarray:
        """The decoded states (``decode`` with ``self.algorithm``)."""
        return self.decode(X, lengths)[1]

    def sample(self, n_samples=1, random_state=None, currstate=None):
        """Draw ``(X, states)``: (n_samples, D) observations and their hidden states.

        ``random_state=None`` uses the model's; ``currstate`` is the state of the first sample
        (e.g. the last state of a previous call). With None, an int or a ``RandomState`` the
        draws are hmmlearn's, in hmmlearn's order (one uniform per state, one
        ``multivariate_normal`` per observation), so the samples are hmmlearn's. With a numpy
        ``Generator`` (hmmcore's addition) the states are drawn one by one and the Gaussian
        noise at once, through the Cholesky factors: the same distribution, faster.
        """
        n_samples = check_positive_int(n_samples, "n_samples")
        params = self._check()
        random_state = check_random_state(self.random_state if random_state is None else random_state)
        if currstate is not None:
            if isinstance(currstate, bool) or not isinstance(currstate, (int, np.integer)) or not (
                0 <= currstate < self.n_components
            ):
                raise ValueError(
                    f"`currstate` must be a state index in 0..{self.n_components - 1}; got {currstate!r}."
                )
        if isinstance(random_state, np.random.Generator):
            return sample_hmm(*params, n_samples, random_state, first_state=currstate)
        startprob_cdf = np.cumsum(params.startprob)
        transmat_cdf = np.cumsum(params.transmat, axis=1)
        if currstate is None:
            currstate = int((startprob_cdf > random_state.random_sample()).argmax())
        states = [int(currstate)]
        X = [random_state.multivariate_normal(params.means[currstate], params.covars[currstate])]
        for _ in range(n_samples - 1):
            currstate = int((transmat_cdf[currstate] > random_state.random_sample()).argmax())
            states.append(currstate)
            X.append(random_state.multivariate_normal(params.means[currstate], params.covars[currstate]))
        return np.atleast_2d(X), np.array(states, dtype=int)

    def get_stationary_distribution(self) -> np.ndarray:
        """The stationary distribution of A: its left eigenvector of eigenvalue 1, normalised."""
        if not hasattr(self, "transmat_"):
            raise NotFittedError("this GaussianHMM has no transmat_: call `fit` or set it first.")
        transmat = check_transmat(self.transmat_, self.n_components, name="transmat_")
        eigenvalues, eigenvectors = linalg.eig(transmat.T)
        vector = np.real_if_close(eigenvectors[:, np.argmax(eigenvalues.real)])
        return vector / vector.sum()

    # -- model selection ---------------------------------------------------------------------
    def n_parameters(self) -> int:
        """Free scalar parameters, counted as hmmlearn's ``aic``/``bic`` count them:
        (K-1) + K(K-1) + K D + the covariance type's count."""
        self._check()
        return int(sum(self._get_n_fit_scalars_per_param().values()))

    def aic(self, X, lengths=None) -> float:
        """Akaike information criterion, -2 log L + 2 p (lower is better)."""
        return -2.0 * self.score(X, lengths) + 2.0 * self.n_parameters()

    def bic(self, X, lengths=None) -> float:
        """Bayesian information criterion, -2 log L + p log T (lower is better)."""
        return -2.0 * self.score(X, lengths) + self.n_parameters() * np.log(len(X))


def kmeans_centres(X, n_components: int, random_state) -> np.ndarray:
    """k-means++ centres of the rows of ``X`` (SciPy's ``kmeans2``), seeded from
    ``random_state``; data with fewer distinct rows than ``n_components`` get repeated rows."""
    n_samples = X.shape[0]
    if n_samples < n_components:
        raise ValueError(
            f"`X` has {n_samples} samples, fewer than `n_components` = {n_components}."
        )
    distinct = np.unique(X, axis=0)
    if distinct.shape[0] < n_components:
        picks = random_state.choice(distinct.shape[0], n_components, replace=True)
        picks[: distinct.shape[0]] = np.arange(distinct.shape[0])
        return distinct[np.sort(picks)].astype(np.float64)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="One of the clusters is empty")
        centres, _ = kmeans2(X, n_components, minit="++", seed=random_state)
    return centres
