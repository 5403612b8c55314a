"""Unit tests for eval.metrics: normalisation, retrieval, answer, citation, abstention and aggregation metrics."""

from __future__ import annotations

import math

import pytest

from eval.metrics import (
    Outcome,
    abstention_scores,
    aggregate,
    citation_precision,
    citation_recall,
    contains_fact,
    context_recall,
    crag_score,
    fact_recall,
    hit_at_k,
    is_correct,
    mrr,
    normalize,
    percentiles,
    quote_validity,
    sentence_coverage,
    split_sentences,
    token_f1,
)
from rag.types import Citation

# --- normalize / contains_fact ------------------------------------------------------------------------------------


def test_normalize_quotes_dashes_case_and_space() -> None:
    assert normalize("  \u201cHello\u201d\u00a0 \u2018World\u2019\n") == "\"hello\" 'world'"
    assert normalize("60\u201370%") == normalize("60-70%") == "60-70%"
    for dash in "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63\uff0d":
        assert normalize(f"a{dash}b") == "a-b"
    assert normalize("STRASSE") == normalize("Stra\u00dfe")  # casefold
    assert normalize("\uff21\uff12") == "a2"  # NFKC full-width
    assert normalize("") == ""
    assert normalize("\u00abmain enemy\u00bb") == '"main enemy"'


def test_contains_fact_unicode_and_word_edges() -> None:
    text = "Russian equipment constitutes approximately 60 to 70% of the arsenal; 80%\u201390% with China."
    assert contains_fact(text, ["60 to 70%"])
    assert contains_fact(text, ["80%-90%"])
    assert contains_fact("Kim\u2019s nuclear ambitions", ["Kim's nuclear ambitions"])
    assert contains_fact("ARTICLE 4 of that agreement", ["Article IV", "article 4"])
    assert not contains_fact("signed in 2011", ["11"])
    assert contains_fact("signed 11 documents", "11")
    assert not contains_fact("Articles 40", ["Article 4"])
    assert contains_fact("more than 90% of payments", ["90%"])
    assert not contains_fact("anything", [])
    assert not contains_fact("anything", ["", "  "])
    assert not contains_fact("", ["x"])
    assert contains_fact("Shahed-136 drones", ["shahed\u2013136"])
    assert contains_fact("(Article 4)", ["Article 4"])


# --- retrieval ----------------------------------------------------------------------------------------------------


def test_hit_at_k() -> None:
    ranked = ["a", "a", "b", "c"]
    assert hit_at_k(ranked, ["b"], 1) == 0.0
    assert hit_at_k(ranked, ["b"], 2) == 1.0  # duplicates of "a" count once
    assert hit_at_k(ranked, {"z", "c"}, 3) == 1.0
    assert hit_at_k([], ["a"], 5) == 0.0
    assert hit_at_k(ranked, [], 5) is None
    with pytest.raises(ValueError):
        hit_at_k(ranked, ["a"], 0)


def test_mrr() -> None:
    assert mrr(["x", "x", "y", "g"], ["g"]) == pytest.approx(1 / 3)
    assert mrr(["g"], ["g", "h"]) == 1.0
    assert mrr(["x"], ["g"]) == 0.0
    assert mrr([], ["g"]) == 0.0
    assert mrr(["g"], []) is None


def test_context_recall() -> None:
    groups = [["240.1 billion"], ["26%"]]
    assert context_recall("trade was US$240.1 billion", groups) == 0.5
    assert context_recall("US$240.1 billion, up 26%", groups) == 1.0
    assert context_recall("", groups) == 0.0
    assert context_recall("anything", []) is None


# --- answer -------------------------------------------------------------------------------------------------------


def test_fact_recall() -> None:
    groups = [["60 to 70%", "60-70%"], ["nearly 80%"]]
    assert fact_recall("About 60\u201370% [1] and nearly 80% [2].", groups) == 1.0
    assert fact_recall("About 60-70% [1].", groups) == 0.5
    assert fact_recall("About 60-70% and nearly 80%.", groups, abstained=True) == 0.0
    assert fact_recall("I don't know.", [], abstained=True) is None
    assert fact_recall("", groups) == 0.0


