"""Time cut into blocks: the memory layout of the fast E-step.

The blocked scan of :mod:`hmmcore.inference` advances position l of every block at once, so
step ``t = b L + l`` (block b, position l) is stored at index ``l B + b``: arrays end in the
axes (L, B), and position l of all B blocks is one contiguous run. When L does not divide T,
the last block is padded with steps at which every state has density 1 (log-density 0). Such a
step keeps the mass of alpha (the rows of A sum to 1) and leaves beta unchanged, so the
likelihood is untouched; the padded steps are then dropped, or given zero weight.

Sums over time are the same in any order, so the EM loop keeps its observations in this order
and never converts back (see :mod:`hmmcore.em`).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np


class TimeBlocks(NamedTuple):
    n_steps: int
    """T, the steps of the sequence."""
    length: int
    """L, the steps per block."""
    n_blocks: int
    """B, the number of blocks (the last one possibly padded)."""

    @classmethod
    def for_steps(cls, n_steps: int) -> "TimeBlocks":
        """Blocks of about sqrt(T) steps: the scan's loops over positions and over blocks then
        run about equally often."""
        length = max(1, math.isqrt(n_steps))
        return cls(n_steps, length, -(-n_steps // length))

    @property
    def size(self) -> int:
        """L B: the steps including the padding."""
        return self.length * self.n_blocks

    @property
    def last_block_steps(self) -> int:
        """Real steps in the last block: positions from here on are padding."""
        return self.n_steps - (self.n_blocks - 1) * self.length

    def time_step(self, position: int, block: int) -> int:
        return block * self.length + position


def to_blocks(values: np.ndarray, blocks: TimeBlocks, fill: float = 0.0) -> np.ndarray:
    """(..., T, K) in time order -> (..., K, L, B) in block order, padding set to ``fill``."""
    *lead, n_steps, width = values.shape
    padded = np.full((*lead, blocks.n_blocks, blocks.length, width), fill)
    padded.reshape(*lead, blocks.size, width)[..., :n_steps, :] = values
    return np.ascontiguousarray(np.swapaxes(padded, -1, -3))


def from_blocks(values: np.ndarray, blocks: TimeBlocks) -> np.ndarray:
    """(..., K, L, B) in block order -> (..., T, K) in time order, padding dropped."""
    *lead, width, _, _ = values.shape
    in_time_order = np.swapaxes(values, -1, -3).reshape(*lead, blocks.size, width)
    return np.ascontiguousarray(in_time_order[..., : blocks.n_steps, :])
