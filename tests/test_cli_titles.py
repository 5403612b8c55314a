"""Every document has a human title in the CLI: the headline, else its first sentence, never its raw id."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import rag
from rag import Engine, Settings
from rag_cli import main

SEEDS = Path(__file__).resolve().parents[1] / "seeds"
SEED_IDS = sorted(p.stem for p in SEEDS.glob("*.txt"))
Q_VISITS = "Which two countries did Putin visit on his Asia tour?"


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("titles") / "data"
    Engine(Settings(data_dir=data)).ingest([SEEDS])
    return data


@pytest.fixture
def cli(data: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    monkeypatch.setenv("RAG_DATA_DIR", str(data))
    rag._engine = None
    capsys.readouterr()

    def run(*args: str) -> str:
        assert main(list(args)) == 0
        return capsys.readouterr().out

    yield run
    rag._engine = None


def test_sources_give_every_seed_a_title_from_its_headline_or_first_sentence(cli) -> None:
    titles = {s["doc_id"]: s["title"] for s in json.loads(cli("sources", "--json"))}
    assert set(titles) == set(SEED_IDS)
    assert titles["001_a814372e879cbbb1"].startswith("The recent defense agreement between Russia and North Korea")
    assert titles["002_fa3c26d2fc650530"].startswith("The visits of Russian President Vladimir Putin")
    assert titles["003_fa08e01e01db0d3e"].startswith("The economic and political backing of China")
    table = cli("sources").splitlines()[1:-1]
    assert len(table) == len(SEED_IDS)
    for line in table:
        doc_id = line.split()[0]
        assert titles[doc_id][:40] in line and line.count(doc_id) == 1


def test_ask_names_each_cited_source_by_its_title_not_its_id(cli) -> None:
    out = cli("ask", Q_VISITS)
    entries = re.findall(r"^  \[\d+\] (.+) \((\S+)\)$", out.partition("\nSources:\n")[2], re.M)
    assert entries, out
    for head, doc_id in entries:
        assert doc_id not in head and not head.startswith(doc_id[:3] + "_")