def test_token_f1() -> None:
    assert token_f1("The Article 4.", "article 4") == 1.0
    assert token_f1("Article 4 [1].", "Article 4") == 1.0  # markers are dropped
    assert token_f1("", "") == 1.0
    assert token_f1("a the an", "") == 1.0  # only articles: both empty
    assert token_f1("", "Article 4") == 0.0
    assert token_f1("Article 4", "") == 0.0
    assert token_f1("foo", "bar") == 0.0
    # pred: [us, 240, 1, billion]? punctuation removed -> "us2401" "billion" vs "2401" "billion"
    assert token_f1("US$240.1 billion", "240.1 billion") == pytest.approx(0.5)
    assert token_f1("red red blue", "red green") == pytest.approx(2 * (1 / 3) * (1 / 2) / (1 / 3 + 1 / 2))
    assert token_f1("\u201cbamboo diplomacy\u201d", '"Bamboo Diplomacy"') == 1.0
    assert token_f1("60\u201370%", "60-70%") == 1.0


# --- citations ----------------------------------------------------------------------------------------------------


def test_citation_precision_and_recall() -> None:
    assert citation_precision(["a", "a", "b"], ["a"]) == 0.5
    assert citation_precision([], ["a"]) is None
    assert citation_precision(["a"], []) is None
    assert citation_recall(["a", "a"], ["a", "b"]) == 0.5
    assert citation_recall([], ["a"]) == 0.0
    assert citation_recall(["a"], []) is None
    assert citation_recall(["a", "b", "c"], {"a", "b"}) == 1.0


def _citation(n: int, doc_id: str, quote: str) -> Citation:
    return Citation(n=n, doc_id=doc_id, quote=quote, start=0, end=len(quote))


def test_quote_validity_objects_and_dicts() -> None:
    docs = {"d1": "Article 4 of that agreement committed both sides.", "d2": "It is \u201cbamboo diplomacy\u201d."}
    cites = [
        _citation(1, "d1", "Article 4 of that agreement"),
        _citation(2, "d1", "article 4 of that agreement"),  # case differs: not verbatim
        {"doc_id": "d2", "quote": "\u201cbamboo diplomacy\u201d"},
        {"doc_id": "d2", "quote": '"bamboo diplomacy"'},  # straight quotes: not verbatim
        {"doc_id": "missing", "quote": "Article 4"},
        {"doc_id": "d1", "quote": ""},
    ]
    assert quote_validity(cites, docs) == pytest.approx(2 / 6)
    assert quote_validity([], docs) is None
    assert quote_validity([_citation(1, "d2", "Article 4")], docs) == 0.0  # quote is in another document


def test_split_sentences_and_coverage() -> None:
    text = "Putin met Kim [1]. They signed a pact.[2] The U.S. objected. [3] Nothing else"
    assert split_sentences(text) == [
        "Putin met Kim [1].",
        "They signed a pact.[2]",
        "The U.S. objected. [3]",
        "Nothing else",
    ]
    assert sentence_coverage(text) == 0.75
    assert sentence_coverage("One [1]. Two [2][3]! Three [4, 5]?") == 1.0
    assert sentence_coverage("No markers here. None at all.") == 0.0
    assert sentence_coverage("") is None
    assert sentence_coverage("   \n ") is None
    assert sentence_coverage("First line [1]\nSecond line") == 0.5
    assert sentence_coverage("It rose to $3.6 billion [1]. Then fell.") == 0.5


def test_a_photo_credit_in_parentheses_is_part_of_the_caption_sentence() -> None:
    caption = "Putin and Kim speak at a press conference in Pyongyang on June 19, 2024. (EPA/Yonhap) [1]"
    assert split_sentences(caption) == [caption]
    assert sentence_coverage(caption) == 1.0
    assert sentence_coverage("Putin arrived. (He was late.) No marker.") == 0.0
    two = caption + " One might ask whether the partner stays steadfast. [2]"
    assert split_sentences(two) == [caption, "One might ask whether the partner stays steadfast. [2]"]


# --- abstention ---------------------------------------------------------------------------------------------------


def test_crag_score_rules() -> None:
    assert crag_score(answerable=True, abstained=False, correct=True) == 1
    assert crag_score(answerable=True, abstained=False, correct=False) == -1
    assert crag_score(answerable=True, abstained=True, correct=False) == 0
    assert crag_score(answerable=False, abstained=True, correct=False) == 1
    assert crag_score(answerable=False, abstained=False, correct=True) == -1
    assert is_correct(1.0) and not is_correct(0.5) and not is_correct(None)


