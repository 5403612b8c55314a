"""Retrieve stage: dense search in Chroma plus BM25, fused by reciprocal rank, with metadata filters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rag.lexical import LexicalIndex
from rag.store import Store, date_to_int
from rag.types import Chunk


@dataclass(frozen=True)
class Filters:
    """Optional restrictions: some documents, and/or a publication date range (ISO dates, inclusive)."""

    doc_ids: tuple[str, ...] | None = None
    date_from: str | None = None
    date_to: str | None = None

    @property
    def active(self) -> bool:
        return bool(self.doc_ids or self.date_from or self.date_to)

    def where(self) -> dict[str, Any] | None:
        """The Chroma where-clause for these filters."""
        clauses: list[dict[str, Any]] = []
        if self.doc_ids:
            clauses.append({"doc_id": {"$in": list(self.doc_ids)}})
        if self.date_from:
            clauses.append({"date_int": {"$gte": date_to_int(self.date_from)}})
        if self.date_to:
            clauses.append({"date_int": {"$lte": date_to_int(self.date_to)}})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def allows(self, doc_id: str, date: str) -> bool:
        if self.doc_ids and doc_id not in self.doc_ids:
            return False
        d = date_to_int(date)
        if self.date_from and d < date_to_int(self.date_from):
            return False
        return not (self.date_to and d > date_to_int(self.date_to))


@dataclass
class Candidate:
    """A chunk found by one or both retrievers."""

    chunk: Chunk
    fused: float = 0.0
    dense: float | None = None
    dense_rank: int | None = None
    lexical: float | None = None
    lexical_rank: int | None = None


def retrieve(
    query_vec: np.ndarray, query: str, store: Store, lexical: LexicalIndex, *, k: int, rrf_k: int,
    filters: Filters, allowed_docs: set[str] | None,
) -> list[Candidate]:
    """Hybrid candidates, best first: RRF over the dense and BM25 rankings."""
    found: dict[str, Candidate] = {}
    for rank, (chunk, sim) in enumerate(store.dense_query(query_vec, k, filters.where())):
        if allowed_docs is not None and chunk.doc_id not in allowed_docs:
            continue
        found[chunk.chunk_id] = Candidate(chunk=chunk, dense=sim, dense_rank=rank)
    lexical_only: list[str] = []
    for rank, (chunk_id, _doc_id, score) in enumerate(lexical.search(query, k, allowed_docs)):
        cand = found.get(chunk_id)
        if cand is None:
            lexical_only.append(chunk_id)
            cand = found[chunk_id] = Candidate(chunk=Chunk(chunk_id=chunk_id, doc_id=_doc_id, position=0, start=0,
                                                            end=0, text=""))
        cand.lexical, cand.lexical_rank = score, rank
    if lexical_only:
        for chunk in store.get_chunks(ids=lexical_only):
            found[chunk.chunk_id].chunk = chunk
    for cand in found.values():
        cand.fused = sum(1.0 / (rrf_k + r + 1) for r in (cand.dense_rank, cand.lexical_rank) if r is not None)
    return sorted((c for c in found.values() if c.chunk.text), key=lambda c: -c.fused)
