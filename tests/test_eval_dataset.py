"""Tests for the question loader and for the seed question set's consistency with the seed articles."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from eval.dataset import QUESTION_TYPES, Question, load_questions
from eval.metrics import contains_fact

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
QUESTIONS = ROOT / "eval" / "questions" / "seeds.jsonl"


@pytest.fixture(scope="module")
def docs() -> dict[str, str]:
    return {p.stem: p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))}


@pytest.fixture(scope="module")
def questions() -> list[Question]:
    loaded, errors = load_questions(QUESTIONS)
    assert errors == []
    return loaded


# --- the seed question set --------------------------------------------------------------------------------------


def test_seed_set_size_and_mix(questions: list[Question]) -> None:
    assert len(questions) >= 84
    counts = Counter(q.type for q in questions)
    assert set(counts) == set(QUESTION_TYPES)
    for kind in QUESTION_TYPES:
        if kind != "factoid":
            assert counts[kind] >= 8, kind
    unanswerable = sum(not q.answerable for q in questions)
    assert unanswerable >= 14
    assert unanswerable / len(questions) >= 0.15


def test_seed_ids_unique_and_sources_exist(questions: list[Question], docs: dict[str, str]) -> None:
    assert len({q.id for q in questions}) == len(questions)
    for q in questions:
        assert set(q.sources) <= set(docs), q.id
        assert len(set(q.sources)) == len(q.sources), q.id


def test_every_fact_group_occurs_in_a_source(questions: list[Question], docs: dict[str, str]) -> None:
    """The extractive answerer quotes the articles, so each group needs an alternative found in a gold document."""
    missing = [
        (q.id, group)
        for q in questions
        if q.answerable
        for group in q.must_include
        if not any(contains_fact(docs[source], group) for source in q.sources)
    ]
    assert missing == []


def test_every_source_supplies_a_fact(questions: list[Question], docs: dict[str, str]) -> None:
    idle = [
        (q.id, source)
        for q in questions
        if q.answerable
        for source in q.sources
        if not any(contains_fact(docs[source], group) for group in q.must_include)
    ]
    assert idle == []


def test_multi_doc_questions_need_two_documents(questions: list[Question], docs: dict[str, str]) -> None:
    for q in questions:
        if q.type != "multi_doc":
            continue
        assert len(q.sources) >= 2 and len(q.must_include) >= 2, q.id
        single = [s for s in q.sources if all(contains_fact(docs[s], g) for g in q.must_include)]
        assert single == [], f"{q.id}: {single} alone holds every fact"


def test_conflict_questions_require_both_sides(questions: list[Question]) -> None:
    conflicts = [q for q in questions if q.type == "conflict"]
    assert all(len(q.must_include) >= 2 for q in conflicts)
    assert sum(len(q.sources) >= 2 for q in conflicts) >= 8
    groups = {tuple(g) for q in conflicts for g in q.must_include}
    assert any("60 to 70%" in g for g in groups) and any("nearly 80%" in g for g in groups)
    assert any("140 billion" in g for g in groups) and any("111 billion" in g for g in groups)


def test_follow_ups_and_unanswerables(questions: list[Question]) -> None:
    for q in questions:
        if q.type == "follow_up":
            assert q.history and q.history[-1].role == "assistant", q.id
        if not q.answerable:
            assert q.sources == [] and q.must_include == [], q.id


def test_alternatives_are_short_phrases(questions: list[Question]) -> None:
    long = [(q.id, alt) for q in questions for g in q.must_include for alt in g if len(alt.split()) > 8]
    assert long == []


# --- the loader ---------------------------------------------------------------------------------------------------


def _good(**overrides: object) -> dict[str, object]:
    row: dict[str, object] = {
        "id": "x1",
        "question": "Which article?",
        "answerable": True,
        "sources": ["000_47bab1ff1479f7a2"],
        "must_include": [["Article 4", "Article IV"]],
        "reference": "Article 4.",
        "type": "factoid",
    }
    row.update(overrides)
    return row


def _write(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "q.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_load_valid_lines_and_skip_blank(tmp_path: Path) -> None:
    path = _write(tmp_path, [json.dumps(_good()), "", "   ", json.dumps(_good(id="x2", history=[]))])
    questions, errors = load_questions(path)
    assert errors == []
    assert [q.id for q in questions] == ["x1", "x2"]
    assert questions[0].history == []


def test_load_reports_bad_lines_by_number(tmp_path: Path) -> None:
    no_question = _good(id="x3")
    del no_question["question"]
    lines = [
        json.dumps(_good()),  # 1 ok
        "{not json",  # 2
        json.dumps(no_question),  # 3
        json.dumps(_good(id="x4", type="trivia")),  # 4
        json.dumps(_good(id="x5", answerable=False)),  # 5: unanswerable with sources
        json.dumps(_good(id="x1")),  # 6: duplicate
        json.dumps(["a", "list"]),  # 7
        json.dumps(_good(id="x8", must_include=[[]])),  # 8
        json.dumps(_good(id="x9", type="follow_up")),  # 9: follow-up without history
        json.dumps(_good(id="x10", answerable=False, sources=[], must_include=[], type="unanswerable")),  # 10 ok
        json.dumps(_good(id="x11", extra=1)),  # 11
        json.dumps(_good(id="x12", type="unanswerable")),  # 12
    ]
    questions, errors = load_questions(_write(tmp_path, lines))
    assert [q.id for q in questions] == ["x1", "x10"]
    by_line = {int(e.split(":")[1]): e for e in errors}
    assert sorted(by_line) == [2, 3, 4, 5, 6, 7, 8, 9, 11, 12]
    assert "invalid JSON" in by_line[2]
    assert "missing field 'question'" in by_line[3] and "x3" in by_line[3]
    assert "type" in by_line[4] and "factoid" in by_line[4]
    assert "answerable:false" in by_line[5]
    assert "duplicate" in by_line[6] and "line 1" in by_line[6]
    assert "JSON object" in by_line[7]
    assert "group 0" in by_line[8]
    assert "history" in by_line[9]
    assert "unknown field 'extra'" in by_line[11]
    assert "unanswerable" in by_line[12]
    assert all(e.startswith("q.jsonl:") for e in errors)


def test_load_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_questions(tmp_path / "absent.jsonl")


def test_question_model_validates_type_and_history_roles() -> None:
    q = Question.model_validate(_good(type="follow_up", history=[{"role": "user", "content": "Hi"}]))
    assert q.history[0].role == "user"
    with pytest.raises(ValueError):
        Question.model_validate(_good(history=[{"role": "system", "content": "x"}]))
    with pytest.raises(ValueError):
        Question.model_validate(_good(answerable=True, sources=[]))


def test_type_is_optional_and_inferred(tmp_path: Path) -> None:
    def without_type(**overrides: object) -> str:
        row = _good(**overrides)
        del row["type"]
        return json.dumps(row)

    turns = [{"role": "user", "content": "Which article?"}, {"role": "assistant", "content": "Article 4."}]
    lines = [
        without_type(id="f1"),
        without_type(id="u1", answerable=False, sources=[], must_include=[]),
        without_type(id="h1", history=turns),
        json.dumps(_good(id="n1", type=None)),  # null counts as absent
        json.dumps(_good(id="p1", type="paraphrase")),  # a given type is kept
        without_type(id="h2", answerable=False, sources=[], must_include=[], history=turns),
    ]
    questions, errors = load_questions(_write(tmp_path, lines))
    assert errors == []
    assert {q.id: q.type for q in questions} == {"f1": "factoid", "u1": "unanswerable", "h1": "follow_up",
                                                 "n1": "factoid", "p1": "paraphrase", "h2": "unanswerable"}


def test_missing_type_does_not_hide_the_real_problem(tmp_path: Path) -> None:
    row = _good(id="m1")
    del row["type"], row["answerable"]
    questions, errors = load_questions(_write(tmp_path, [json.dumps(row)]))
    assert questions == []
    assert "missing field 'answerable'" in errors[0] and "'type'" not in errors[0]


# --- the newsdev tuning set --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["newsdev", "newsdev2"])
def test_news_tuning_set_facts_are_in_their_sources_and_a_fifth_are_near_misses(name: str) -> None:
    folder = ROOT / "eval" / name
    docs = {p.stem: p.read_text(encoding="utf-8") for p in sorted((folder / "corpus").glob("*.txt"))}
    loaded, errors = load_questions(folder / "questions.jsonl")
    assert errors == [] and len(loaded) >= 60 and len(docs) >= 10
    assert len({q.id for q in loaded}) == len(loaded)
    unanswerable = [q for q in loaded if not q.answerable]
    assert len(unanswerable) >= 0.2 * len(loaded) and all(not q.sources and not q.must_include for q in unanswerable)
    assert sum(bool(q.history) for q in loaded) >= 6
    for q in loaded:
        if q.answerable:
            text = "\n".join(docs[s] for s in q.sources)  # a KeyError names a source with no article
            assert q.must_include and all(any(contains_fact(text, alt) for alt in group) for group in q.must_include), q.id
