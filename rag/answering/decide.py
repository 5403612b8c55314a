"""Learned answer decisions: the answer scorer decides to refuse and, in its `choose` role, picks the sentences.

The scorer reads a candidate sentence in its window (title, the sentence before) and gives the probability that it
answers the question. In the `veto` role the hand rules (synthesize.extract) choose the answer sentences and the
scorer refuses when neither their lead nor any of the best-retrieved sentences clears one calibrated cutoff
(benchmarks/README.md, "Answer scorer", has the ablation that chose it). The `rank` role is the same with the rules'
fit tests off. `blend` (the default role) gives the rules' answer, or when they refuse the rank role's, only when a
small learned refusal model (a logistic regression over four signals: the scorer's best probability and its
probability for the rules' lead, whether the rules refused, the best retrieval score) says the articles answer the
question. In the `choose` role the retrieval score shortlists each question's (or part's) candidates, the
best-scoring one leads if it clears the cutoff, sentences of a lead's article that clear it too may join, another
article's only when it nearly ties with the lead, and a differing figure (synthesize._differing_figure) is reported
only if the scorer says it answers the question too.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

from rag.answering.evidence import Scorer, Sentence, sentence_windows
from rag.answering.focus import same_pair
from rag.answering.synthesize import (
    _MIN_WORDS,
    Draft,
    _differing_figure,
    _redundant,
    _restated,
    _Views,
    abstain,
    compose,
    extract,
)
from rag.errors import ConfigError
from rag.scorer import pair_text, window_parts
from rag.types import Passage

Judge = Callable[[str, Sequence[str]], Sequence[float]]  # (question, pair texts) -> probabilities
SHORTLIST = 12  # candidates the scorer reads per question or part (each costs ~10 ms on one core)
SUPPORT_RATIO = 0.5  # a lead article's sentence joins when its probability is this share of the lead's
OTHER_DOC_RATIO = 0.9  # another article's sentence joins only when it nearly ties with the lead


class Signals(NamedTuple):
    """What the blend role's refusal model reads (scripts/fit_refusal.py fits its weights)."""

    best: float  # log-odds of the scorer's highest probability: shortlisted sentences and both drafts' leads
    lead: float  # log-odds of its probability for the rules' lead sentence (their closest passage when refusing)
    rules_refused: float  # 1.0 when no sentence passes the rules' fit tests
    retrieval: float  # the best retrieval score of any sentence (low when the articles are off the question)


class Refusal(NamedTuple):
    """A fitted refusal model: logistic weights over Signals, its bias, and the cutoff chosen with it."""

    weights: Signals
    bias: float
    cutoff: float


