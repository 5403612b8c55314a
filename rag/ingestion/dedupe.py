"""Near-duplicate document detection with MinHash over word shingles, banded for sub-linear lookup."""

from __future__ import annotations

import hashlib
import re

import numpy as np

_PERMS, _BANDS = 64, 16
_ROWS = _PERMS // _BANDS
_MERSENNE = np.uint64((1 << 61) - 1)
_rng = np.random.default_rng(20240625)
_A = _rng.integers(1, 1 << 61, size=_PERMS, dtype=np.uint64)
_B = _rng.integers(0, 1 << 61, size=_PERMS, dtype=np.uint64)
_WORD = re.compile(r"\w+")


def signature(text: str, shingle: int = 5) -> np.ndarray:
    """MinHash signature (64 uint64 values) of the text's word 5-grams."""
    words = _WORD.findall(text.lower())
    grams = {" ".join(words[i : i + shingle]) for i in range(max(1, len(words) - shingle + 1))}
    hashes = np.fromiter(
        (int.from_bytes(hashlib.blake2b(g.encode(), digest_size=8).digest(), "little") >> 3 for g in grams),
        dtype=np.uint64, count=len(grams),
    )
    with np.errstate(over="ignore"):
        values = (hashes[:, None] * _A[None, :] + _B[None, :]) % _MERSENNE
    return values.min(axis=0)


def encode(sig: np.ndarray) -> str:
    """Compact string form for storage in a document record."""
    return sig.astype("<u8").tobytes().hex()


def decode(text: str) -> np.ndarray | None:
    try:
        sig = np.frombuffer(bytes.fromhex(text), dtype="<u8")
    except ValueError:
        return None
    return sig if len(sig) == _PERMS else None


class DuplicateFinder:
    """Finds, among the documents registered so far, one whose estimated Jaccard similarity passes a threshold."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self._buckets: dict[tuple[int, bytes], list[str]] = {}
        self._sigs: dict[str, np.ndarray] = {}

    def register(self, doc_id: str, sig: np.ndarray) -> None:
        self._sigs[doc_id] = sig
        for band in range(_BANDS):
            key = (band, sig[band * _ROWS : (band + 1) * _ROWS].tobytes())
            self._buckets.setdefault(key, []).append(doc_id)

    def forget(self, doc_id: str) -> None:
        sig = self._sigs.pop(doc_id, None)
        if sig is None:
            return
        for band in range(_BANDS):
            key = (band, sig[band * _ROWS : (band + 1) * _ROWS].tobytes())
            bucket = self._buckets.get(key, [])
            if doc_id in bucket:
                bucket.remove(doc_id)

    def find(self, doc_id: str, sig: np.ndarray) -> str | None:
        """The id of a registered near-duplicate of this signature (other than doc_id itself), or None."""
        seen: set[str] = set()
        for band in range(_BANDS):
            for other in self._buckets.get((band, sig[band * _ROWS : (band + 1) * _ROWS].tobytes()), []):
                if other == doc_id or other in seen:
                    continue
                seen.add(other)
                if float(np.mean(self._sigs[other] == sig)) >= self.threshold:
                    return other
        return None
