"""Document and date filters: bad values are InputErrors naming them (API and real `rag` processes), undated
articles are kept by a date range and the answer says so, and the README's filtered example works as printed."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

import rag
from rag import Engine, InputError, Settings
from rag.answering.retrieve import Filters
from rag.providers import LocalEmbedder

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
RAG = Path(sys.executable).with_name("rag")
D000 = "000_47bab1ff1479f7a2"  # dated 2024-06-25
D004 = "004_0f3fec0a3f19dfb0"  # no date
Q_ARTICLE4 = "Which article of the Russia–North Korea agreement commits the two sides to military assistance?"


@pytest.mark.parametrize(("options", "named"), [
    ({"date_from": "2024-13-45"}, "'2024-13-45'"),
    ({"date_to": "2024-02-30"}, "'2024-02-30'"),
    ({"date_from": "last June"}, "'last June'"),
    ({"date_from": "2024-07-01", "date_to": "2024-06-01"}, "starts on 2024-07-01, after its end on 2024-06-01"),
])
def test_an_impossible_date_or_a_reversed_range_is_an_input_error_naming_it(options: dict[str, str],
                                                                             named: str) -> None:
    with pytest.raises(InputError, match=re.escape(named)):
        Filters.checked(**options)


def test_a_date_range_keeps_undated_articles_and_real_dates_pass() -> None:
    f = Filters.checked(None, "2024-06-01", "2024-06-30")
    assert (f.date_from, f.date_to) == ("2024-06-01", "2024-06-30")
    assert f.allows("a", "2024-06-25") and f.allows("b", "")
    assert not f.allows("c", "2024-07-01") and not f.allows("d", "2024-05-31")


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    e = Engine(Settings(data_dir=tmp_path_factory.mktemp("filters") / "data", llm="none"), embedder=LocalEmbedder())
    e.ingest([SEEDS])
    dates = {s.doc_id: s.date for s in e.sources()}
    assert dates[D000] == "2024-06-25" and dates[D004] == ""
    return e


def test_the_api_refuses_bad_dates_and_unknown_ids(engine: Engine) -> None:
    with pytest.raises(InputError, match="The start date '2024-13-45' is not a real date"):
        engine.answer(Q_ARTICLE4, date_from="2024-13-45")
    with pytest.raises(InputError, match="reversed"):
        engine.answer(Q_ARTICLE4, date_from="2024-07-01", date_to="2024-06-01")
    with pytest.raises(InputError, match=r"No indexed document has the id 'nosuchdoc'; `rag sources`"):
        engine.answer(Q_ARTICLE4, doc_ids=[D000, "nosuchdoc"])


def test_a_date_range_leaves_out_articles_dated_outside_it_and_says_which_undated_ones_it_kept(
        engine: Engine) -> None:
    undated = sorted(s.doc_id for s in engine.sources() if not s.date)
    assert len(undated) == 4  # four of the five seeds carry no date
    a = engine.answer(Q_ARTICLE4, date_to="2024-01-01")  # before every dated seed
    assert D000 not in {c.doc_id for c in a.citations}
    assert f"4 of the articles searched have no date ({', '.join(undated[:3])} and 1 more)" in a.notice
    assert "a date range cannot place them, so they were kept" in a.notice

    dated = engine.answer(Q_ARTICLE4, doc_ids=[D000], date_from="2024-06-01", date_to="2024-06-30")
    assert {c.doc_id for c in dated.citations} == {D000} and "no date" not in dated.notice


def test_filters_that_no_article_passes_say_so(engine: Engine) -> None:
    a = engine.answer(Q_ARTICLE4, doc_ids=[D000], date_from="2025-01-01")
    assert a.abstained and not a.citations
    assert a.text.startswith(f"No indexed article matches the filters (document {D000}; dated 2025-01-01 to now)")


def _readme_filtered_examples() -> list[str]:
    """The README's examples that filter: `rag ask … --doc/--from/--to` commands and `answer(…, doc_ids=/date_…)`."""
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    return [ln.split("  #")[0].strip() for ln in lines
            if re.match(r"\s*rag ask .*--(?:doc|from|to)\b", ln) or re.match(r"\s*answer\(.*(?:doc_ids|date_)", ln)]


def test_the_readme_filtered_examples_work_as_printed(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    examples = _readme_filtered_examples()
    assert examples, "the README shows no filtered example"
    monkeypatch.setattr(rag, "_engine", engine)  # what rag.answer() uses
    for example in examples:
        if example.startswith("rag ask"):
            done = _rag(*shlex.split(example)[1:], data=Path(engine.settings.data_dir))
            assert done.returncode == 0, (example, done.stderr)
            a = rag.Answer.model_validate_json(done.stdout) if "--json" in example else None
            assert a is not None or "Sources:" in done.stdout, (example, done.stdout)
        else:
            a = eval(example, {"answer": rag.answer})  # noqa: S307 - our own README's example
        if a is not None:
            assert not a.abstained and a.citations, (example, a.text)
            if "--from" in example or "date_" in example:  # the undated seeds were kept, and the note says so
                assert "no date" in a.notice, (example, a.notice)


def _rag(*args: str, data: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env["RAG_DATA_DIR"] = str(data)
    return subprocess.run([str(RAG), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL)


@pytest.mark.parametrize(("args", "message"), [
    (("--from", "2024-13-45"), "Error: The start date '2024-13-45' is not a real date: write it as YYYY-MM-DD"),
    (("--from", "2024-07-01", "--to", "2024-06-01"), "Error: The date range is reversed: it starts on 2024-07-01"),
    (("--doc", "nosuchdoc"), "Error: No indexed document has the id 'nosuchdoc'; `rag sources`"),
])
def test_the_cli_refuses_bad_filters_with_exit_1(engine: Engine, args: tuple[str, ...], message: str) -> None:
    done = _rag("ask", Q_ARTICLE4, *args, data=Path(engine.settings.data_dir))
    assert done.returncode == 1, done.stdout
    assert done.stderr.startswith(message), done.stderr
    assert done.stdout == "" and "Traceback" not in done.stderr
