"""The answer scorer: the packaged weights load offline and match their sha256, damage is reported with the fix,
the training script runs (a smoke run inside make test), and with the real models over real Chroma a question the
articles do not cover is refused, and so are near misses on the pair of countries or the year (a paraphrase is a strict
xfail, for issue 24's reader)."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from rag import ConfigError, Engine, Settings
from rag.answering.decide import PACKAGED_REFUSAL
from rag.onnx_encoder import file_sha256
from rag.providers import build_embedder, build_scorer
from rag.scorer import MANIFEST, PACKAGED, AnswerScorer, pair_text

ROOT = Path(__file__).resolve().parents[1]


def test_the_packaged_scorer_loads_offline_and_its_files_match_their_sha256() -> None:
    manifest = json.loads((PACKAGED / MANIFEST).read_text())
    assert file_sha256(PACKAGED / manifest["model"]) == manifest["model_sha256"]
    assert file_sha256(PACKAGED / manifest["tokenizer"]) == manifest["tokenizer_sha256"]
    assert (PACKAGED / manifest["model"]).stat().st_size <= 50 * 1024 * 1024
    assert (PACKAGED / "MODEL_CARD.md").is_file()
    scorer = build_scorer(Settings(scorer="packaged"))
    assert isinstance(scorer, AnswerScorer)
    q = "How many agreements did Putin and To Lam sign in Hanoi?"
    before, after = "Putin arrived in Hanoi on Wednesday.", "The deals cover energy and education."
    probs = scorer.probs(q, [  # windows as the engine gives them: title, the sentence before and after
        pair_text("Putin in Vietnam", before, "Putin and To Lam signed 11 agreements in Hanoi on Thursday.", after),
        pair_text("Putin in Vietnam", before, "The weather in Hanoi was hot and humid all week.", after),
    ])
    assert probs.shape == (2,) and np.all((probs >= 0) & (probs <= 1))
    assert probs[0] > 0.5 > probs[1]


def test_a_question_longer_than_the_readers_window_is_read_not_an_error() -> None:
    scorer = AnswerScorer()
    long_question = "What did the foreign minister of the Democratic People's Republic of Korea say " * 6 + "?"
    probs = scorer.probs(long_question, [pair_text("Putin in Vietnam", "", "Putin arrived in Hanoi on Thursday.")])
    assert probs.shape == (1,) and 0.0 <= float(probs[0]) <= 1.0


def test_a_damaged_or_missing_weights_file_is_an_error_naming_the_file_and_the_fix(tmp_path: Path) -> None:
    copy = tmp_path / "scorer"
    shutil.copytree(PACKAGED, copy)
    model = copy / json.loads((copy / MANIFEST).read_text())["model"]
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model.write_bytes(bytes(data))
    with pytest.raises(ConfigError) as corrupt:
        AnswerScorer(copy)
    assert str(model) in str(corrupt.value) and "corrupt" in str(corrupt.value)
    assert str(copy) in str(corrupt.value) and "make setup" not in str(corrupt.value)  # the user's own folder
    model.unlink()
    with pytest.raises(ConfigError) as missing:
        AnswerScorer(copy)
    assert str(model) in str(missing.value) and "missing" in str(missing.value)
    with pytest.raises(ConfigError, match="RAG_SCORER"):
        build_scorer(Settings(scorer=str(tmp_path / "no-such-model")))
    assert build_scorer(Settings(scorer="none")) is None


def test_the_refusal_cutoff_is_the_refusal_models_unless_one_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RAG_REFUSAL_CUTOFF", raising=False)

    def cutoff() -> float:
        return Engine(Settings(_env_file=None)).refusal_cutoff  # lazy: nothing is loaded

    assert cutoff() == PACKAGED_REFUSAL.cutoff == 0.60
    monkeypatch.setenv("RAG_REFUSAL_CUTOFF", "0.4")
    assert cutoff() == 0.4


def test_a_removed_or_invalid_setting_is_an_error_naming_it_and_the_fix(monkeypatch: pytest.MonkeyPatch,
                                                                         tmp_path: Path) -> None:
    monkeypatch.setenv("RAG_SCORER_ROLE", "choose")
    with pytest.raises(ConfigError, match=r"RAG_SCORER_ROLE \(set in the environment\) is no longer a setting"):
        Settings(_env_file=None)
    monkeypatch.delenv("RAG_SCORER_ROLE")
    env = tmp_path / ".env"
    env.write_text("RAG_ANSWER_SENTENCES=2\nrag_scorer_role=choose\n")
    with pytest.raises(ConfigError, match=rf"RAG_SCORER_ROLE \(set in {re.escape(str(env))}\) is no longer"):
        Settings(_env_file=env)  # a .env line is not silently ignored either
    env.write_text("RAG_ANSWER_SENTENCES=2\n")
    assert Settings(_env_file=env).answer_sentences == 2
    monkeypatch.setenv("RAG_SCORER_CUTOFF", "0.4")
    with pytest.raises(ConfigError, match="now RAG_REFUSAL_CUTOFF"):
        Settings(_env_file=None)
    monkeypatch.delenv("RAG_SCORER_CUTOFF")
    monkeypatch.setenv("RAG_REFUSAL_CUTOFF", "3")
    with pytest.raises(ConfigError) as err:
        Settings(_env_file=None)
    assert "RAG_REFUSAL_CUTOFF='3' is invalid" in str(err.value) and "docs/configuration.md" in str(err.value)
    monkeypatch.delenv("RAG_REFUSAL_CUTOFF")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-do-not-print")
    with pytest.raises(ConfigError) as err:
        Settings(_env_file=None, openai_api_key=["sk-do-not-print"], answer_sentences=0)
    assert "RAG_ANSWER_SENTENCES=0 is invalid" in str(err.value) and "sk-do-not-print" not in str(err.value)


def _tiny_squad(path: Path) -> Path:
    """A SQuAD-format file of made-up articles: each paragraph states three facts, each asked about once."""
    towns = ["Arden", "Belmont", "Corrin", "Dalby", "Elgin", "Fenwick", "Garrow", "Hollin"]
    data = []
    for a, town in enumerate(towns):
        paragraphs = []
        for p in range(3):
            n, year, name = 100 + 17 * a + p, 1900 + 7 * a + p, f"Mayor {chr(65 + p)}. Quill"
            sents = [f"The town of {town} built {n} bridges over the river.",
                     f"Its first bridge was finished in {year} after a long winter.",
                     f"The works were led by {name}, who later moved to the coast."]
            ctx = " ".join(sents)
            qas = [
                {"id": f"{a}-{p}-0", "question": f"How many bridges did {town} build?",
                 "answers": [{"text": str(n), "answer_start": ctx.index(str(n))}]},
                {"id": f"{a}-{p}-1", "question": f"When was the first bridge of {town} finished?",
                 "answers": [{"text": str(year), "answer_start": ctx.index(str(year))}]},
                {"id": f"{a}-{p}-2", "question": f"Who led the bridge works in {town}?",
                 "answers": [{"text": name, "answer_start": ctx.index(name)}]},
            ]
            paragraphs.append({"context": ctx, "qas": qas})
        data.append({"title": f"Bridges_of_{town}", "paragraphs": paragraphs})
    path.write_text(json.dumps({"version": "1.1", "data": data}))
    return path


def _script(name: str = "train_scorer"):
    """A fresh copy of scripts/NAME.py and of the scorer_* modules it imports (their globals, such as --context's,
    start from their defaults)."""
    for sibling in ("scorer_data", "scorer_model", "scorer_variants"):
        sys.modules.pop(sibling, None)
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_a_smoke_training_run_resumes_validates_and_exports_a_loadable_scorer(tmp_path: Path, capsys) -> None:
    script = _script()  # in this process: torch is loaded once, the run takes seconds
    squad, out, export = _tiny_squad(tmp_path / "tiny.json"), tmp_path / "run", tmp_path / "export"
    base = ["--squad", str(squad), "--out", str(out), "--questions", "32", "--val-articles", "2",
            "--val-questions", "8", "--batch", "8", "--save-every", "2", "--threads", "1"]
    assert script.main([*base, "--stop-at", "2"]) == 0
    capsys.readouterr()
    assert script.main(base) == 0
    assert "resumed at step 2" in capsys.readouterr().out
    report = json.loads((out / "validation.json").read_text())
    assert report["steps"] == report["planned_steps"] > 2 and 0.0 <= report["pair_auc"] <= 1.0
    assert {"t", "answered_right", "refused_unanswerable"} <= set(report["best_threshold"])
    assert script.main([*base, "--export", str(export)]) == 0
    manifest = json.loads((export / "manifest.json").read_text())
    assert manifest["name"] == "rag-answer-scorer-minilm-l3" and manifest["max_tokens"] == 64  # the run's layers
    assert manifest["context"] == "neighbours"  # it read the sentence after each candidate too
    reader = AnswerScorer(export)
    text = pair_text("Bridges of Arden", "", "The town of Arden built 100 bridges.", "It cost $3 million.")
    probs = reader.probs("How many bridges did Arden build?", [text])
    assert probs.shape == (1,) and 0.0 <= float(probs[0]) <= 1.0
    lo, hi = reader.span("How many bridges did Arden build?", text)  # the answer-span head: inside the sentence
    assert 0 <= lo < hi <= len("The town of Arden built 100 bridges.")


@pytest.mark.slow
def test_a_student_run_learns_from_a_teachers_probabilities_and_refuses_a_teacher_that_read_otherwise(
        tmp_path: Path) -> None:
    import argparse

    script = _script()
    squad = _tiny_squad(tmp_path / "tiny.json")
    base = ["--squad", str(squad), "--questions", "32", "--val-articles", "2", "--val-questions", "8", "--batch", "8",
            "--threads", "1", "--steps", "2"]
    assert script.main([*base, "--out", str(tmp_path / "teacher"), "--layers", "0,1"]) == 0
    teacher, student = tmp_path / "teacher" / "final.pt", tmp_path / "student"
    assert script.main([*base, "--out", str(student), "--layers", "0", "--teacher", str(teacher), "--soft", "0.5"]) == 0
    probs = np.load(student / "teacher.npy")
    pairs = [tuple(p) for p in json.loads((student / "pairs.json").read_text())["pairs"]]
    assert len(probs) == len(pairs) and ((probs >= 0) & (probs <= 1)).all() and probs.std() > 0
    encoded = script.Encoded(script.tokenizer(), pairs, script.MAX_TOKENS)
    args = argparse.Namespace(teacher=str(teacher), soft=0.5, max_tokens=script.MAX_TOKENS, context="neighbours")
    mixed = script.soft_labels(encoded, args, student / "teacher.npy", "cpu")
    assert np.allclose(mixed, 0.5 * encoded.labels + 0.5 * probs)  # the targets the student trained on
    report = json.loads((student / "validation.json").read_text())
    assert report["teacher"] == {"model": str(teacher), "soft": 0.5} and report["layers"] == [0]
    with pytest.raises(SystemExit, match=f"--max-tokens {script.MAX_TOKENS} --context neighbours"):
        script.main([*base, "--out", str(tmp_path / "other"), "--max-tokens", "32", "--teacher", str(teacher)])


def test_near_miss_negatives_move_the_year_and_offer_the_same_kind_of_value_for_another_thing() -> None:
    import random

    script = _script()
    rng = random.Random(0)
    moved = script.shift_year("What did Arden build in 1907?", "In 1907 Arden built a bridge.", rng)
    assert moved is not None and "1907" not in moved and moved.startswith("What did Arden build in 19")
    assert script.shift_year("What did Arden build?", "In 1907 Arden built a bridge.", rng) is None
    rec = {"q": "How many bridges did Arden build?", "answer": "100", "para": 0, "sents": [], "gold": 0}
    paras = [{"context": "Arden built 100 bridges."},
             {"context": "Arden has a mayor. Arden built 12 tunnels under the river."}]
    sents, i = script.same_kind(rec, paras, rng)
    assert sents[i] == "Arden built 12 tunnels under the river."  # a figure, as the answer is, for another thing
    assert script.answer_span({"sents": ["Arden built 100 bridges."], "gold": 0, "answer": "100"}) == (12, 15)


def test_training_questions_are_also_asked_in_other_words_and_as_a_follow_up(tmp_path: Path) -> None:
    import random

    script = _script()
    (tmp_path / "data.noun").write_text("00000001 05 n 02 share 0 portion 0 000 | a part of a whole\n")
    (tmp_path / "index.noun").write_text("share n 1 0 1 0 00000001\nportion n 1 0 1 0 00000001\n")
    for name in ("data.adj", "data.adv", "index.adj", "index.adv"):
        (tmp_path / name).write_text("  1 This software and database is being provided\n")  # a licence header
    wordnet = script.WordNet(tmp_path)
    rng = random.Random(0)
    assert wordnet.paraphrase("What share of the reserves was in dollars?", rng) == \
        "What portion of the reserves was in dollars?"
    assert wordnet.paraphrase("Who won the race?", rng) is None  # no word with a synonym
    bent = script.follow_up("When did Putin arrive in Hanoi?", ["Kim Jong Un", "Vietnam", "The"], rng)
    head, _, carried = bent.partition(" (")
    gone = "Putin" if "Putin" not in head else "Hanoi"
    assert gone not in head and gone in carried.rstrip(")").split(", ") and "The" not in carried
    assert script.follow_up("how many bridges were built?", ["Arden"], rng) is None  # no name to refer back to


def test_the_answer_sentence_with_its_answer_cut_out_is_a_negative() -> None:
    script = _script()
    assert script.without_answer("The town of Arden built 100 bridges over the river.", "100") == \
        "The town of Arden built bridges over the river."
    assert script.without_answer("Its first bridge was finished in 1907.", "Quill") is None
    assert script.without_answer("It was led by Quill.", "Quill") is None  # too little left to be a sentence


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One index of the seed articles, built once for the module."""
    data = tmp_path_factory.mktemp("scorer") / "data"
    settings = Settings(data_dir=data)
    Engine(settings, embedder=build_embedder(settings)).ingest([ROOT / "seeds"])
    return data


