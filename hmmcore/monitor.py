"""When EM stops: hmmlearn's convergence monitor, which also reports a decrease.

EM cannot lower the likelihood (chapter 2's monotonicity theorem), so a fall beyond rounding
means that the M-step is not the exact one (a prior or a ridge makes it a penalised update) or
that something is wrong; the monitor warns with a :class:`LikelihoodDecreaseWarning`. As in
hmmlearn, a fall is a gain below ``tol`` and so stops EM.
"""

from __future__ import annotations

import sys
import warnings
from collections import deque

import numpy as np

#: A fall in log-likelihood larger than this fraction of max(1, |log-likelihood|) is not rounding.
DECREASE_TOLERANCE = 1e-9


class LikelihoodDecreaseWarning(RuntimeWarning):
    """EM lowered the log-likelihood by more than rounding."""


class ConvergenceMonitor:
    """hmmlearn's convergence monitor: the same fields, report and rule.

    Parameters
    ----------
    tol : float
        EM stops when the gain in log-likelihood between two E-steps is below ``tol`` (a fall
        is such a gain); ``-inf`` never stops early.
    n_iter : int
        EM stops after ``n_iter`` E-steps.
    verbose : bool
        Print each iteration's log-likelihood and gain to stderr.
    name : str, optional
        Put before the text of its warnings (e.g. ``"restart 3: "``).

    Attributes
    ----------
    history : collections.deque
        log P(O | lambda) at each E-step of the current run, in order.
    iter : int
        The number of E-steps reported.

    Examples
    --------
    >>> monitor = ConvergenceMonitor(tol=0.1, n_iter=100, verbose=False)
    >>> for log_likelihood in (-10.0, -9.0, -8.95):
    ...     monitor.report(log_likelihood)
    >>> monitor.converged, monitor.iter
    (True, 3)

    A subclass redefining ``converged`` can be assigned to ``GaussianHMM.monitor_`` before
    ``fit``, as in hmmlearn.
    """

    _template = "{iter:>10d} {log_prob:>16.8f} {delta:>+16.8f}"

    def __init__(self, tol, n_iter, verbose, *, name=""):
        self.tol = tol
        self.n_iter = n_iter
        self.verbose = verbose
        self.name = name
        self.history = deque()
        self.iter = 0

    def __repr__(self):
        fields = sorted(dict(vars(self), history=list(self.history)).items())
        return f"{type(self).__name__}(\n" + "".join(f"    {k}={v},\n" for k, v in fields) + ")"

    def _reset(self):
        """Forget the previous run (hmmlearn's name)."""
        self.iter = 0
        self.history.clear()

    def report(self, log_prob):
        """Record the log-likelihood of an E-step; print it with the gain if ``verbose``; warn
        with a :class:`LikelihoodDecreaseWarning` if it fell beyond rounding."""
        if self.verbose:
            delta = log_prob - self.history[-1] if self.history else np.nan
            print(self._template.format(iter=self.iter + 1, log_prob=log_prob, delta=delta),
                  file=sys.stderr)
        if self.history and is_decrease(self.history[-1], log_prob):
            warnings.warn(
                f"{self.name}EM decreased the log-likelihood from {self.history[-1]!r} to "
                f"{log_prob!r} (iteration {self.iter + 1}). Exact EM never does this: with "
                "reg_covar or a prior the M-step is a penalised update, which need not raise "
                "the likelihood; without them the model or the data is at fault.",
                LikelihoodDecreaseWarning,
                stacklevel=2,
            )
        self.history.append(log_prob)
        self.iter += 1

    @property
    def converged(self):
        """Whether EM should stop: ``n_iter`` reached, or the last gain below ``tol``."""
        return self.iter == self.n_iter or (
            len(self.history) >= 2 and self.history[-1] - self.history[-2] < self.tol
        )


def is_decrease(before: float, after: float) -> bool:
    """Whether the log-likelihood fell from ``before`` to ``after`` by more than rounding."""
    return after - before < -DECREASE_TOLERANCE * max(1.0, abs(before))
