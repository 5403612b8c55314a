"""Retrieve stage: dense search in Chroma plus BM25, fused by reciprocal rank, with metadata filters."""

from __future__ import annotations

import re
from collections.abc import Collection, Container, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np

from rag.errors import InputError
from rag.lexical import LexicalIndex
from rag.store import Store, date_to_int
from rag.types import Chunk

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class Filters:
    """Optional restrictions: some documents, and/or a publication date range (ISO dates, inclusive).

    An article without a date is kept by a date range (the range cannot place it); ``scope`` says so."""

    doc_ids: tuple[str, ...] | None = None
    date_from: str | None = None
    date_to: str | None = None

    @classmethod
    def checked(cls, doc_ids: Sequence[str] | str | None = None, date_from: object = None,
                date_to: object = None) -> Filters:
        """Filters from a caller's options; an impossible date or a reversed range is an InputError naming it."""
        ids = [doc_ids] if isinstance(doc_ids, str) else list(doc_ids or ())
        kept = tuple(dict.fromkeys(str(d).strip() for d in ids if str(d or "").strip())) or None
        start, end = _checked_date(date_from, "start"), _checked_date(date_to, "end")
        if start and end and start > end:
            raise InputError(f"The date range is reversed: it starts on {start}, after its end on {end}. "
                             "Swap the two dates.")
        return cls(doc_ids=kept, date_from=start, date_to=end)

    @property
    def active(self) -> bool:
        return bool(self.doc_ids or self.date_from or self.date_to)

    def where(self) -> dict[str, Any] | None:
        """The Chroma where-clause for these filters (chunks of undated articles pass a date range)."""
        clauses: list[dict[str, Any]] = []
        if self.doc_ids:
            clauses.append({"doc_id": {"$in": list(self.doc_ids)}})
        dated: list[dict[str, Any]] = []
        if self.date_from:
            dated.append({"date_int": {"$gte": date_to_int(self.date_from)}})
        if self.date_to:
            dated.append({"date_int": {"$lte": date_to_int(self.date_to)}})
        if dated:
            clauses.append({"$or": [{"date_int": {"$eq": 0}}, dated[0] if len(dated) == 1 else {"$and": dated}]})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def allows(self, doc_id: str, date: str) -> bool:
        if self.doc_ids and doc_id not in self.doc_ids:
            return False
        d = date_to_int(date)
        if not d:
            return True
        if self.date_from and d < date_to_int(self.date_from):
            return False
        return not (self.date_to and d > date_to_int(self.date_to))

    def scope(self, complete: Collection[str], records: Mapping[str, Mapping[str, Any]]) -> tuple[set[str] | None, str]:
        """The documents a question may draw on (None: every one) and what to tell the user about undated ones.

        ``complete`` are the fully indexed ids, ``records`` every document's record; an unknown id is an InputError."""
        require_known(self.doc_ids or (), complete)
        if not self.active and len(complete) == len(records):
            return None, ""
        allowed = {d for d in complete if self.allows(d, str(records[d].get("date", "")))}
        undated = sorted(d for d in allowed if not date_to_int(str(records[d].get("date", ""))))
        if not (self.date_from or self.date_to) or not (n := len(undated)):
            return allowed, ""
        named = ", ".join(undated[:3]) + (f" and {n - 3} more" if n > 3 else "")
        return allowed, (f"{n} of the articles searched {'has' if n == 1 else 'have'} no date ({named}): a date "
                         f"range cannot place {'it' if n == 1 else 'them'}, so {'it was' if n == 1 else 'they were'} "
                         "kept.")

    def nothing_matches(self) -> str:
        """The answer when no indexed article passes these filters."""
        parts = [f"document{'s' * (len(self.doc_ids) != 1)} {', '.join(self.doc_ids)}"] if self.doc_ids else []
        if self.date_from or self.date_to:
            parts.append(f"dated {self.date_from or 'any time'} to {self.date_to or 'now'}")
        return (f"No indexed article matches the filters ({'; '.join(parts)}), so there is nothing to answer from. "
                "`rag sources` lists the articles with their dates.")


def require_known(doc_ids: Sequence[str], known: Container[str]) -> None:
    """Raise InputError naming every id that no indexed document has."""
    if unknown := [d for d in doc_ids if d not in known]:
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        raise InputError(f"No indexed document has the id{'s' * (len(unknown) != 1)} "
                         f"{', '.join(repr(d[:80]) for d in unknown[:5])}{more}; `rag sources` (or the Sources tab "
                         "of the chat UI) lists the ids.")


def _checked_date(value: object, which: str) -> str | None:
    """``value`` as 'YYYY-MM-DD' (None when not given); an impossible date is an InputError naming it."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = str(value or "").strip()
    if not text:
        return None
    if _ISO_DATE.fullmatch(text):
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            pass
    shown = text if len(text) <= 40 else f"{text[:40]}…"
    raise InputError(f"The {which} date {shown!r} is not a real date: write it as YYYY-MM-DD, e.g. 2024-06-01.")


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