# The packaged scorer's refusal model, fitted by scripts/fit_refusal.py on dev.jsonl and the scorer's validation
# corpus (never on heldout.jsonl or the benchmark's test questions). Another RAG_SCORER model gets its own from a
# refusal.json beside it (the script's --scorer FOLDER --write); without one it borrows this.
PACKAGED_REFUSAL = Refusal(Signals(best=0.411, lead=0.350, rules_refused=-1.980, retrieval=2.870), 0.007, 0.55)
REFUSAL_FILE = "refusal.json"
# Each role's calibrated cutoff, used when RAG_SCORER_CUTOFF is unset (blend: its refusal model's own)
ROLE_CUTOFFS = {"blend": PACKAGED_REFUSAL.cutoff, "veto": 0.15, "rank": 0.3, "choose": 0.3}


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
        model = Refusal(Signals(**{k: float(data["weights"][k]) for k in Signals._fields}), float(data["bias"]),
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
           cutoff: float, role: str = "veto", refusal: Refusal = PACKAGED_REFUSAL) -> Draft:
    """Answer with the sentences the scorer says answer the question, or refuse (``cutoff``: the calibrated
    probability a lead needs; ``threshold``: the retrieval score below which nothing is read at all).

    ``role="veto"``: the rules (synthesize.extract) choose the sentences, and the answer is refused unless the
    scorer gives the rules' lead or one of the best-retrieved sentences ``cutoff``. ``role="rank"``: the same with
    the rules' fit tests off (the best-scoring sentence leads). ``role="blend"``: the rules' answer, else the rank
    role's, when the refusal model (``refusal``, see ``answerable``) gives at least ``cutoff``.
    ``role="choose"``: the scorer chooses the sentences too."""
    usable = [s for s in sentences if len(s.text.split()) >= _MIN_WORDS]
    if not usable or max(s.score for s in usable) < threshold:
        return abstain(sentences, passages)
    views = _Views(window=sentence_windows(sentences, passages), passages=passages)

    def text_of(s: Sentence) -> str:
        return pair_text(*window_parts(views.window[id(s)]))

    def shortlist(scorer: Scorer | None) -> list[Sentence]:
        """The best-retrieved candidates of the question (or, given its retrieval scorer, of one part)."""
        return sorted(usable, key=lambda s: -(scorer.score(s) if scorer else s.score))[:SHORTLIST]

    judged: dict[tuple[str, int], float] = {}

    def probs(text: str, candidates: Sequence[Sentence]) -> list[float]:
        """The scorer's probability for each candidate; each (question, sentence) pair is read once."""
        todo = list({id(s): s for s in candidates if (text, id(s)) not in judged}.values())
        if todo:
            for s, p in zip(todo, judge(text, [text_of(s) for s in todo]), strict=True):
                judged[(text, id(s))] = float(p)
        return [judged[(text, id(s))] for s in candidates]

    if role in ("veto", "rank", "blend"):
        by_key = {s.key: s for s in usable}

        asks = [(question, None), *(parts if len(parts) > 1 else [])]  # the question, and each part on its own

        def lead_of(draft: Draft) -> Sentence | None:
            return by_key.get(_key(draft)) if draft.citations else None

        def best(draft: Draft) -> float:
            """The highest probability among the draft's lead and the best-retrieved sentences of the question
            and of each part of a multi-part one (a part the articles answer is worth answering)."""
            lead = lead_of(draft)
            top = 0.0
            for text, scorer in asks:
                top = max(top, *probs(text, [*shortlist(scorer), *([lead] if lead is not None else [])]))
                if top >= cutoff:
                    break
            return top

        def drafted(fit_rules: bool) -> Draft:
            return extract(sentences, passages, question=question, parts=parts, max_sentences=max_sentences,
                           threshold=threshold, fit_rules=fit_rules)

        if role != "blend":
            ruled = drafted(role != "rank")
            return ruled if not ruled.abstained and best(ruled) >= cutoff else abstain(sentences, passages)
        # blend: the rules' answer, or when they refuse the rank role's, given only when the refusal model
        # (answerable()) says the articles answer the question
        ruled, ranked = drafted(True), drafted(False)
        lead = lead_of(ruled)
        leads = [s for s in (lead, lead_of(ranked)) if s is not None]
        top = max(max(probs(text, [*shortlist(scorer), *leads])) for text, scorer in asks)
        signals = Signals(best=_logit(top), lead=_logit(probs(question, [lead])[0] if lead is not None else 0.0),
                          rules_refused=float(ruled.abstained), retrieval=max(s.score for s in usable))
        if answerable(signals, refusal) < cutoff:
            return abstain(sentences, passages)
        return next((d for d in (ruled, ranked) if not d.abstained), abstain(sentences, passages))

    prob: dict[int, float] = {}
    chosen: list[Sentence] = []
    for text, scorer in parts if len(parts) > 1 else [(question, None)]:
        ranked = shortlist(scorer)
        mine = {id(s): p for s, p in zip(ranked, probs(text, ranked), strict=True)}
        for k, p in mine.items():
            prob[k] = max(prob.get(k, 0.0), p)
        lead = max(ranked, key=lambda s: (mine[id(s)], s.score))
        if mine[id(lead)] >= cutoff and not _redundant(lead, chosen):
            chosen.append(lead)
    if not chosen:
        return abstain(sentences, passages)
    top = chosen[0]
    best = prob[id(top)]
    rivals = [s for s in usable if same_pair(s.text, question)]
    conflict = _differing_figure(top, rivals, question, views) if len(parts) <= 1 else None
    if conflict is not None and probs(question, [conflict])[0] < cutoff:
        conflict = None  # a different figure of something the question does not ask about
    lead_docs = {s.doc_id for s in chosen}
    for s in sorted((s for s in usable if id(s) in prob), key=lambda s: -prob[id(s)]):
        if len(chosen) + (conflict is not None) >= max_sentences:
            break
        p = prob[id(s)]
        if any(s is c for c in chosen) or s is conflict or p < cutoff or _redundant(s, chosen):
            continue
        if (s.doc_id in lead_docs and p >= SUPPORT_RATIO * best) or p >= OTHER_DOC_RATIO * best:
            chosen.append(s)
    chosen = [s for s in chosen if not _restated(s, chosen, question)]
    for s in chosen:
        s.score = prob.get(id(s), s.score)  # the citation's support is the scorer's probability
    return compose(chosen, conflict, passages)
