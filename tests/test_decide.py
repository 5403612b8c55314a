"""The answer decision (pure logic, with a deterministic judge): the rules' draft, given only when the refusal model
over the scorer's signals says the articles answer; the best-scoring sentence when the rules refuse; a folder's
own model."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from rag.answering.decide import (
    PACKAGED_LEAD,
    REFUSAL_FILE,
    LeadModel,
    Refusal,
    Signals,
    answerable,
    choose,
    lead_features,
    pick_lead,
    read_refusal,
)
from rag.answering.evidence import Sentence
from rag.errors import ConfigError
from rag.types import Chunk, DocMeta, Passage
from tests.test_answer_logic import one_sentence_articles

TEXTS = {
    "a": "Putin and To Lam signed 11 agreements in Hanoi on Thursday, officials said.",
    "b": "The talks in Hanoi also covered energy projects and education exchanges this week.",
}
QUESTION = "How many agreements did Putin and To Lam sign in Hanoi?"


def judge_giving(probs: dict[str, float]):
    """A judge that gives each candidate the probability of the first key its text contains."""
    calls: list[tuple[str, int]] = []

    def judge(question: str, texts: Sequence[str]) -> list[float]:
        calls.append((question, len(texts)))
        return [next((p for k, p in probs.items() if k in t), 0.0) for t in texts]

    judge.calls = calls  # type: ignore[attr-defined]
    return judge


def _decide(probs: dict[str, float], cutoff: float = 0.55):
    passages, sentences = one_sentence_articles(TEXTS, {"a": 0.6, "b": 0.62})
    return choose(sentences, passages, question=QUESTION, max_sentences=2, threshold=0.25,
                  judge=judge_giving(probs), cutoff=cutoff)


def test_nothing_is_scored_when_retrieval_finds_nothing_close() -> None:
    passages, sentences = one_sentence_articles(TEXTS, {"a": 0.1, "b": 0.1})
    judge = judge_giving({"11": 1.0})
    draft = choose(sentences, passages, question=QUESTION, max_sentences=2, threshold=0.25, judge=judge)
    assert draft.abstained and judge.calls == []


def test_a_reader_trained_with_neighbours_reads_the_sentence_after_the_candidate() -> None:
    first, after = "Putin and To Lam signed 11 agreements in Hanoi on Thursday, officials said.", \
        " The deals cover energy and education exchanges, the ministry added."
    text = first + after
    chunk = Chunk(chunk_id="a:0", doc_id="a", position=0, start=0, end=len(text), text=text)
    passages = {chunk.chunk_id: Passage(chunk=chunk, meta=DocMeta(title="a"))}
    sentences = [Sentence(key=("a", a, b), text=text[a:b], chunk_id="a:0", score=0.6, context_score=0.6,
                          own_score=0.6) for a, b in ((0, len(first)), (len(first) + 1, len(text)))]
    for neighbours in (False, True):
        seen: list[str] = []

        def judge(q: str, pair_texts: Sequence[str], seen: list[str] = seen) -> list[float]:
            seen.extend(pair_texts)
            return [0.9] * len(pair_texts)

        choose(sentences, passages, question=QUESTION, max_sentences=2, threshold=0.25, judge=judge,
               neighbours=neighbours)
        read = next(x for x in seen if x.startswith("Putin and To Lam"))
        assert ("the ministry added" in read) is neighbours, read


def test_a_candidate_whose_neighbours_were_not_retrieved_is_read_with_them_from_its_article() -> None:
    from rag.text import split_sentences

    article = ("Officials met in Hanoi on Thursday. Putin and To Lam signed 11 agreements there, officials said. "
               "The deals cover energy and education exchanges.")
    spans = split_sentences(article)
    a, b = spans[1]  # only the middle sentence was retrieved (its chunk ends there)
    chunk = Chunk(chunk_id="a:1", doc_id="a", position=1, start=a, end=b, text=article[a:b])
    passages = {chunk.chunk_id: Passage(chunk=chunk, meta=DocMeta(title="Hanoi summit"))}
    sentence = Sentence(key=("a", a, b), text=article[a:b], chunk_id="a:1", score=0.6, context_score=0.6,
                        own_score=0.6)
    asked: list[str] = []
    for lookup in (None, {"a": (article, spans)}.get, {}.get):  # no lookup; the article; a document not found
        seen: list[str] = []

        def judge(q: str, texts: Sequence[str], seen: list[str] = seen) -> list[float]:
            seen.extend(texts)
            return [0.9] * len(texts)

        choose([sentence], passages, question=QUESTION, max_sentences=2, threshold=0.25, judge=judge,
               neighbours=True, article=lookup)
        asked.append(seen[0])
    assert asked[0] == asked[2] == f"{article[a:b]} | Hanoi summit"
    assert asked[1] == (f"{article[a:b]} | Hanoi summit | Officials met in Hanoi on Thursday. | "
                        "The deals cover energy and education exchanges.")


class _SameScore:
    """A part's retrieval scorer that keeps each sentence's score (pure logic: no vectors, no index)."""

    def score(self, s) -> float:
        return s.score


def test_a_multi_part_question_is_answered_when_the_scorer_is_sure_of_one_part() -> None:
    passages, sentences = one_sentence_articles(TEXTS, {"a": 0.6, "b": 0.62})
    question = "How many agreements did Putin sign in Hanoi, and what did the Hanoi talks cover?"
    parts = [("How many agreements did Putin sign in Hanoi?", _SameScore()),
             ("What did the Hanoi talks cover?", _SameScore())]

    def judge(q: str, texts: Sequence[str]) -> list[float]:  # only the second part, read alone, is answered
        return [0.9 if q.startswith("What did") and "energy" in t else 0.1 for t in texts]

    draft = choose(sentences, passages, question=question, parts=parts, max_sentences=2, threshold=0.25,
                   judge=judge)
    assert not draft.abstained
    refused = choose(sentences, passages, question=question, parts=parts, max_sentences=2, threshold=0.25,
                     judge=lambda q, texts: [0.02] * len(texts))
    assert refused.abstained


def test_the_reader_reads_the_16_best_retrieved_sentences_and_8_for_each_part() -> None:
    from rag.answering.decide import PART_SHORTLIST, SHORTLIST

    assert (SHORTLIST, PART_SHORTLIST) == (16, 8)
    texts = {f"d{i:02d}": f"Council report {i} says the ward plan {i} was approved on Monday." for i in range(20)}
    passages, sentences = one_sentence_articles(texts, {d: 0.9 - 0.01 * i for i, d in enumerate(texts)})
    ranked = [texts[d] for d in texts]  # best-retrieved first

    def read(question: str, parts: list) -> dict[str, set[str]]:
        seen: dict[str, set[str]] = {}

        def judge(q: str, pairs: Sequence[str]) -> list[float]:
            seen.setdefault(q, set()).update(t for t in ranked if any(t in pair for pair in pairs))
            return [0.9] * len(pairs)

        choose(sentences, passages, question=question, parts=parts, max_sentences=2, threshold=0.25, judge=judge)
        return seen

    one = "When was the ward plan approved?"
    alone = read(one, [])[one]
    assert alone >= set(ranked[:16]) and not alone & set(ranked[17:])  # 16 (and the drafts' leads)
    two = "When was the ward plan approved, and what does the council report say?"
    parts = [("When was the ward plan approved?", _SameScore()), ("What does the council report say?", _SameScore())]
    seen = read(two, parts)
    assert seen[two] >= set(ranked[:16])  # the whole question still reads 16
    for part, _ in parts:  # each part its 8 best (and the drafts' leads), never the rest of the 16
        assert seen[part] >= set(ranked[:8]) and not seen[part] & set(ranked[9:16])


def test_the_rules_answer_is_given_when_the_refusal_model_says_the_articles_answer() -> None:
    draft = _decide({"11 agreements": 0.9, "energy": 0.1})
    assert not draft.abstained and draft.citations[0].doc_id == "a"  # the rules' lead: it counts agreements


def test_the_lead_model_prefers_the_sentence_the_scorer_is_sure_answers_over_a_better_retrieved_one() -> None:
    # 'b' is retrieved a little better; the scorer is sure of 'a', which also passes the rules' fit test
    draft = _decide({"11 agreements": 0.95, "energy": 0.3})
    assert not draft.abstained and draft.citations[0].doc_id == "a"
    # retrieval prefers 'a' now; the scorer's certainty about 'b' outweighs the small retrieval gap
    passages, sentences = one_sentence_articles(TEXTS, {"a": 0.64, "b": 0.6})
    question = "What did the talks in Hanoi cover?"
    draft = choose(sentences, passages, question=question, max_sentences=1, threshold=0.25,
                   judge=judge_giving({"11 agreements": 0.05, "energy": 0.95}))
    assert [c.doc_id for c in draft.citations] == ["b"]


def test_pick_lead_takes_the_highest_weighted_sum_and_the_first_on_a_tie() -> None:
    a, b, c = (Sentence(key=(d, 0, 10), text=d * 10, chunk_id=f"{d}:0", score=0.5, context_score=0.5, own_score=0.5)
               for d in "abc")
    features = [lead_features(0.5, 0.6, False, True), lead_features(0.9, 0.5, False, False),
                lead_features(0.5, 0.6, True, False)]
    assert pick_lead([a, b, c], features, LeadModel(0.0, 1.0, 0.0, 0.0)) is a  # a tie with c: the first
    assert pick_lead([a, b, c], features, LeadModel(1.0, 0.0, 0.0, 0.0)) is b
    assert pick_lead([a, b, c], features, LeadModel(0.0, 1.0, 1.0, 0.0)) is c
    assert pick_lead([a, b, c], features, LeadModel(0.25, 0.0, 0.5, 1.0)) is a  # the best-retrieved article
    assert lead_features(0.5, 0.6, True, False) == (0.0, 0.6, 1.0, 0.0)
    assert all(w >= 0 for w in PACKAGED_LEAD) and PACKAGED_LEAD.reader > 0  # the shipped model reads the scorer


def test_the_answer_is_refused_when_the_scorer_doubts_every_candidate() -> None:
    assert _decide({"11 agreements": 0.02, "energy": 0.02}).abstained
    assert not _decide({"11 agreements": 0.02, "energy": 0.02}, cutoff=0.0).abstained  # RAG_REFUSAL_CUTOFF=0


def test_a_rules_refusal_is_answered_with_the_best_scoring_sentence_only_when_the_scorer_is_sure() -> None:
    passages, sentences = one_sentence_articles(TEXTS, {"a": 0.6, "b": 0.62})
    question = "How many energy projects did the talks in Hanoi cover?"  # no sentence counts projects

    def decide(probs: dict[str, float]):
        return choose(sentences, passages, question=question, max_sentences=2, threshold=0.25,
                      judge=judge_giving(probs))

    # the rules refuse (no sentence counts projects); the scorer, sure of 'b', has it answer
    sure = decide({"energy": 0.9})
    assert not sure.abstained and sure.citations[0].doc_id == "b"
    assert decide({"energy": 0.1}).abstained


def test_the_refusal_model_trusts_the_scorer_and_retrieval_and_doubts_a_rules_refusal() -> None:
    base = Signals(best=1.0, lead=0.5, rules_refused=0.0, retrieval=0.6)
    p = answerable(base)
    assert 0.0 < p < 1.0
    assert answerable(base._replace(best=2.0)) > p and answerable(base._replace(best=2.0, lead=1.5)) > p
    assert answerable(base._replace(retrieval=0.8)) > p
    assert answerable(base._replace(rules_refused=1.0)) < p


def test_a_scorer_folder_may_carry_its_own_refusal_model(tmp_path: Path) -> None:
    assert read_refusal(tmp_path) is None  # none there: the engine uses the packaged scorer's
    (tmp_path / REFUSAL_FILE).write_text(json.dumps({
        "weights": {"best": 1.0, "lead": 0.0, "rules_refused": -1.0, "retrieval": 2.0}, "bias": -0.5, "cutoff": 0.4}))
    model = read_refusal(tmp_path)
    assert model is not None and model.cutoff == 0.4 and model.weights.retrieval == 2.0
    signals = Signals(best=0.0, lead=0.0, rules_refused=0.0, retrieval=0.25)
    assert answerable(signals, model) == 0.5 != answerable(signals)


def test_a_broken_refusal_file_is_an_error_naming_it_and_the_fix(tmp_path: Path) -> None:
    path = tmp_path / REFUSAL_FILE
    for text in ("{not json", json.dumps({"weights": {"best": 1.0}, "bias": 0, "cutoff": 0.5}),
                 json.dumps({"weights": dict.fromkeys(Signals._fields, 1.0), "bias": 0, "cutoff": 5})):
        path.write_text(text)
        with pytest.raises(ConfigError) as err:
            read_refusal(tmp_path)
        assert str(path) in str(err.value) and "fit_refusal.py --scorer" in str(err.value)


def test_the_readers_short_answer_is_marked_in_the_lead_quote_and_nothing_when_it_points_outside() -> None:
    passages, sentences = one_sentence_articles(TEXTS, {"a": 0.6, "b": 0.62})
    seen: list[tuple[str, str]] = []

    def locate(question: str, text: str) -> tuple[int, int] | None:
        seen.append((question, text))
        return text.index("11"), text.index("11") + len("11 agreements")

    draft = choose(sentences, passages, question=QUESTION, max_sentences=2, threshold=0.25, cutoff=0.55,
                   judge=judge_giving({"11 agreements": 0.9, "energy": 0.1}), locate=locate)
    lead = draft.citations[0]
    assert not draft.abstained and lead.answer_span is not None
    assert lead.quote[slice(*lead.answer_span)] == "11 agreements" and seen[0][0] == QUESTION
    assert all(c.answer_span is None for c in draft.citations[1:])  # only the lead's short answer
    refused = choose(sentences, passages, question=QUESTION, max_sentences=2, threshold=0.25, cutoff=0.55,
                     judge=judge_giving({}), locate=locate)
    assert refused.abstained and all(c.answer_span is None for c in refused.citations)
    outside = choose(sentences, passages, question=QUESTION, max_sentences=2, threshold=0.25, cutoff=0.55,
                     judge=judge_giving({"11 agreements": 0.9}), locate=lambda q, t: (5, 500))
    assert outside.citations[0].answer_span is None


def test_a_number_the_question_names_that_the_leads_article_lacks_is_a_signal_of_a_near_miss() -> None:
    passages, sentences = one_sentence_articles(TEXTS, {"a": 0.6, "b": 0.62})
    # a refusal model that reads only number_missing: answer unless a number asked for is missing
    only_numbers = Refusal(Signals(0.0, 0.0, 0.0, 0.0, 0.0, covered=0.0, number_missing=-10.0), 5.0, 0.5)

    def decide(question: str):
        return choose(sentences, passages, question=question, max_sentences=2, threshold=0.25,
                      judge=judge_giving({"11 agreements": 0.9}), refusal=only_numbers)

    assert not decide(QUESTION).abstained
    assert decide(QUESTION.replace("?", " in 2019?")).abstained  # the right topic, a year the article never names
    assert not decide(QUESTION.replace("?", " with its 11 pages?")).abstained  # a number it does name


def test_the_share_of_the_question_the_leads_article_covers_is_a_signal() -> None:
    passages, sentences = one_sentence_articles(TEXTS, {"a": 0.6, "b": 0.62})
    # a refusal model that reads only the coverage: answer when over half the question's terms are there
    only_coverage = Refusal(Signals(0.0, 0.0, 0.0, 0.0, 0.0, covered=20.0, number_missing=0.0), -10.0, 0.5)

    def decide(question: str):
        return choose(sentences, passages, question=question, max_sentences=2, threshold=0.25,
                      judge=judge_giving({"11 agreements": 0.9}), refusal=only_coverage)

    assert not decide(QUESTION).abstained
    assert decide("How many submarines, frigates and bombers did Putin and To Lam order?").abstained


def test_the_packaged_refusal_model_doubts_a_missing_number_and_trusts_coverage() -> None:
    base = Signals(best=1.0, lead=0.5, rules_refused=0.0, retrieval=0.6, fit=0.0, covered=0.6, number_missing=0.0)
    p = answerable(base)
    assert answerable(base._replace(number_missing=1.0)) < p < answerable(base._replace(covered=0.9))


def test_a_question_scorer_tells_a_missing_number_from_a_present_one() -> None:
    from rag.answering.evidence import Scorer

    asked = Scorer("What was the 2023 budget of Callowmere council?", np.zeros(1), None)
    assert asked.misses_number("The council's 2025 budget is £4 million.")
    assert not asked.misses_number("In 2023 the council's budget was £3 million.")
    assert not Scorer("What was the budget?", np.zeros(1), None).misses_number("No figures here.")
    assert asked.coverage("the 2023 budget") == 0.5  # two of its four terms, weighed alike without an index
