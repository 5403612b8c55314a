"""The launched app through gradio_client: uploads that share a name, Gradio's temporary copies, filters and an
overlong question. Every upload's only stored copy is under the data dir's uploads/."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from gradio_client import Client, handle_file

from rag.engine import Engine
from rag.settings import Settings
from tests.servers import launched_app

pytestmark = pytest.mark.slow

DATED = ("Zorvian lithium accord signed in Tallinn\n\nBy Mara Kask, Baltic Ledger\n2025-03-04\n\nThe Zorvian lithium "
         "accord was signed in Tallinn on 3 March 2025 by the trade ministers of Zorvia and Estonia.\n")
UNDATED = ("Kelp farm opens off Orkney\n\nA kelp farm opened off Orkney, the first in the islands. It will harvest "
           "300 tonnes of kelp a year, its owner said.\n")
FIRST = "Harbour crane toppled in Esbjerg\n\nA harbour crane in Esbjerg toppled during Sunday's storm.\n"
SECOND = "Ferry service resumes to Fanø\n\nThe ferry service to Fanø resumed on Monday after the storm.\n"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    """The app on a free port, its data dir holding one dated and one undated article; Gradio's upload folder is
    a temporary folder of its own, so the test can see what Gradio keeps."""
    root = tmp_path_factory.mktemp("ui-inputs")
    articles = root / "articles"
    articles.mkdir()
    (articles / "zorvia.txt").write_text(DATED, encoding="utf-8")
    (articles / "kelp.txt").write_text(UNDATED, encoding="utf-8")
    gradio_tmp = root / "gradio"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GRADIO_TEMP_DIR", str(gradio_tmp))
        engine = Engine(Settings(data_dir=root / "data", llm="none"))
        engine.ingest([articles])
        with launched_app(engine) as address:
            yield SimpleNamespace(url=address, engine=engine, gradio_tmp=gradio_tmp, uploads=engine.uploads_dir)


@pytest.fixture
def client(app: SimpleNamespace) -> Client:
    return Client(app.url, verbose=False)


def _text(message: dict[str, Any]) -> str:
    content = message["content"]
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content)


def _gradio_copies(app: SimpleNamespace, name: str) -> list[Path]:
    return [p for p in app.gradio_tmp.rglob(name) if p.is_file()]


def _upload(client: Client, tmp_path: Path, name: str, text: str) -> tuple[str, list[str]]:
    path = tmp_path / f"{hashlib.sha1(text.encode()).hexdigest()[:6]}" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    status, table, _, _ = client.predict([handle_file(str(path))], api_name="/upload")
    return status, [row[0] for row in table["data"]]


def test_an_upload_whose_name_is_taken_becomes_a_second_document_and_the_status_says_so(
        client: Client, app: SimpleNamespace, tmp_path: Path) -> None:
    status, ids = _upload(client, tmp_path, "storm.txt", FIRST)
    assert "Indexed 1 document: “Harbour crane toppled in Esbjerg” (<code>storm</code>)" in status
    assert _gradio_copies(app, "storm.txt") == []  # Gradio's temporary copy is gone once indexed

    status, ids = _upload(client, tmp_path, "storm.txt", SECOND)  # the same name, another article
    second = f"storm~{hashlib.sha1(SECOND.encode()).hexdigest()[:8]}"
    assert (f"storm.txt: a different file of that name was uploaded before (document storm), so this one is a "
            f"second document, {second}; the first is unchanged.") in status
    assert f"Indexed 1 document: “Ferry service resumes to Fanø” (<code>{second}</code>)" in status
    assert {"storm", second} <= set(ids)
    assert "Harbour crane" in app.engine.document("storm").text  # the first article is not replaced
    assert sorted(p.name for p in app.uploads.iterdir() if p.stem.startswith("storm")) == ["storm.txt",
                                                                                          f"{second}.txt"]
    assert _gradio_copies(app, "storm.txt") == []

    status, _ = _upload(client, tmp_path, "storm.txt", SECOND)  # the second one again: nothing new
    assert f"Already indexed, unchanged: <code>{second}</code>" in status

    client.predict(second, api_name="/remove")
    status, table, _ = client.predict(second, api_name="/confirm_remove")
    assert f"Removed “Ferry service resumes to Fanø” ({second})" in status
    assert not (app.uploads / f"{second}.txt").exists() and (app.uploads / "storm.txt").exists()
    assert _gradio_copies(app, "storm.txt") == [] and second not in [row[0] for row in table["data"]]


def test_a_refused_upload_leaves_no_copy_either(client: Client, app: SimpleNamespace, tmp_path: Path) -> None:
    status, _ = _upload(client, tmp_path, "empty.txt", "")
    assert "empty.txt: the file is empty." in status
    assert _gradio_copies(app, "empty.txt") == [] and not (app.uploads / "empty.txt").exists()


@pytest.mark.parametrize(("filters", "named"), [
    ({"date_from": "2024-13-45"}, "The start date &#x27;2024-13-45&#x27; is not a real date"),
    ({"date_from": "2025-04-01", "date_to": "2025-03-01"}, "The date range is reversed: it starts on 2025-04-01"),
    ({"doc_ids": ["nosuchdoc"]}, "No indexed document has the id &#x27;nosuchdoc&#x27;"),
])
def test_bad_filters_are_errors_naming_the_value(client: Client, filters: dict[str, Any], named: str) -> None:
    chat, _ = client.predict("Where was the Zorvian lithium accord signed?", api_name="/chat", **filters)
    html = _text(chat[-1])
    assert 'class="rag-error"' in html and named in html, html


def test_a_date_range_keeps_the_undated_article_and_says_so(client: Client, app: SimpleNamespace) -> None:
    chat, _ = client.predict("How much kelp will the Orkney farm harvest?", api_name="/chat",
                             date_from="2025-01-01", date_to="2025-12-31")
    html = _text(chat[-1])
    undated = sorted(s.doc_id for s in app.engine.sources() if not s.date)  # kelp, and any undated upload
    assert "kelp" in undated and "zorvia" not in undated
    assert f"searched {'has' if len(undated) == 1 else 'have'} no date ({', '.join(undated[:3])}" in html
    assert "a date range cannot place" in html
    assert 'data-doc="kelp"' in html and "300 tonnes" in html

    chat, _ = client.predict("Where was the Zorvian lithium accord signed?", api_name="/chat",
                             doc_ids=["zorvia"], date_from="2026-01-01")
    assert "No indexed article matches the filters (document zorvia; dated 2026-01-01 to now)" in _text(chat[-1])


def test_an_overlong_question_is_refused_without_being_echoed_in_full(client: Client) -> None:
    question = "Why " + "x" * 49_995 + "?"
    chat, _ = client.predict(question, api_name="/chat")
    shown, answer = _text(chat[-2]), _text(chat[-1])
    assert "50,000 characters; not shown in full" in shown and len(shown) < 1_000
    assert 'class="rag-error"' in answer and "limit" in answer
    assert re.search(r"x{200}", shown) is None
