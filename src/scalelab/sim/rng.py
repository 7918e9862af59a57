"""One seeded random-number tree per run: one independent stream per component.

Streams are keyed by name (not by creation order), so adding a component never shifts
the numbers another component draws: runs stay comparable across versions.
"""

from __future__ import annotations

import zlib

import numpy as np


class RngTree:
    """Hands out ``numpy.random.Generator`` streams derived from one seed."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._streams: dict[str, np.random.Generator] = {}

    def stream(self, name: str) -> np.random.Generator:
        gen = self._streams.get(name)
        if gen is None:
            key = zlib.crc32(name.encode("utf-8"))
            gen = np.random.Generator(np.random.PCG64(np.random.SeedSequence(self.seed, spawn_key=(key,))))
            self._streams[name] = gen
        return gen