@pytest.fixture(scope="module")
def default_engine(seeded: Path) -> Engine:
    """The engine as a user gets it: no setting (the packaged scorer)."""
    settings = Settings(data_dir=seeded)
    return Engine(settings, embedder=build_embedder(settings))


@pytest.mark.slow
def test_by_default_a_question_the_articles_do_not_cover_is_refused(default_engine: Engine) -> None:
    for question in ("What is the boiling point of liquid nitrogen?",
                     "How many goals did Vietnam score in the 2024 AFF Championship final?"):
        answer = default_engine.answer(question)
        assert answer.abstained, (question, answer.text)


@pytest.mark.slow
def test_a_local_scorer_folder_answers_with_its_own_refusal_model(seeded: Path, tmp_path: Path) -> None:
    from rag.answering.decide import REFUSAL_FILE

    question = "How many agreements did Putin and To Lam sign in Hanoi?"
    folder = tmp_path / "my-scorer"
    shutil.copytree(PACKAGED, folder)  # an exported scorer folder, as RAG_SCORER=FOLDER takes it
    engine = Engine(Settings(data_dir=seeded, scorer=str(folder)))
    assert engine.refusal == PACKAGED_REFUSAL  # no refusal.json: the packaged scorer's model
    answered = engine.answer(question)
    assert not answered.abstained and "11" in answered.text, answered.text
    (folder / REFUSAL_FILE).write_text(json.dumps({  # a model that never believes the articles answer
        "weights": {"best": 0.0, "lead": 0.0, "rules_refused": 0.0, "retrieval": 0.0}, "bias": -20.0, "cutoff": 0.5}))
    doubting = Engine(Settings(data_dir=seeded, scorer=str(folder)))
    assert doubting.refusal.bias == -20.0 and doubting.refusal_cutoff == 0.5 and engine.refusal_cutoff == PACKAGED_REFUSAL.cutoff
    assert doubting.answer(question).abstained


