"""The stationary distribution of the hidden chain (``hmmcore.stationary_distribution``,
``GaussianHMM.get_stationary_distribution``) against the limit of A^n and closed forms."""

from __future__ import annotations

import numpy as np
import pytest
from problems import random_hmm

import hmmcore


def test_the_limit_of_the_chain(rng):
    """Every row of A^n tends to pi(A) for an irreducible aperiodic chain."""
    for n_states in (2, 3, 5):
        transmat = random_hmm(rng, n_states)[1]
        limit = np.linalg.matrix_power(transmat, 4096)[0]
        np.testing.assert_allclose(hmmcore.stationary_distribution(transmat), limit, rtol=1e-10)


def test_closed_forms():
    """A periodic chain (no limit, but a stationary distribution) and a transient state."""
    np.testing.assert_allclose(hmmcore.stationary_distribution([[0.0, 1.0], [1.0, 0.0]]), [0.5, 0.5])
    np.testing.assert_allclose(hmmcore.stationary_distribution([[0.5, 0.5], [0.0, 1.0]]), [0.0, 1.0])


def test_no_unique_stationary_distribution_is_an_error():
    with pytest.raises(ValueError, match=r"2 closed classes of states \[\[0\], \[1, 2\]\]"):
        hmmcore.stationary_distribution([[1.0, 0.0, 0.0], [0.0, 0.5, 0.5], [0.0, 0.5, 0.5]])
    model = hmmcore.GaussianHMM(2)
    model.transmat_ = np.eye(2)
    with pytest.raises(ValueError, match="`transmat` has 2 closed classes"):
        model.get_stationary_distribution()
    with pytest.raises(ValueError, match="`transmat`"):
        hmmcore.stationary_distribution([[0.5, 0.6], [0.5, 0.5]])
