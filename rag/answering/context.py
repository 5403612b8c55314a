"""Context stage: retrieve for the question and for each part of a multi-part one, rerank by evidence, pack a budget."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from rag.answering.evidence import Scorer, Sentence, sentences_of
from rag.answering.parts import split_parts
from rag.answering.rerank import rerank, select_context
from rag.answering.retrieve import Candidate, Filters, retrieve
from rag.lexical import LexicalIndex
from rag.providers import Embedder
from rag.settings import Settings
from rag.store import Store

DOC_BONUS = 0.2  # the most a sentence's score rises for coming from an article the candidates cover well
PART_CANDIDATES = 10  # candidates fetched from each retriever for each part of a multi-part question
DOC_COVERAGE = 3  # candidates from one article that count as covering it


@dataclass
class Gathered:
    """What the answer stages work from."""

    chosen: list[Candidate]  # the context, best first, within the token budget
    sentences: list[Sentence]  # every sentence of the candidate pool, scored against the whole question
    parts: list[tuple[str, Scorer]]  # sub-questions with their own scorers; empty for a one-part question
    scorer: Scorer  # the whole question's


def gather(query: str, *, store: Store, lexical: LexicalIndex, embedder: Embedder, settings: Settings,
           filters: Filters, allowed: set[str] | None, timings: dict[str, float],
           doc_chunks: Callable[[str], int] | None = None) -> Gathered:
    """Retrieve, rerank and pack the context. Each part of 'What did X do, and when did Y happen?' is retrieved on
    its own as well, so the chunk that answers the second part is not crowded out by the first part's words."""
    texts = [query, *sub_questions(query)]
    tick = time.perf_counter()
    vecs = embedder.embed(texts)
    timings["embed"] = ms_since(tick)
    tick = time.perf_counter()
    lists = [retrieve(vec, text, store, lexical, k=settings.candidates if i == 0 else PART_CANDIDATES,
                      rrf_k=settings.rrf_k, filters=filters, allowed_docs=allowed)
             for i, (text, vec) in enumerate(zip(texts, vecs, strict=True))]
    timings["retrieve"] = ms_since(tick)
    tick = time.perf_counter()
    pool = _pool(lists, 3 * settings.context_tokens // settings.chunk_size)
    pool += _within_best_articles(texts, lists, pool, store, lexical)
    scorer, part_scorers = scorers(texts, vecs, lexical)
    sentences = sentences_of([c.chunk for c in pool], store, scorer, embedder)
    _favour_covered_documents(sentences, pool, doc_chunks)
    ordered = rerank(pool, sentences, [s for _, s in part_scorers])
    chosen, _ = select_context(ordered, settings.context_tokens)
    timings["rerank"] = ms_since(tick)
    return Gathered(chosen=chosen, sentences=sentences, parts=part_scorers, scorer=scorer)


def sub_questions(query: str) -> list[str]:
    """The parts of a multi-part question; none for a question of one part."""
    parts = split_parts(query)
    return parts if len(parts) > 1 else []


def scorers(texts: Sequence[str], vecs: Sequence[np.ndarray],
            lexical: LexicalIndex) -> tuple[Scorer, list[tuple[str, Scorer]]]:
    """Scorers for the question (``texts[0]``) and each of its parts."""
    made = [Scorer(t, v, lexical) for t, v in zip(texts, vecs, strict=True)]
    return made[0], list(zip(texts[1:], made[1:], strict=True))


def _favour_covered_documents(sentences: Sequence[Sentence], pool: Sequence[Candidate],
                              doc_chunks: Callable[[str], int] | None) -> None:
    """Raise the scores of sentences from articles that several candidates come from (up to DOC_BONUS).

    An article about the question tends to match it in more than one chunk; one stray sentence of an unrelated
    article that happens to share its words does not. Short articles are judged by the chunks they have."""
    found = Counter(c.chunk.doc_id for c in pool)
    for s in sentences:
        total = (doc_chunks(s.doc_id) if doc_chunks else 0) or DOC_COVERAGE
        share = min(found[s.doc_id], DOC_COVERAGE) / min(total, DOC_COVERAGE)
        s.backed = found[s.doc_id] > 1 or total == 1
        factor = 1.0 + DOC_BONUS * share if s.backed else 1.0
        s.score *= factor
        s.context_score *= factor


BEST_ARTICLES = 3  # the articles of each list's best candidates are searched again, on their own
WITHIN_K = 2  # chunks (not already candidates) taken from that search for the question and for each part


def _within_best_articles(texts: Sequence[str], lists: Sequence[Sequence[Candidate]], pool: Sequence[Candidate],
                          store: Store, lexical: LexicalIndex) -> list[Candidate]:
    """Chunks of the best candidates' articles that match the question or a part, searched for within those articles
    alone: the chunk that lists BRICS+'s new members is found in an article about BRICS+ even when a thousand other
    articles share the question's words."""
    docs = {c.chunk.doc_id for found in lists for c in found[:BEST_ARTICLES]}
    have = {c.chunk.chunk_id for c in pool}
    last = min((c.fused for c in pool), default=0.0)  # they rank after every candidate; their sentences decide
    wanted: dict[str, tuple[float, int]] = {}  # chunk id -> its BM25 score and rank within those articles
    for text in texts:
        found = [hit for hit in lexical.search(text, WITHIN_K + len(have), docs) if hit[0] not in have]
        for rank, (chunk_id, _doc_id, score) in enumerate(found[:WITHIN_K]):
            wanted.setdefault(chunk_id, (score, rank))
    if not wanted:
        return []
    chunks = {chunk.chunk_id: chunk for chunk in store.get_chunks(ids=list(wanted))}
    return [Candidate(chunk=chunks[cid], fused=last, lexical=score, lexical_rank=rank)
            for cid, (score, rank) in wanted.items() if cid in chunks]


def _pool(lists: Sequence[Sequence[Candidate]], size: int) -> list[Candidate]:
    """The question's best ``size`` candidates, then each part's best ``size // 2`` not already in."""
    pool: dict[str, Candidate] = {}
    for i, found in enumerate(lists):
        for cand in found[: size if i == 0 else size // 2]:
            have = pool.get(cand.chunk.chunk_id)
            if have is None or cand.fused > have.fused:
                pool[cand.chunk.chunk_id] = cand
    return list(pool.values())


def ms_since(since: float) -> float:
    """Milliseconds since a ``time.perf_counter()`` reading, for the stage timings an Answer carries."""
    return round((time.perf_counter() - since) * 1000, 2)
