"""Extractive synthesis: answer with the context's best sentences, verbatim, each with its own citation."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from rag.answering import answer_type
from rag.answering.evidence import Scorer, Sentence
from rag.answering.focus import Focus, focus, holds, same_pair, titled
from rag.answering.parts import is_polar
from rag.ingestion.metadata import display_title
from rag.lexical import term_set
from rag.types import Citation, Passage

_MIN_WORDS = 5
OTHER_DOC_RATIO = 0.95  # a supporting sentence from another article must nearly tie with the lead
FIT_FLOOR = 0.75  # a lead article's sentence that also answers the question may score this much below the lead
LEAD_RATIO = 0.6  # a lead offering the expected kind of answer may score this much below the best sentence
NOT_COVERED = "The indexed articles don't answer this question."


@lru_cache(maxsize=512)
def _about(question: str) -> Focus:
    return focus(question)


@dataclass
class Draft:
    """A synthesizer's output before it becomes an Answer."""

    text: str
    citations: list[Citation]
    abstained: bool


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
    p = passages[closest.chunk_id]
    title = display_title(p.meta.title, p.source, closest.doc_id)
    text = f"{NOT_COVERED} The closest related passage, from “{title}”, says: “{closest.text}” [1]"
    return Draft(text=text, citations=[cite(1, closest, passages)], abstained=True)


def extract(
    sentences: Sequence[Sentence], passages: dict[str, Passage], *, question: str,
    parts: Sequence[tuple[str, Scorer]] = (), max_sentences: int, threshold: float, fit_rules: bool = True,
    lead: Sentence | None = None, vouch: Callable[[Sentence], bool] | None = None,
) -> Draft:
    """Pick the best sentences, or abstain.

    Each part of a multi-part question gets its own lead sentence. A lead must score above the threshold and pass
    ``fits``: offer the kind of answer asked for (a number, a date, a name the question does not already state, as
    the learned answer-type model reads it) about whom the question asks about.
    ``fit_rules=False`` drops that last condition (every ``fits`` rule): the best-scoring sentence leads, and
    refusing is left to the caller (answering.decide). ``lead``: the lead a caller chose for a one-part question.
    ``vouch``: whether the reader holds that a sentence answers the question too; another article's sentence then
    supports the answer only when it does (a citation of an article the reader does not vouch for is a wrong one).
    """
    check = fits if fit_rules else _always
    usable = [s for s in sentences if len(s.text.split()) >= _MIN_WORDS]
    if not usable:
        return abstain(sentences, passages)
    chosen: list[Sentence] = [lead] if lead is not None else []
    for text, scorer in [] if lead is not None else parts if len(parts) > 1 else [(question, None)]:
        scores = {id(s): scorer.score(s) if scorer else s.score for s in usable}
        best = _lead(usable, text, scores, threshold, fits=check)
        if best is not None and not _redundant(best, chosen):
            chosen.append(best)
    if not chosen:
        return abstain(sentences, passages)
    top = chosen[0]
    floor = max(0.85 * top.score, threshold)
    lead_docs = {s.doc_id for s in chosen}
    polar = is_polar(question)
    asks = [question] if len(parts) <= 1 else [text for text, _ in parts]
    fitting_floor = max(FIT_FLOOR * top.score, threshold)
    for s in sorted(usable, key=lambda s: -s.score):
        if len(chosen) >= max_sentences or s.score < fitting_floor:
            break
        answers = any(check(s, q) for q in asks)
        if s.score < floor and not (s.doc_id in lead_docs and answers):
            continue  # below the floor only a lead article's sentence that answers the question too may join
        # Supporting sentences come from a lead's own article; another article is cited only when it answers a
        # part of the question or nearly ties with the lead (for a yes/no question, a second view that beats the
        # lead on its own merits, before the bonus for the lead's well-covered article).
        near_tie = answers and (s.score >= OTHER_DOC_RATIO * top.score or (polar and s.own_score >= top.own_score))
        if near_tie and vouch is not None and s.doc_id not in lead_docs:
            near_tie = vouch(s)
        if (s.doc_id in lead_docs or near_tie) and same_pair(s.text, question) and not _redundant(s, chosen):
            chosen.append(s)
    return compose(chosen, passages)


def compose(chosen: Sequence[Sentence], passages: dict[str, Passage]) -> Draft:
    """The answer text: each chosen sentence verbatim with its marker."""
    parts_text, citations = [], []
    for s in chosen:
        citations.append(cite(len(citations) + 1, s, passages))
        parts_text.append(f"{s.text} [{len(citations)}]")
    return Draft(text=" ".join(parts_text), citations=citations, abstained=False)


def _lead(sentences: Sequence[Sentence], question: str, scores: dict[int, float], threshold: float, *,
          fits: Callable[..., bool]) -> Sentence | None:
    """The best sentence that offers what the question asks for, about what it asks about, if any scores high enough.

    'How many North Korean troops…' needs a sentence with a number that uses the noun 'troops'."""
    ranked = sorted(sentences, key=lambda s: -scores[id(s)])
    best = scores[id(ranked[0])]
    if best < threshold:
        return None
    for s in ranked:
        if scores[id(s)] < max(threshold, LEAD_RATIO * best):
            return None
        if fits(s, question):
            return s
    return None


def fits(s: Sentence, question: str) -> bool:
    """Whether the sentence offers the kind of answer the question asks for, about what it asks about (the role or
    title, the pair of parties it names)."""
    return fit(s, question) >= answer_type.CUTOFF


def fit(s: Sentence, question: str) -> float:
    """The answer-type model's probability that the sentence offers the kind of answer asked for (0.0 when it is
    not about what the question asks about)."""
    about = _about(question)
    if ((about.role and not holds(s.text, about.role, about.names)) or not same_pair(s.text, question)
            or (about.title and not titled(s.text, about.title, question))):
        return 0.0
    return answer_type.offer(question, s.text)


def _always(*_: object, **__: object) -> bool:
    return True


def _redundant(s: Sentence, chosen: Sequence[Sentence]) -> bool:
    mine = term_set(s.text)
    for other in chosen:
        theirs = term_set(other.text)
        if mine and theirs and len(mine & theirs) / len(mine | theirs) > 0.5:
            return True
        if s.doc_id == other.doc_id and s.key[1] < other.key[2] and other.key[1] < s.key[2]:
            return True
    return False