@pytest.mark.slow
def test_by_default_a_question_on_the_right_topic_about_another_pair_of_countries_is_refused(
        default_engine: Engine) -> None:
    # the articles give Russia–China and Russia–Vietnam trade figures, never a Russia–North Korea one
    answer = default_engine.answer("What was the value of trade between Russia and North Korea in 2019?")
    assert answer.abstained, answer.text


@pytest.mark.slow
def test_by_default_a_question_asking_another_year_of_a_given_figure_is_refused(default_engine: Engine) -> None:
    answer = default_engine.answer("What was the value of Russia-Vietnam trade in 2019?")  # the articles: 2023
    assert answer.abstained, answer.text  # the refusal model refitted with newsdev's near misses refuses it


@pytest.mark.slow
def test_by_default_a_standalone_question_after_unrelated_turns_keeps_its_words(default_engine: Engine) -> None:
    history = [{"role": "user", "content": "What did Iran help Russia build in Tatarstan?"},
               {"role": "assistant", "content": "A factory for drones."}]
    question = "Why did Putin and To Lam sign 11 agreements in Hanoi?"
    answer = default_engine.answer(question, history)
    assert answer.standalone_question == question  # nothing of the drone factory is carried into retrieval
    assert answer.citations and all(c.doc_id.startswith("004_") for c in answer.citations), answer.citations



