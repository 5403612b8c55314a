"""The citation-support benchmark's labelled claims and figures (benchmarks/support.py)."""

from __future__ import annotations

import random

import pytest

from benchmarks.support import at_threshold, auc, claims_for, swap
from rag.answering.cite import overstates

QUESTION = {"id": "q1", "question": "What was the value of Russia-China trade last year?",
            "must_include": [["240.1 billion"]], "reference": "Russia-China trade was worth US$240.1 billion last year."}
PASSAGES = [("c1", "Trade between the two countries rose 26% to US$240.1 billion last year, customs data show."),
            ("c2", "Putin arrived in Hanoi on Wednesday for talks with Vietnam's leaders.")]


def _words(text: str) -> int:
    return len(text.split())


def test_each_question_gives_a_supported_claim_a_wrong_source_and_a_swapped_fact_per_form() -> None:
    claims = claims_for(QUESTION, PASSAGES, ["Hanoi", "26%"], random.Random(0), _words)
    kinds = {(c.form, c.kind): c for c in claims}
    assert set(kinds) == {(f, k) for f in ("reference", "restated") for k in ("supported", "wrong source", "swapped")}
    assert kinds["reference", "supported"].chunk_id == "c1" and kinds["reference", "supported"].supported
    assert kinds["reference", "wrong source"].chunk_id == "c2" and not kinds["reference", "wrong source"].supported
    swapped = kinds["restated", "swapped"]
    assert swapped.chunk_id == "c1" and "240.1" not in swapped.text and "26" in swapped.text
    assert kinds["restated", "supported"].text.startswith("What was the value of Russia-China trade last year: ")


def test_a_question_whose_answer_retrieval_missed_gives_no_claims() -> None:
    assert claims_for(QUESTION, PASSAGES[1:], [], random.Random(0), _words) == []


def test_a_short_reference_is_only_restated_with_its_question() -> None:
    q = {**QUESTION, "reference": "US$240.1 billion."}
    assert {c.form for c in claims_for(q, PASSAGES, [], random.Random(0), _words)} == {"restated"}


def test_a_name_is_swapped_for_another_capitalised_answer_never_one_the_question_states() -> None:
    rng = random.Random(0)
    assert swap("Michael Carpenter", "", "Who said so in Hanoi?", ["Hanoi", "Atlantic Council", "1999"], rng) \
        == "Atlantic Council"
    assert swap("Michael Carpenter", "", "Who?", ["Michael Carpenter"], rng) is None


def test_auc_and_threshold_figures() -> None:
    labels, scores = [True, True, False, False], [0.9, 0.5, 0.5, 0.1]
    assert auc(labels, scores) == pytest.approx(0.875)
    got = at_threshold(labels, scores, 0.5)
    assert got == {"kept_supported": 1.0, "kept_unsupported": 0.5, "balanced_accuracy": 0.75}


def test_a_claim_stating_a_figure_or_name_its_passage_lacks_overstates_it() -> None:
    passage = "Trade rose 26% to US$240.1 billion last year, Chinese customs data show."
    assert not overstates("Trade reached 240.1 billion dollars last year.", passage)
    assert overstates("Trade reached 250 billion dollars last year.", passage)
    assert overstates("Trade rose, Vladimir Putin said.", passage)


@pytest.mark.slow
def test_support_benchmark_runs_on_the_dev_set_and_reports_both_measures() -> None:
    from tests.test_benchmarks_smoke import _run

    out = _run("benchmarks.support", "--sets", "dev", "--limit", "6")
    lines = [line.split() for line in out.splitlines() if line.startswith("dev ")]
    assert [row[1] for row in lines] == ["support", "scorer"]
    for row in lines:
        assert 0.0 <= float(row[-6]) <= 1.0  # AUC
