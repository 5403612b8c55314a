"""Rerank stage: order candidates by their best sentence, drop near-duplicates, fill the token budget."""

from __future__ import annotations

from collections.abc import Sequence

from rag.answering.evidence import Scorer, Sentence
from rag.answering.retrieve import Candidate
from rag.lexical import term_set

DUPLICATE_JACCARD = 0.8


def rerank(candidates: Sequence[Candidate], sentences: Sequence[Sentence],
           part_scorers: Sequence[Scorer] = ()) -> list[Candidate]:
    """Candidates ordered by a blend of their fused rank score and their best sentence's evidence score (for a
    multi-part question, the sentence's best score for any part); the chunk holding the best sentence of all comes
    first, however low retrieval ranked it (a paraphrase shares few words with the question)."""
    best: dict[str, float] = {}
    for s in sentences:
        score = max([s.score] + [p.score(s) for p in part_scorers])
        best[s.chunk_id] = max(best.get(s.chunk_id, 0.0), score)
    top_fused = max((c.fused for c in candidates), default=1.0) or 1.0

    lead = max(best, key=best.__getitem__, default=None)

    def key(c: Candidate) -> tuple[bool, float]:
        return c.chunk.chunk_id == lead, 0.65 * best.get(c.chunk.chunk_id, 0.0) + 0.35 * (c.fused / top_fused)

    return sorted(candidates, key=key, reverse=True)


def select_context(candidates: Sequence[Candidate], budget_tokens: int) -> tuple[list[Candidate], int]:
    """Take candidates in order while they fit the budget, skipping near-duplicates of ones already taken."""
    taken: list[Candidate] = []
    shingles: list[frozenset[str]] = []
    used = 0
    for cand in candidates:
        tokens = term_set(cand.chunk.text)
        if any(_jaccard(tokens, other) >= DUPLICATE_JACCARD for other in shingles):
            continue
        size = cand.chunk.size
        if used + size > budget_tokens:
            if budget_tokens - used < 40:
                break
            continue
        taken.append(cand)
        shingles.append(tokens)
        used += size
    return taken, used


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)
