"""The `rag` command: ingest, sources and ask, their output, JSON and error messages.

Most commands run in-process through rag_cli.main (the console script's entry point) with the engine the CLI
would build, sharing one embedder; error cases and one answer run as real `rag` processes.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

import rag
from rag import Engine, Settings
from rag.providers import LocalEmbedder
from rag_cli import main

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
SEED_IDS = sorted(p.stem for p in SEEDS.glob("*.txt"))
D000 = "000_47bab1ff1479f7a2"
Q_ARTICLE4 = "Which article of the Russia–North Korea agreement commits the two sides to military assistance?"
RAG = Path(sys.executable).with_name("rag")
SUMMARY = re.compile(r"^(\d+) added, (\d+) updated, (\d+) unchanged, (\d+) removed, (\d+) skipped; "
                     r"(\d+) chunks? written in [\d.]+s$")


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    return LocalEmbedder()


def _engine_at(data: Path, embedder: LocalEmbedder) -> Engine:
    """The engine `rag` builds from the environment (Settings()), with the shared embedder passed in."""
    engine = Engine(Settings(data_dir=data), embedder=embedder)
    rag._engine = engine  # what rag.get_engine() returns to the CLI
    return engine


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory, embedder: LocalEmbedder) -> SimpleNamespace:
    """`rag ingest seeds` once for the module: its exit code and output, and the data directory."""
    data = tmp_path_factory.mktemp("cli") / "data"
    _engine_at(data, embedder)
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = main(["ingest", str(SEEDS)])
    finally:
        rag._engine = None
    return SimpleNamespace(data=data, rc=rc, out=out.getvalue(), err=err.getvalue())


@pytest.fixture
def cli(indexed: SimpleNamespace, embedder: LocalEmbedder, monkeypatch: pytest.MonkeyPatch, capsys):
    """Run `rag ARGS...` in-process against the module's index: returns (exit code, stdout, stderr)."""
    monkeypatch.setenv("RAG_DATA_DIR", str(indexed.data))
    _engine_at(indexed.data, embedder)
    capsys.readouterr()

    def run(*args: str) -> tuple[int, str, str]:
        rc = main(list(args))
        out, err = capsys.readouterr()
        return rc, out, err

    return run


