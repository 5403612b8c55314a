"""The answer decision: a learned choice of the lead sentence and a learned refusal model over the scorer.

The scorer (rag/scorer.py, trained by scripts/train_scorer.py) reads a candidate sentence in its window (title, the
sentence before, and the sentence after for a reader trained with it) and gives the probability that it answers the
question. For a one-part question the lead is the candidate (the best-retrieved sentences and the fit draft's lead)
with the highest lead score, a linear model over the scorer's log-odds, the retrieval score, the fit test's degree
(synthesize.fit: the answer-type model's probability that it offers the kind of answer asked for, 0 when it is not
about whom the question asks about) and whether it comes from the best-retrieved sentence's article;
synthesize.extract adds its supporting sentences, another article's only when the scorer vouches for it too (VOUCH).
A multi-part question keeps the fit draft. The answer is given only when a small logistic refusal model over seven
signals (the scorer's best probability and its probability for the lead, whether the fit draft refused, the best
retrieval score, the lead's fit, how much of the question the lead's article covers and whether it lacks a number
the question names) says the articles answer the question.
scripts/fit_refusal.py fits both models on the tuning sets, the refusal cutoff with near misses made from them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple, TypeVar

import numpy as np

from rag.answering.evidence import Article, Scorer, Sentence, sentence_windows
from rag.answering.synthesize import _MIN_WORDS, Draft, abstain, extract, fit
from rag.errors import ConfigError
from rag.scorer import pair_text, window_parts
from rag.types import Citation, Passage

Judge = Callable[[str, Sequence[str]], Sequence[float]]  # (question, pair texts) -> probabilities
Locate = Callable[[str, str], tuple[int, int] | None]  # (question, pair text) -> the short answer in its sentence
SHORTLIST = 16  # candidates the reader reads for the question (each costs ~13 ms on one core)
PART_SHORTLIST = 8  # and for each part of a multi-part one, whose reading only tells refusal how well it is answered
VOUCH = 0.5  # the probability the reader gives another article's sentence (one it read) for it to support an answer


class Signals(NamedTuple):
    """What the refusal model reads (scripts/fit_refusal.py fits its weights)."""

    best: float  # log-odds of the scorer's highest probability: shortlisted sentences and both drafts' leads
    lead: float  # log-odds of its probability for the chosen lead sentence
    rules_refused: float  # 1.0 when no sentence passes the fit test (synthesize.fits)
    retrieval: float  # the best retrieval score of any sentence (low when the articles are off the question)
    fit: float = 0.0  # log-odds of the answer-type model's probability that the lead offers the kind asked for
    covered: float = 0.0  # idf-weighted share of the question's terms in the lead's article (its context sentences)
    number_missing: float = 0.0  # 1.0 when a number the question names (a year, a figure) is not in that article


class LeadModel(NamedTuple):
    """The lead score's weights over a candidate's features (``lead_features``)."""

    reader: float  # the scorer's log-odds that the sentence answers the question
    retrieval: float  # its retrieval score
    fits: float  # the fit test's degree (synthesize.fit)
    article: float  # 1.0 when it comes from the article of the best-retrieved sentence


class Refusal(NamedTuple):
    """A fitted refusal model: logistic weights over Signals, its bias, and the cutoff chosen with it."""

    weights: Signals
    bias: float
    cutoff: float


# The packaged scorer's refusal model, fitted by scripts/fit_refusal.py on dev.jsonl, eval/newsdev, eval/newsdev2 and
# the scorer's validation corpus (never on heldout.jsonl, the blind set or the benchmarks' test questions). Another
# RAG_SCORER model gets its own from a refusal.json beside it (the script's --scorer FOLDER --write); without one it
# borrows this.
PACKAGED_REFUSAL = Refusal(Signals(best=0.922, lead=-0.409, rules_refused=-4.988, retrieval=0.210, fit=0.257,
                                   covered=1.108, number_missing=-1.471), 0.050, 0.60)
# The lead model, fitted by scripts/fit_refusal.py on the same tuning sets: of a small grid of weights, the one whose
# choices lead the answers with the highest fact recall + citation precision.
PACKAGED_LEAD = LeadModel(reader=1.0, retrieval=0.5, fits=2.0, article=0.25)
REFUSAL_FILE = "refusal.json"


Features = tuple[float, float, float, float]
T = TypeVar("T")


def lead_features(p: float, score: float, fit: float, top_article: bool) -> Features:
    """What the lead model reads for one candidate (see LeadModel)."""
    return _logit(p), score, fit, float(top_article)


def pick_lead(candidates: Sequence[T], features: Sequence[Sequence[float]], model: LeadModel = PACKAGED_LEAD) -> T:
    """The candidate with the highest lead score (the first on a tie); scripts/fit_refusal.py scores its grid with it."""
    scores = [sum(w * x for w, x in zip(model, f, strict=True)) for f in features]
    return candidates[max(range(len(candidates)), key=lambda i: (scores[i], -i))]


def answerable(signals: Signals, model: Refusal = PACKAGED_REFUSAL) -> float:
    """The refusal model's probability that the articles answer the question."""
    z = model.bias + sum(w * x for w, x in zip(model.weights, signals, strict=True))
    return 1.0 / (1.0 + math.exp(-z))


