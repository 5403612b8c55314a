"""The answer scorer's decisions (pure logic, with a deterministic judge): refusing below the cutoff in the veto
role, choosing the most probable sentence in the choose role, and gating a differing figure."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from rag.answering.decide import (
    PACKAGED_REFUSAL,
    REFUSAL_FILE,
    ROLE_CUTOFFS,
    Signals,
    answerable,
    choose,
    read_refusal,
)
from rag.errors import ConfigError
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


def _decide(probs: dict[str, float], role: str, cutoff: float = 0.5):
    passages, sentences = one_sentence_articles(TEXTS, {"a": 0.6, "b": 0.62})
    return choose(sentences, passages, question=QUESTION, max_sentences=2, threshold=0.25,
                  judge=judge_giving(probs), cutoff=cutoff, role=role)


def test_veto_keeps_the_rules_answer_when_a_candidate_clears_the_cutoff() -> None:
    draft = _decide({"11 agreements": 0.9, "energy": 0.1}, "veto")
    assert not draft.abstained and draft.citations[0].doc_id == "a"  # the rules' lead: it counts agreements


def test_veto_refuses_when_no_candidate_clears_the_cutoff() -> None:
    draft = _decide({"11 agreements": 0.3, "energy": 0.2}, "veto")
    assert draft.abstained and "don't answer" in draft.text


def test_choose_leads_with_the_most_probable_sentence_and_refuses_below_the_cutoff() -> None:
    picked = _decide({"11 agreements": 0.2, "energy": 0.8}, "choose")
    assert not picked.abstained and picked.citations[0].doc_id == "b"
    assert picked.citations[0].support == 0.8  # the citation carries the scorer's probability
    assert _decide({"11 agreements": 0.2, "energy": 0.3}, "choose").abstained


def test_nothing_is_scored_when_retrieval_finds_nothing_close() -> None:
    passages, sentences = one_sentence_articles(TEXTS, {"a": 0.1, "b": 0.1})
    judge = judge_giving({"11": 1.0})
    draft = choose(sentences, passages, question=QUESTION, max_sentences=2, threshold=0.25, judge=judge,
                   cutoff=0.5, role="choose")
    assert draft.abstained and judge.calls == []


def test_rank_leads_with_the_best_scoring_sentence_without_the_fit_rules() -> None:
    # 'b' scores highest but offers no count: the rules (veto) lead with 'a', the rank role with 'b'
    ranked = _decide({"11 agreements": 0.9, "energy": 0.6}, "rank")
    assert not ranked.abstained and ranked.citations[0].doc_id == "b"
    assert _decide({"11 agreements": 0.9, "energy": 0.6}, "veto").citations[0].doc_id == "a"


def test_rank_refuses_when_no_candidate_clears_the_cutoff() -> None:
    assert _decide({"11 agreements": 0.3, "energy": 0.2}, "rank").abstained


class _SameScore:
    """A part's retrieval scorer that keeps each sentence's score (pure logic: no vectors, no index)."""

    def score(self, s) -> float:
        return s.score


def test_a_multi_part_question_is_answered_when_one_part_clears_the_cutoff() -> None:
    passages, sentences = one_sentence_articles(TEXTS, {"a": 0.6, "b": 0.62})
    question = "How many agreements did Putin sign in Hanoi, and what did the Hanoi talks cover?"
    parts = [("How many agreements did Putin sign in Hanoi?", _SameScore()),
             ("What did the Hanoi talks cover?", _SameScore())]

    def judge(q: str, texts: Sequence[str]) -> list[float]:  # only the second part, read alone, is answered
        return [0.9 if q.startswith("What did") and "energy" in t else 0.1 for t in texts]

    for role in ("rank", "veto"):
        draft = choose(sentences, passages, question=question, parts=parts, max_sentences=2, threshold=0.25,
                       judge=judge, cutoff=0.5, role=role)
        assert not draft.abstained, role
    refused = choose(sentences, passages, question=question, parts=parts, max_sentences=2, threshold=0.25,
                     judge=lambda q, texts: [0.1] * len(texts), cutoff=0.5, role="rank")
    assert refused.abstained


def test_blend_gives_the_rules_answer_when_the_refusal_model_says_the_articles_answer() -> None:
    draft = _decide({"11 agreements": 0.9, "energy": 0.1}, "blend", cutoff=0.55)
    assert not draft.abstained and draft.citations[0].doc_id == "a"  # the rules' lead: it counts agreements


def test_blend_refuses_when_the_scorer_doubts_every_candidate() -> None:
    assert _decide({"11 agreements": 0.02, "energy": 0.02}, "blend", cutoff=0.55).abstained


def test_blend_answers_a_rules_refusal_with_the_rank_answer_only_when_the_scorer_is_sure() -> None:
    passages, sentences = one_sentence_articles(TEXTS, {"a": 0.6, "b": 0.62})
    question = "How many energy projects did the talks in Hanoi cover?"  # no sentence counts projects

    def decide(probs: dict[str, float], role: str):
        return choose(sentences, passages, question=question, max_sentences=2, threshold=0.25,
                      judge=judge_giving(probs), cutoff=0.55, role=role)

    assert decide({"energy": 0.9}, "veto").abstained  # the rules refuse: no count of projects
    sure = decide({"energy": 0.9}, "blend")
    assert not sure.abstained and sure.citations[0].doc_id == "b"
    assert decide({"energy": 0.1}, "blend").abstained


def test_the_refusal_model_trusts_the_scorer_and_retrieval_and_doubts_a_rules_refusal() -> None:
    base = Signals(best=1.0, lead=0.5, rules_refused=0.0, retrieval=0.6)
    p = answerable(base)
    assert 0.0 < p < 1.0
    assert answerable(base._replace(best=2.0)) > p and answerable(base._replace(lead=1.5)) > p
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


def test_the_blend_role_default_cutoff_is_the_packaged_refusal_models() -> None:
    assert ROLE_CUTOFFS["blend"] == PACKAGED_REFUSAL.cutoff