def _rag(*args: str, data: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """A real `rag` process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env["RAG_DATA_DIR"] = str(data)
    return subprocess.run([str(RAG), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


# --- ingest and sources ----------------------------------------------------------------------


def test_ingest_ends_with_a_summary_line(indexed, cli) -> None:
    assert indexed.rc == 0
    lines = indexed.out.strip().splitlines()
    m = SUMMARY.match(lines[-1])
    assert m, lines[-1]
    assert m.groups()[:5] == ("5", "0", "0", "0", "0")
    assert int(m.group(6)) == sum(s.chunks for s in rag.get_engine().sources()) > 0
    assert "skipped" not in indexed.err and "Traceback" not in indexed.err

    rc, out, _ = cli("ingest", str(SEEDS))  # again: nothing to do
    assert rc == 0
    m = SUMMARY.match(out.strip().splitlines()[-1])
    assert m and m.groups() == ("0", "0", "5", "0", "0", "0")


def test_ingest_of_a_missing_path_ingests_the_rest_and_exits_non_zero(cli, tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    rc, out, err = cli("ingest", str(SEEDS), str(missing))
    assert rc == 1
    assert f"Error: {missing} does not exist; check the path" in err
    assert err.count(str(missing)) == 1  # named once
    m = SUMMARY.match(out.strip().splitlines()[-1])
    assert m and m.groups()[:5] == ("0", "0", "5", "0", "1")


def test_sources_json_lists_the_five_seeds(cli) -> None:
    rc, out, _ = cli("sources", "--json")
    assert rc == 0
    sources = json.loads(out)
    assert [s["doc_id"] for s in sources] == SEED_IDS
    for s in sources:
        assert {"doc_id", "title", "outlet", "author", "date", "chunks"} <= set(s)
        assert isinstance(s["chunks"], int) and s["chunks"] > 0
    first = sources[0]
    assert (first["title"], first["author"], first["date"]) == (
        "How sanctions are backfiring to fuel a new Eurasian alliance", "Jung E-gil", "2024-06-25")
    assert (sources[1]["author"], sources[1]["outlet"]) == ("T. Jayani", "JadeTimes News")


def test_sources_table(cli) -> None:
    rc, out, _ = cli("sources")
    assert rc == 0
    lines = out.strip().splitlines()
    assert lines[0].split()[:3] == ["id", "date", "chunks"]
    assert lines[-1] == "5 documents"
    assert any(line.startswith(D000) and "2024-06-25" in line and "Jung E-gil" in line for line in lines)


# --- ask -----------------------------------------------------------------------------------------


def test_ask_prints_the_answer_and_its_sources(cli) -> None:
    rc, out, err = cli("ask", Q_ARTICLE4)
    assert rc == 0, err
    answer, _, sources = out.partition("\nSources:\n")
    assert "Article 4" in answer and "[1]" in answer
    assert sources, out
    entries = re.findall(r"^  \[(\d+)\] (.+) \((\S+)\)\n      “(.+)”$", sources, re.M)
    assert entries, sources
    cited = {doc_id: quote for _, _, doc_id, quote in entries}
    assert D000 in cited
    assert "Article 4" in cited[D000]
    assert cited[D000] in rag.get_engine().document(D000).text  # the quote is verbatim


def test_ask_json(cli) -> None:
    rc, out, err = cli("ask", "--json", Q_ARTICLE4)
    assert rc == 0, err
    data = json.loads(out)
    assert {"text", "citations", "abstained", "standalone_question", "timings", "mode"} <= set(data)
    assert "context" not in data
    assert data["abstained"] is False and data["mode"] == "extractive"
    assert "Article 4" in data["text"]
    assert data["standalone_question"] == Q_ARTICLE4
    assert D000 in {c["doc_id"] for c in data["citations"]}
    assert all(c["quote"] and c["end"] > c["start"] for c in data["citations"])
    assert data["timings"]["total"] > 0


def test_ask_in_a_real_process(indexed) -> None:
    done = _rag("ask", Q_ARTICLE4, data=indexed.data)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Article 4" in done.stdout and "\nSources:\n" in done.stdout and f"({D000})" in done.stdout
    assert "Traceback" not in done.stderr


def test_ask_empty_question_is_a_readable_error(tmp_path: Path) -> None:
    done = _rag("ask", "", data=tmp_path / "data")
    assert done.returncode == 1
    assert done.stderr.startswith("Error: ") and "empty" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert done.stdout == ""


def test_ask_overlong_question_is_a_readable_error(tmp_path: Path) -> None:
    question = ("Why " + "x" * 19_995) + "?"
    assert len(question) == 20_000
    done = _rag("ask", question, data=tmp_path / "data")
    assert done.returncode == 1
    assert done.stderr.startswith("Error: ") and "20,000 characters" in done.stderr and "limit" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert len(done.stderr) < 1000  # the question is not echoed back


def _empty_index(tmp_path: Path, embedder, monkeypatch) -> None:
    monkeypatch.setenv("RAG_DATA_DIR", str(tmp_path / "empty"))
    _engine_at(tmp_path / "empty", embedder)


def test_ask_on_an_empty_index_says_so(tmp_path: Path, embedder, monkeypatch, capsys) -> None:
    _empty_index(tmp_path, embedder, monkeypatch)
    rc = main(["ask", Q_ARTICLE4])
    out, err = capsys.readouterr()
    assert rc == 0 and "Traceback" not in err
    assert "The index is empty" in out and "rag ingest" in out
    assert "Sources:" not in out

    rc = main(["sources"])
    assert rc == 0 and "The index is empty" in capsys.readouterr().out


def test_ask_on_an_empty_index_says_so_once(tmp_path: Path, embedder, monkeypatch, capsys) -> None:
    _empty_index(tmp_path, embedder, monkeypatch)
    main(["ask", Q_ARTICLE4])
    out = capsys.readouterr().out
    assert out.count("The index is empty") == 1, out
