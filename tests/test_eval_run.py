"""`rag eval` end to end on a 12-question subset (ours + baseline, JSON, report, gates) and the judge's cache/parsing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import rag
from eval.judge import Judge, VerdictCache, parse_score, parse_yes_no
from eval.run import GATE_METRICS, check_gates, parse_gates
from rag.types import Answer, Citation
from rag_cli import main

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ROOT / "eval" / "questions" / "seeds.jsonl"
PER_TYPE = {"factoid": 2, "multi_doc": 2, "conflict": 1, "temporal": 2, "follow_up": 2, "paraphrase": 1,
            "unanswerable": 2}
BAD_LINE_NO = 4


@pytest.fixture(scope="module")
def subset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 seed questions (a few of each type) with an invalid line at line 4."""
    rows = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    picked: list[dict[str, Any]] = []
    for qtype, count in PER_TYPE.items():
        picked += [r for r in rows if r["type"] == qtype][:count]
    lines = [json.dumps(r) for r in picked]
    lines.insert(BAD_LINE_NO - 1, '{"id": "broken", "question": "no type or answerable"}')
    path = tmp_path_factory.mktemp("questions") / "subset.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh RAG_DATA_DIR, offline extractive mode, and a reset process-wide engine around the module."""
    path = tmp_path_factory.mktemp("rag_data")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RAG_DATA_DIR", str(path))
        mp.setenv("RAG_LLM", "none")
        mp.delenv("OPENAI_API_KEY", raising=False)
        mp.chdir(ROOT)
        rag._engine = None
        yield path
        rag._engine = None