def read_refusal(folder: Path) -> Refusal | None:
    """The refusal model fitted for the scorer in ``folder`` (its refusal.json), or None when it has none."""
    path = folder / REFUSAL_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        given = {**Signals._field_defaults, **data["weights"]}  # a signal added later (fit) may be missing
        model = Refusal(Signals(**{k: float(given[k]) for k in Signals._fields}), float(data["bias"]),
                        float(data["cutoff"]))
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise ConfigError(f"The refusal model {path} is unreadable ({type(exc).__name__}: {exc}). Rewrite it with "
                          f"`python scripts/fit_refusal.py --scorer {folder} --write`, or delete it to use the "
                          "packaged scorer's.") from None
    if not 0.0 <= model.cutoff <= 1.0:
        raise ConfigError(f"The refusal model {path} has cutoff {model.cutoff}, outside 0-1. Rewrite it with "
                          f"`python scripts/fit_refusal.py --scorer {folder} --write`.")
    return model


def _logit(p: float) -> float:
    p = min(max(p, 1e-3), 1 - 1e-3)
    return math.log(p / (1 - p))


def _key(draft: Draft) -> tuple[str, int, int]:
    first = draft.citations[0]
    return first.doc_id, first.start, first.end


def choose(sentences: Sequence[Sentence], passages: dict[str, Passage], *, question: str,
           parts: Sequence[tuple[str, Scorer]] = (), max_sentences: int, threshold: float, judge: Judge,
           cutoff: float | None = None, refusal: Refusal = PACKAGED_REFUSAL, neighbours: bool = False,
           locate: Locate | None = None, asked: Scorer | None = None, article: Article | None = None) -> Draft:
    """The answer led by the lead model's choice (a multi-part question: the fit draft, or when it refuses the
    best-scoring sentences'), given only when the refusal model (``refusal``, see ``answerable``) gives at least
    ``cutoff`` (default: the model's own).

    ``threshold``: the retrieval score below which nothing is read at all; ``neighbours``: the scorer reads the
    sentence after a candidate too (a reader trained with it says so in its manifest); ``locate``: the reader's
    answer-span head, which marks the short answer in the lead's quote; ``asked``: the whole question's scorer, whose
    term weights measure how much of the question the lead's article covers (without it, all terms weigh the same);
    ``article``: a document's text and sentence spans by its id, for neighbours outside the context."""
    usable = [s for s in sentences if len(s.text.split()) >= _MIN_WORDS]
    if not usable or max(s.score for s in usable) < threshold:
        return abstain(sentences, passages)
    cutoff = refusal.cutoff if cutoff is None else cutoff
    window = sentence_windows(sentences, passages, after=neighbours, article=article)

    def text_of(s: Sentence) -> str:
        title, before, sentence, after = window_parts(window[id(s)])
        return pair_text(title, before, sentence, after if neighbours else "")

    judged: dict[tuple[str, int], float] = {}

    def probs(text: str, candidates: Sequence[Sentence]) -> list[float]:
        """The scorer's probability for each candidate; each (question, sentence) pair is read once."""
        todo = list({id(s): s for s in candidates if (text, id(s)) not in judged}.values())
        if todo:
            for s, p in zip(todo, judge(text, [text_of(s) for s in todo]), strict=True):
                judged[(text, id(s))] = float(p)
        return [judged[(text, id(s))] for s in candidates]

    def drafted(fit_rules: bool) -> Draft:
        return extract(sentences, passages, question=question, parts=parts, max_sentences=max_sentences,
                       threshold=threshold, fit_rules=fit_rules)

    by_key = {s.key: s for s in usable}

    def lead_of(draft: Draft) -> Sentence | None:
        return by_key.get(_key(draft)) if draft.citations else None

    # the question and each part of a multi-part one on its own: a part the articles answer is worth answering
    asks = [(question, None), *(parts if len(parts) > 1 else [])]
    ruled, ranked = drafted(True), drafted(False)
    leads = [s for s in (lead_of(ruled), lead_of(ranked)) if s is not None]
    best_retrieved = sorted(usable, key=lambda s: -s.score)[:SHORTLIST]
    top = 0.0
    for text, scorer in asks:
        shortlist = sorted(usable, key=lambda s: -scorer.score(s))[:PART_SHORTLIST] if scorer else best_retrieved
        top = max(top, *probs(text, [*shortlist, *leads]))
    draft = ruled
    if len(parts) <= 1:  # one part: the lead model picks among the best-retrieved sentences and the drafts' leads
        candidates = list({id(s): s for s in [*best_retrieved, *leads]}.values())
        features = [lead_features(p, s.score, fit(s, question), s.doc_id == best_retrieved[0].doc_id)
                    for s, p in zip(candidates, probs(question, candidates), strict=True)]
        lead = pick_lead(candidates, features, PACKAGED_LEAD)
        draft = extract(sentences, passages, question=question, max_sentences=max_sentences, threshold=threshold,
                        lead=lead, vouch=lambda s: judged.get((question, id(s)), 0.0) >= VOUCH)
    chosen = lead_of(draft)
    signals = Signals(best=_logit(top), lead=_logit(probs(question, [chosen])[0] if chosen is not None else 0.0),
                      rules_refused=float(ruled.abstained), retrieval=max(s.score for s in usable),
                      fit=_logit(fit(chosen, question) if chosen is not None else 0.0),
                      **_grounding(chosen, usable, window, asked or Scorer(question, np.zeros(1), None)))
    if answerable(signals, refusal) < cutoff:
        return abstain(sentences, passages)
    given = next((d for d in (draft, ranked) if not d.abstained), abstain(sentences, passages))
    if locate is not None and not given.abstained and (lead := lead_of(given)) is not None:
        given.citations[0] = mark_span(given.citations[0], lead.text, locate(question, text_of(lead)))
    return given


def _grounding(chosen: Sentence | None, usable: Sequence[Sentence], window: dict[int, str],
               asked: Scorer) -> dict[str, float]:
    """How much of the question the lead's article answers for: the share of its terms in the lead's window and its
    article's context sentences, and whether a number the question names is missing there (a near miss: the right
    topic in another year). Nothing chosen: both 0."""
    if chosen is None:
        return {"covered": 0.0, "number_missing": 0.0}
    article = " ".join([window[id(chosen)], *(s.text for s in usable if s.doc_id == chosen.doc_id)])
    return {"covered": asked.coverage(article), "number_missing": float(asked.misses_number(article))}


def mark_span(citation: Citation, sentence: str, span: tuple[int, int] | None) -> Citation:
    """The citation with the reader's short answer marked: ``span`` is in the stripped sentence (as the reader read
    it), the mark in the quote; a span that is empty or outside the quote marks nothing."""
    if span is None or citation.quote != sentence:
        return citation
    lead = len(sentence) - len(sentence.lstrip())
    lo, hi = span[0] + lead, span[1] + lead
    if not 0 <= lo < hi <= len(sentence) or not sentence[lo:hi].strip():
        return citation
    return citation.model_copy(update={"answer_span": (lo, hi)})
