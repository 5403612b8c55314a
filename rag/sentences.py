"""Sentences of a chunk, keyed by (doc_id, start, end): the unit answers quote and citations are checked on."""

from __future__ import annotations

import numpy as np

from rag.text import split_sentences
from rag.types import Chunk

SentenceKey = tuple[str, int, int]


def chunk_sentences(chunk: Chunk) -> list[tuple[SentenceKey, str]]:
    """(key, text) for each sentence of the chunk; offsets are into the cleaned document text."""
    return [
        ((chunk.doc_id, chunk.start + s, chunk.start + e), chunk.text[s:e])
        for s, e in split_sentences(chunk.text)
        if e > s
    ]


def pool(vectors: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted mean of unit vectors, re-normalised: a chunk's vector from its sentences' vectors."""
    if len(vectors) == 0:
        raise ValueError("cannot pool zero vectors")
    mean = (vectors * weights[:, None]).sum(axis=0) / max(float(weights.sum()), 1e-9)
    return (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32)