def test_abstention_scores() -> None:
    rows = [
        Outcome(True, False, True),  # answered answerable, right: +1
        Outcome(True, False, False),  # answered answerable, wrong: -1
        Outcome(True, True, False),  # refused answerable: 0
        (False, True, False),  # correct refusal: +1
        {"answerable": False, "abstained": False, "correct": False},  # hallucinated: -1
        {"answerable": False, "abstained": True},  # correct refusal: +1
    ]
    s = abstention_scores(rows)
    assert s["refusal_precision"] == pytest.approx(2 / 3)
    assert s["refusal_recall"] == pytest.approx(2 / 3)
    assert s["refusal_f1"] == pytest.approx(2 / 3)
    assert s["answer_precision"] == pytest.approx(2 / 3)
    assert s["answer_recall"] == pytest.approx(2 / 3)
    assert s["answer_f1"] == pytest.approx(2 / 3)
    assert s["grounded_refusal_f1"] == pytest.approx(2 / 3)
    assert s["crag_score"] == pytest.approx(1 / 6)


def test_abstention_scores_edge_cases() -> None:
    empty = abstention_scores([])
    assert all(v is None for v in empty.values())
    never_refuses = abstention_scores([(True, False, True), (False, False, False)])
    assert never_refuses["refusal_precision"] == 0.0 and never_refuses["refusal_f1"] == 0.0
    assert never_refuses["answer_precision"] == 0.5 and never_refuses["answer_recall"] == 1.0
    assert never_refuses["grounded_refusal_f1"] == pytest.approx((0.0 + 2 / 3) / 2)
    only_answerable = abstention_scores([(True, False, True), (True, True, False)])
    assert only_answerable["refusal_recall"] is None and only_answerable["refusal_f1"] is None
    assert only_answerable["refusal_precision"] == 0.0
    assert only_answerable["grounded_refusal_f1"] is None
    assert only_answerable["crag_score"] == 0.5
    always_refuses = abstention_scores([(True, True, False), (False, True, False)])
    assert always_refuses["answer_precision"] == 0.0 and always_refuses["answer_f1"] == 0.0
    assert always_refuses["refusal_f1"] == pytest.approx(2 / 3)


# --- aggregation --------------------------------------------------------------------------------------------------


def test_percentiles() -> None:
    assert percentiles([1, 2, 3, 4], (50, 95)) == {"p50": 2.5, "p95": pytest.approx(3.85)}
    assert percentiles([5.0]) == {"p50": 5.0, "p95": 5.0}
    assert percentiles([]) == {"p50": None, "p95": None}
    assert percentiles([None, float("nan"), 10, 0], (0, 100, 99.5)) == {"p0": 0.0, "p100": 10.0, "p99.5": 9.95}
    with pytest.raises(ValueError):
        percentiles([1], (101,))


def test_aggregate_by_type_skips_none() -> None:
    rows = [
        {"id": "q1", "type": "factoid", "hit@5": 1.0, "citation_precision": 1.0, "abstained": False, "ms": 100},
        {"id": "q2", "type": "factoid", "hit@5": 0.0, "citation_precision": None, "abstained": True, "ms": 300},
        {"id": "q3", "type": "unanswerable", "hit@5": None, "citation_precision": None, "abstained": True, "ms": 50},
        {"id": "q4", "hit@5": 1.0, "ms": float("nan")},
    ]
    out = aggregate(rows)
    assert list(out) == ["overall", "factoid", "unanswerable"]
    assert out["overall"]["n"] == 4
    assert out["overall"]["hit@5"] == pytest.approx(2 / 3)
    assert out["overall"]["citation_precision"] == 1.0
    assert out["overall"]["ms"] == pytest.approx(150.0)
    assert out["factoid"] == {"n": 2, "hit@5": 0.5, "citation_precision": 1.0, "abstained": 0.5, "ms": 200.0}
    assert "hit@5" not in out["unanswerable"] and "citation_precision" not in out["unanswerable"]
    assert "id" not in out["overall"] and "type" not in out["overall"]
    assert aggregate([]) == {}
    assert math.isclose(aggregate(rows, by="id")["q4"]["hit@5"], 1.0)
