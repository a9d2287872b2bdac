"""Scratch arrays reused from one E-step to the next.

A freshly allocated multi-megabyte numpy array lives on new memory pages, which the kernel maps
and zeroes when they are first touched; for the E-step's arrays that costs about as much as the
arithmetic done on them. The EM loop needs arrays of the same shapes at every iteration, so the
E-step takes its large intermediate arrays from here: each thread keeps the arrays of its last
E-step, at most :data:`KEEP_AT_MOST_BYTES` of them, and hands them out again when the shapes
match. Nothing returned to a user is a scratch array.
"""

from __future__ import annotations

import threading

import numpy as np

#: Scratch arrays kept per thread between calls, in bytes (larger ones are allocated each time).
KEEP_AT_MOST_BYTES = 64 * 2**20

_kept = threading.local()


def scratch(name: str, shape: tuple[int, ...]) -> np.ndarray:
    """An uninitialised float64 array of ``shape``: the one this thread last got under ``name``
    if it has that shape. Its previous contents are overwritten by whoever asks next."""
    arrays = getattr(_kept, "arrays", None)
    if arrays is None:
        arrays = _kept.arrays = {}
    array = arrays.get(name)
    if array is not None and array.shape == tuple(shape):
        return array
    arrays.pop(name, None)
    array = np.empty(shape)
    if sum(kept.nbytes for kept in arrays.values()) + array.nbytes <= KEEP_AT_MOST_BYTES:
        arrays[name] = array
    return array
