"""A deterministic hashing embedder (feature hashing of word unigrams and bigrams).

For tests that are about something other than embedding quality, and for ``TENANTRY_EMBEDDER=hashing`` on
machines where loading the model is undesirable. It has real (lexical) similarity behaviour: texts sharing words
get close vectors.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

from ..base import Vectors

__all__ = ["HashingEmbedder"]

_WORD = re.compile(r"[a-z0-9]+")


class HashingEmbedder:
    name = "hashing"

    def __init__(self, dimensions: int = 256) -> None:
        self.dimensions = dimensions

    def _bucket(self, token: str) -> tuple[int, float]:
        h = int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "little")
        return h % self.dimensions, 1.0 if (h >> 63) & 1 else -1.0

    def embed(self, texts: Sequence[str]) -> Vectors:
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        for row, text in enumerate(texts):
            words = _WORD.findall(text.lower())
            for tok in words + [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]:
                col, sign = self._bucket(tok)
                out[row, col] += sign
            n = float(np.linalg.norm(out[row]))
            if n > 0:
                out[row] /= n
        return out
