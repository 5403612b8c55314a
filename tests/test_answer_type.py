"""The learned answer type: its features, and the packaged model's reading of what a question asks for."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import rag.answering.answer_type as answer_type
from rag.answering.answer_type import CUTOFF, offer, packaged, question_features, shape, words
from rag.assets import file_sha256
from rag.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def test_words_keep_their_spans_without_edge_punctuation() -> None:
    text = "Trade (in 2024) reached US$3.6 billion, “a record”."
    got = words(text)
    assert [w for w, _, _ in got] == ["Trade", "in", "2024", "reached", "US$3.6", "billion", "a", "record"]
    assert all(text[s:e] == w for w, s, e in got)


def test_shapes_tell_years_figures_names_and_designations_apart() -> None:
    assert shape("2024") == "dddd" and shape("11") == "dd" and shape("240.1") == "ddd.d"
    assert shape("Hanoi") == "Xx" and shape("Shahed-136") == "Xx-ddd" and shape("US$3.6") == "X$d.d"


def test_the_question_is_read_by_its_wh_words_and_the_noun_it_asks_about() -> None:
    got = question_features("In what year was the bridge over the Tay finished?")
    assert "wh2=what year" in got and "head=what year" in got
    assert "head=how troops" in question_features("How many troops did it send?")
    assert question_features("Is the treaty a threat?") == ["*", "wh=is"]


# (question, a sentence with the kind of answer asked for, an on-topic sentence without one)
KINDS = [
    ("How many agreements were signed?", "He oversaw the signing of 11 cooperation agreements.",
     "The agreements were signed in Hanoi, officials said."),
    ("When did Moscow sign it?", "In May 2022, Moscow signed it.", "Moscow may be interested in reviving the naval base."),
    ("Who spoke for Iran?", "Saeed Khatibzadeh, spokesman for Iran’s Foreign Ministry, said the talks went well.",
     "Tuesday's talks went well, the ministry said."),
    ("How much are the deals worth?", "The deals are worth $3.6 billion.", "The deals were signed in Hanoi on Thursday."),
    ("What percentage of Vietnam's arms imports come from Russia?", "Nearly 80% of Vietnam’s arms imports come from Russia.",
     "Vietnam buys arms from Russia."),
    ("What drone model does the plant produce?", "The plant can produce thousands of HESA Shahed-136 drones.",
     "The plant can produce thousands of drones a year."),
    ("What is the name of the Russian ambassador South Korea summoned?",
     "Seoul summoned Russian Ambassador Georgy Zinoviev on Thursday.", "South Korea summoned the Russian ambassador."),
]


@pytest.mark.parametrize(("question", "fitting", "other"), KINDS, ids=[k[0] for k in KINDS])
def test_a_sentence_with_the_asked_for_kind_of_answer_offers_it_far_more_than_one_without(
        question: str, fitting: str, other: str) -> None:
    assert offer(question, fitting) >= CUTOFF
    assert offer(question, fitting) > 1.5 * offer(question, other)


def test_the_likeliest_word_is_the_answer_and_a_word_the_question_uses_is_never_offered() -> None:
    probs = packaged().word_probs("How many agreements were signed?", "He oversaw the signing of 11 agreements.")
    assert max(probs, key=lambda wp: wp[1])[0] == "11"
    assert offer("Who is Vladimir Putin?", "Vladimir Putin is Vladimir Putin.") == 0.0  # every word is asked


def test_the_packaged_model_loads_offline_and_matches_its_sha256() -> None:
    assert file_sha256(answer_type.MODEL) == answer_type.MODEL_SHA256
    assert packaged().weights.shape == (1 << answer_type.BITS,)


def test_a_damaged_or_unreadable_model_says_how_to_fix_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "answer_type.npz"
    bad.write_bytes(b"not a model")
    monkeypatch.setattr(answer_type, "MODEL", bad)
    packaged.cache_clear()
    try:
        with pytest.raises(ConfigError, match="does not match its sha256.*train_answer_type.py"):
            packaged()
        monkeypatch.setattr(answer_type, "MODEL_SHA256", file_sha256(bad))
        with pytest.raises(ConfigError, match="unreadable.*train_answer_type.py"):
            packaged()
    finally:
        packaged.cache_clear()


def test_a_smoke_training_run_writes_a_model_that_finds_the_answer(tmp_path: Path, capsys) -> None:
    import importlib.util

    from tests.test_scorer import _tiny_squad

    spec = importlib.util.spec_from_file_location("train_answer_type", ROOT / "scripts" / "train_answer_type.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    out = tmp_path / "at.npz"
    assert script.main(["--squad", str(_tiny_squad(tmp_path / "tiny.json")), "--out", str(out),
                        "--val-articles", "2"]) == 0
    report = capsys.readouterr().out
    assert "validation:" in report and json.loads(report.split("validation: ")[1].splitlines()[0].replace("'", '"'))
    with np.load(out) as data:
        model = answer_type.AnswerType(data["weights"], float(data["bias"]))
    probs = model.word_probs("How many bridges did Arden build?", "The town of Arden built 100 bridges over the river.")
    assert max(probs, key=lambda wp: wp[1])[0] == "100"