@pytest.fixture(scope="module")
def full_run(subset: Path, data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("eval_out")
    json_out, report = out / "eval.json", out / "report"
    code = main(["eval", str(subset), "--ingest", "seeds", "--baseline", "--json", str(json_out),
                 "--report", str(report)])
    return {"code": code, "json": json.loads(json_out.read_text(encoding="utf-8")), "report": report,
            "engine": rag.get_engine()}


@pytest.fixture
def indexed(data_dir: Path, full_run: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Path:
    """Reuse the module's indexed data dir and engine (conftest gives every test a fresh, empty one)."""
    monkeypatch.setenv("RAG_DATA_DIR", str(data_dir))
    monkeypatch.setattr(rag, "_engine", full_run["engine"])
    return data_dir


def test_full_run_writes_rows_summary_and_report(full_run: dict[str, Any]) -> None:
    assert full_run["code"] == 0
    data = full_run["json"]
    assert len(data["rows"]["ours"]) == len(data["rows"]["baseline"]) == sum(PER_TYPE.values())
    summary = data["summary"]
    for side in ("ours", "baseline"):
        overall = summary[side]["overall"]
        assert overall["n"] == 12
        for name in ("fact_recall", "context_recall", "hit@1", "mrr", "citation_precision", "grounded_refusal_f1",
                     "crag_score", "quote_validity"):
            assert overall[name] is not None, (side, name)
        assert set(summary[side]["by_type"]) == set(PER_TYPE)
        assert summary[side]["latency"]["total"]["p50"] is not None
    assert any(f":{BAD_LINE_NO}:" in line and "broken" in line for line in summary["invalid_lines"])
    row = data["rows"]["ours"][0]
    for key in ("id", "type", "answerable", "abstained", "answer", "cited_doc_ids", "context_doc_ids", "hit@1",
                "hit@3", "hit@5", "mrr", "context_recall", "context_tokens", "fact_recall", "token_f1",
                "citation_precision", "citation_recall", "quote_validity", "sentence_coverage", "crag", "timings",
                "error"):
        assert key in row
    assert summary["ours"]["overall"]["quote_validity"] == 1.0
    assert "openai_api_key" not in json.dumps(summary["settings"])
    report = full_run["report"]
    assert (report / "chart.png").stat().st_size > 1000
    text = (report / "report.md").read_text(encoding="utf-8")
    assert "| fact_recall |" in text and "baseline" in text and "api_key" not in text


def test_invalid_line_is_printed_with_its_number(subset: Path, indexed: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", str(subset), "--limit", "1"]) == 0
    err = capsys.readouterr().err
    assert f"subset.jsonl:{BAD_LINE_NO}:" in err and "'broken'" in err
    assert "LLM-judged metrics: skipped (no LLM configured)" in err


def test_gates(subset: Path, indexed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", str(subset), "--limit", "3", "--min", "fact_recall=1.01"]) != 0
    assert "FAIL fact_recall" in capsys.readouterr().out
    assert main(["eval", str(subset), "--limit", "3", "--min", "fact_recall=0", "--min", "quote_validity=0"]) == 0
    assert "FAIL" not in capsys.readouterr().out
    assert main(["eval", str(subset), "--min", "nonsense=1"]) == 2
    assert "fact_recall" in capsys.readouterr().err  # the known names are listed


def test_failing_question_becomes_a_row(subset: Path, indexed: Path, monkeypatch: pytest.MonkeyPatch,
                                        tmp_path: Path) -> None:
    def boom(*args: Any, **kwargs: Any) -> Answer:
        raise RuntimeError("synthetic failure")

    monkeypatch.setattr(rag.get_engine(), "answer", boom)
    out = tmp_path / "e.json"
    assert main(["eval", str(subset), "--limit", "2", "--json", str(out)]) == 0
    rows = json.loads(out.read_text(encoding="utf-8"))["rows"]["ours"]
    assert [r["error"] for r in rows] == ["RuntimeError: synthetic failure"] * 2
    assert all(r["crag"] == -1 for r in rows)


def test_file_without_a_valid_question_fails_and_says_why(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n  \n", encoding="utf-8")
    assert main(["eval", str(empty)]) == 2
    err = capsys.readouterr().err
    assert "no valid question" in err and "empty.jsonl" in err and "it is empty" in err

    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"id": "a", "question": "Who?"}\n{not json\n', encoding="utf-8")
    assert main(["eval", str(broken), "--baseline"]) == 2
    err = capsys.readouterr().err
    assert "broken.jsonl:1:" in err and "missing field 'answerable'" in err and "broken.jsonl:2:" in err
    assert "none of its 2 non-blank lines is a valid question" in err
    assert rag._engine is None  # it stopped before building an engine or touching an index


def test_question_set_without_types_runs(indexed: Path, tmp_path: Path) -> None:
    rows = [{"id": "t1", "question": "Which article of the Russia–North Korea agreement commits the two sides to "
             "military assistance?", "answerable": True, "sources": ["000_47bab1ff1479f7a2"],
             "must_include": [["Article 4", "Article IV"]]},
            {"id": "t2", "question": "What is the population of Mars?", "answerable": False}]
    path = tmp_path / "untyped.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "e.json"
    assert main(["eval", str(path), "--json", str(out)]) == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    assert [r["type"] for r in data["rows"]["ours"]] == ["factoid", "unanswerable"]
    assert data["summary"]["invalid_lines"] == []


# --- pure helpers -------------------------------------------------------------------------------------------------


def test_parse_and_check_gates() -> None:
    assert parse_gates(["fact_recall=0.85", "hit@5=1"]) == {"fact_recall": 0.85, "hit@5": 1.0}
    for bad in ("fact_recal=0.8", "fact_recall", "fact_recall=high"):
        with pytest.raises(ValueError):
            parse_gates([bad])
    assert "grounded_refusal_f1" in GATE_METRICS
    failed = check_gates({"fact_recall": 0.83, "hit@1": 0.9}, {"fact_recall": 0.85, "hit@1": 0.9, "faithfulness": 0.5})
    assert failed == ["FAIL fact_recall 0.830 < 0.85", "FAIL faithfulness n/a (not measured) < 0.5"]


def test_parse_yes_no() -> None:
    assert parse_yes_no("Yes.") is True
    assert parse_yes_no("no, the quote is about something else") is False
    assert parse_yes_no("Answer: YES") is True
    assert parse_yes_no("maybe") is None
    assert parse_score("4\nGood answer") == (4.0, "Good answer")
    assert parse_score("Score: 3.5, close") == (3.5, ", close")
    assert parse_score("2024 only") == (None, "2024 only")


def test_judge_alce_and_cache(tmp_path: Path) -> None:
    prompts: list[str] = []

    def fake(prompt: str) -> str:  # entails when the quote mentions the claim's number
        prompts.append(prompt)
        quote, claim = prompt.split('"""')[1], prompt.split('"""')[3]
        return "Yes" if claim.split()[-1].strip(".") in quote else "No"

    cache = tmp_path / "judge_cache.json"
    judge = Judge(fake, "fake-model", cache_path=cache)
    cites = [Citation(n=1, doc_id="a", quote="It has 135 members.", start=0, end=1),
             Citation(n=2, doc_id="b", quote="Unrelated text.", start=0, end=1)]
    recall, precision = judge.alce("Project mBridge counts 135. [1][2] It was founded in 1999. [2]", cites)
    assert recall == 0.5  # the second sentence is not entailed
    assert precision == pytest.approx(1 / 3)  # [1] precise; [2] irrelevant in s1, unsupported in s2
    judge.save()
    asked = len(prompts)
    again = Judge(fake, "fake-model", cache_path=cache)
    assert again.alce("Project mBridge counts 135. [1][2] It was founded in 1999. [2]", cites) == (recall, precision)
    assert len(prompts) == asked and again.cache.hits > 0
    keys = json.loads(cache.read_text(encoding="utf-8"))
    assert all(len(k) == 40 for k in keys)  # sha1 hex
    assert VerdictCache.key("fake-model", prompts[0]) in keys


def test_judge_skips_abstentions_and_gives_up_after_failures(tmp_path: Path) -> None:
    calls = 0

    def broken(prompt: str) -> str:
        nonlocal calls
        calls += 1
        raise ConnectionError("down")

    judge = Judge(broken, "m", cache_path=None)
    abstained = Answer(question="q", text="The indexed articles don't answer this question.", abstained=True)
    assert judge.score("q", "ref", False, abstained)["alce_citation_recall"] is None
    answer = Answer(question="q", text="A claim. [1]", citations=[Citation(n=1, doc_id="a", quote="A claim.",
                                                                          start=0, end=8)])
    for _ in range(5):
        out = judge.score("q", "ref", True, answer)
        assert out["alce_citation_recall"] is None and "judge_error" in out
    assert calls == 3
