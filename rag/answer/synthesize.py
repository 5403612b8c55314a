"""Extractive synthesis: answer with the context's best sentences, verbatim, each with its own citation."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rag.answer.evidence import Sentence
from rag.lexical import tokenize
from rag.types import Citation, Passage

_FIGURE = re.compile(r"(?:US)?\$?\d[\d,.]*\s*(?:%|percent|per cent|billion|million|trillion)", re.IGNORECASE)
_MIN_WORDS = 5
NOT_COVERED = "The indexed articles don't answer this question."


@dataclass
class Draft:
    """A synthesizer's output before it becomes an Answer."""

    text: str
    citations: list[Citation]
    abstained: bool


def figures(text: str) -> set[str]:
    """Quantities such as '80%', '$111 billion' or '60 to 70%', normalised for comparison."""
    return {re.sub(r"[^\d.%a-z]", "", m.group(0).lower()) for m in _FIGURE.finditer(text)}


def cite(n: int, sentence: Sentence, passages: dict[str, Passage]) -> Citation:
    """A citation whose quote is the sentence itself: verbatim by construction."""
    p = passages[sentence.chunk_id]
    return Citation(
        n=n, doc_id=sentence.doc_id, title=p.meta.title, outlet=p.meta.outlet, author=p.meta.author,
        date=p.meta.date, source=p.source, quote=sentence.text, start=sentence.key[1], end=sentence.key[2],
        chunk_id=sentence.chunk_id, support=round(sentence.score, 4),
    )


def abstain(sentences: Sequence[Sentence], passages: dict[str, Passage]) -> Draft:
    """Say the articles don't cover it, pointing at the closest passage if there is one."""
    if not sentences:
        return Draft(text=NOT_COVERED + " Nothing in them comes close.", citations=[], abstained=True)
    closest = max(sentences, key=lambda s: s.score)
    title = passages[closest.chunk_id].meta.title or closest.doc_id
    text = f"{NOT_COVERED} The closest related passage, from “{title}”, says: “{closest.text}” [1]"
    return Draft(text=text, citations=[cite(1, closest, passages)], abstained=True)


def extract(
    sentences: Sequence[Sentence], passages: dict[str, Passage], *, max_sentences: int, threshold: float
) -> Draft:
    """Pick the best sentences (plus a differing figure from another source), or abstain below the threshold."""
    ranked = sorted((s for s in sentences if len(s.text.split()) >= _MIN_WORDS), key=lambda s: -s.score)
    if not ranked or ranked[0].score < threshold:
        return abstain(sentences, passages)
    top = ranked[0]
    chosen: list[Sentence] = [top]
    conflict: Sentence | None = _differing_figure(top, ranked)
    floor = max(0.85 * top.score, threshold)
    for s in ranked[1:]:
        if len(chosen) + (conflict is not None) >= max_sentences:
            break
        if s.score < floor:
            break
        if s is conflict or _redundant(s, chosen):
            continue
        chosen.append(s)
    parts, citations = [], []
    for s in chosen:
        citations.append(cite(len(citations) + 1, s, passages))
        parts.append(f"{s.text} [{len(citations)}]")
    if conflict is not None:
        citations.append(cite(len(citations) + 1, conflict, passages))
        parts.append(f"Another source gives a different figure: {conflict.text} [{len(citations)}]")
    return Draft(text=" ".join(parts), citations=citations, abstained=False)


def _differing_figure(top: Sentence, ranked: Sequence[Sentence]) -> Sentence | None:
    """A sentence from another document on the same point that states a different figure."""
    mine = figures(top.text)
    if not mine:
        return None
    for s in ranked[1:12]:
        if s.doc_id == top.doc_id or s.score < 0.7 * top.score:
            continue
        theirs = figures(s.text)
        if not theirs or theirs <= mine:
            continue
        if _similar(top, s) >= 0.45:
            return s
    return None


def _similar(a: Sentence, b: Sentence) -> float:
    if a.vector is None or b.vector is None:
        return 0.0
    return float(np.dot(a.vector, b.vector))


def _redundant(s: Sentence, chosen: Sequence[Sentence]) -> bool:
    mine = set(tokenize(s.text))
    for other in chosen:
        theirs = set(tokenize(other.text))
        if mine and theirs and len(mine & theirs) / len(mine | theirs) > 0.5:
            return True
        if s.doc_id == other.doc_id and s.key[1] < other.key[2] and other.key[1] < s.key[2]:
            return True
    return False