@pytest.mark.slow
def test_by_default_a_paraphrased_question_is_answered_from_the_right_article(default_engine: Engine) -> None:
    answer = default_engine.answer("How many deals were inked when Putin met Vietnam's president in Hanoi?")
    assert not answer.abstained and "11" in answer.text, answer.text  # '…the signing of 11 cooperation agreements'
    assert answer.citations[0].doc_id.startswith("004_"), answer.citations


@pytest.mark.slow
def test_by_default_the_readers_short_answer_is_marked_in_the_lead_quote(default_engine: Engine) -> None:
    answer = default_engine.answer("How many agreements did Putin and To Lam sign in Hanoi?")
    lead = answer.citations[0]
    assert not answer.abstained and lead.answer_span is not None, answer.text
    assert lead.quote[slice(*lead.answer_span)] == "11", lead  # '…the signing of 11 cooperation agreements…'


def test_no_window_format_marks_a_label_other_articles_sentences_keep_their_neighbours() -> None:
    import random

    script = _script()
    articles = [{"title": "Bridges_of_Arden", "paragraphs": [
                    {"context": "Arden built 100 bridges. The first opened in 1907. It cost $3 million."},
                    {"context": "Arden has a mayor. She was elected in 2020."}]},
                {"title": "Tunnels_of_Brill", "paragraphs": [
                    {"context": "Brill dug 12 tunnels. The longest is 3 km long. It opened in 1950."}]}]
    bank = script.Sentences(articles, [0, 1])
    middle = bank.texts.index("The longest is 3 km long.")
    assert bank.window(middle, "Tunnels of Brill") == \
        "The longest is 3 km long. | Tunnels of Brill | Brill dug 12 tunnels. | It opened in 1950."
    last = bank.texts.index("It cost $3 million.")
    assert "Arden has a mayor" not in bank.window(last, "Bridges of Arden")  # another paragraph is no neighbour
    rec = {"q": "How many bridges did Arden build?", "title": "Bridges of Arden", "article": 0, "para": 0,
           "sents": ["Arden built 100 bridges.", "The first opened in 1907.", "It cost $3 million."], "gold": 0,
           "answer": "100"}
    pairs = script.make_pairs([rec], articles, bank, random.Random(0), rates={"bare": 1.0})
    bare = [p for p in pairs if p[1] == "Arden built 100 bridges. | Bridges of Arden"]
    assert bare and all(p[2] == 1.0 for p in bare)  # the title-only window is a positive too, not only negatives
