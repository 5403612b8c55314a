"""Smoke runs of the benchmarks: `--quick` ingest and answer runs exit 0 and print their key figures."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parent.parent


def _run(module: str, *args: str, timeout: float = 300) -> str:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}
    proc = subprocess.run([sys.executable, "-m", module, *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, f"{module} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def test_ingest_quick() -> None:
    out = _run("benchmarks.ingest", "--quick", "--articles", "15")
    assert "documents/s" in out and "chunks/s" in out
    assert "ratio ingest_chunks_per_s / raw_encoder_chunks_per_s" in out
    assert "peak RSS" in out and "index on disk" in out
    assert "re-run on the unchanged folder" in out and ", 0 chunks written" in out


def test_answer_quick() -> None:
    out = _run("benchmarks.answer", "--quick")
    assert "warm, round 1 (8 answers)" in out
    assert "extractive answer p50" in out and "llama-index retrieve p50" in out
    assert "ratio engine retrieval p50 / llama-index retrieve p50" in out
    assert "cold start 1: process start -> first answer line" in out


def test_archive_resumes_and_reports(tmp_path: Path) -> None:
    """A tiny archive: the first run builds it, the second finds nothing to write and measures it (with a server)."""
    work, out_dir = tmp_path / "archive", tmp_path / "out"
    first = _run("benchmarks.archive", "--dir", str(work), "--articles", "12", "--ingest-only")
    assert '"chunks_written"' in first
    out = _run("benchmarks.archive", "--dir", str(work), "--articles", "12", "--fragments", "4", "--server",
               "--out", str(out_dir))
    assert "over 1 run(s)" in out  # the second ingest wrote nothing, so the total is the first run's
    assert "10-word fragments of random articles" in out and "seed questions (answerable)" in out
    assert "fragments, through `chroma run`" in out and "chroma server peak" in out
    assert "BM25 blocks rewritten 1 of" in out
    assert "grounded_refusal_f1" in out and "heldout.jsonl quality" in out and "dev.jsonl quality" in out
    assert (out_dir / "archive.json").is_file()


def test_ablation_switches_off_rules_that_exist_and_changes_answers() -> None:
    """Every ablation variant patches a name the answer modules still have (a renamed rule fails here, not silently
    in a benchmark run), and switching the fit rules off really changes what the dev set gets."""
    import importlib

    from benchmarks.ablation import VARIANTS

    for name, (_, patches) in VARIANTS.items():
        for target, _ in patches:
            module, attr = target.rsplit(".", 1)
            assert hasattr(importlib.import_module(module), attr), f"{name}: {target} no longer exists"
    out = _run("benchmarks.ablation", "--sets", "heldout", "--variants", "all rules", "no fit rules")
    rows = {line.split("|")[1].strip(): line for line in out.splitlines() if line.startswith("| ")}
    assert rows["all rules"] != rows["no fit rules"].replace("no fit rules", "all rules")


def test_set_engines_builds_one_engine_per_corpus_and_appends_extra_sets_in_order(tmp_path: Path) -> None:
    from benchmarks._util import set_engines

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "harbour.txt").write_text("Harbour opens\n\nThe new harbour in Tallinn opened on 3 May 2021 after "
                                        "four years of building.\n", encoding="utf-8")
    questions = tmp_path / "harbour.jsonl"
    questions.write_text('{"id": "h1", "question": "When did the harbour open?", "answerable": true}\n',
                         encoding="utf-8")
    sets = ["dev", "heldout"]
    files, engines = set_engines(sets, {"dev": "seeds", "heldout": "seeds"}, [("harbour", str(questions),
                                                                              str(corpus))], "rag-test-sets-")
    assert sets == ["dev", "heldout"]  # the caller's list is left as it was
    assert list(files) == list(engines) == ["dev", "heldout", "harbour"]
    assert files["dev"].name == "dev.jsonl" and files["harbour"] == questions
    assert engines["dev"] is engines["heldout"] and engines["harbour"] is not engines["dev"]
    assert [s.doc_id for s in engines["harbour"].sources()] == ["harbour"]
    assert len(engines["dev"].sources()) == 5  # the seed articles
