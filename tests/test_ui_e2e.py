"""The real app on a local port, driven through gradio_client: cited answers, follow-ups, abstention, start-up guard."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gradio_client import Client, handle_file

from rag.engine import Engine
from rag.settings import Settings
from tests.servers import launched_app
from ui.app import is_loopback, launch

pytestmark = pytest.mark.slow

SEEDS = Path(__file__).resolve().parents[1] / "seeds"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Engine]]:
    engine = Engine(Settings(data_dir=tmp_path_factory.mktemp("rag"), llm="none"))
    engine.ingest([SEEDS])
    with launched_app(engine) as address:
        yield address, engine


@pytest.fixture
def client(server: tuple[str, Engine]) -> Client:
    return Client(server[0], verbose=False)  # a new session: an empty chat


def _text(message: dict[str, Any]) -> str:
    content = message["content"]
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content)


def ask(client: Client, question: str) -> tuple[list[dict[str, Any]], str]:
    chat, box = client.predict(question, api_name="/chat")
    assert box == ""
    return chat, _text(chat[-1])


def cited_docs(html: str) -> list[str]:
    return re.findall(r'class="rag-src" data-doc="([^"]+)"', html)


def answer_part(html: str) -> str:
    return html.split('<div class="rag-sources">')[0]


def test_seed_question_cites_the_article(client: Client) -> None:
    chat, html = ask(client, "Which article of the Russia–North Korea agreement commits the two sides to military "
                             "assistance?")
    assert [m["role"] for m in chat] == ["user", "assistant"]
    assert "000_47bab1ff1479f7a2" in cited_docs(html)
    assert "Article 4" in answer_part(html)
    assert 'href="#t1-src-1"' in html and "<mark>" in html and "How sanctions are backfiring" in html


def test_follow_up_uses_the_history(client: Client) -> None:
    _, first = ask(client, "Who did Putin meet in Hanoi?")
    assert cited_docs(first)
    chat, html = ask(client, "How many agreements did they sign?")
    assert len(chat) == 4  # both turns shown
    assert re.search(r"\b11\b", answer_part(html)), answer_part(html)
    assert 'id="t2-src-1"' in html  # ids stay unique across the answers of one chat


def test_unanswerable_question_is_abstained(client: Client) -> None:
    _, html = ask(client, "How many goals did Vietnam score in the 2024 AFF Championship final?")
    assert 'class="rag-abstain"' in html and "Not in the articles" in html


def test_errors_are_readable_messages(client: Client) -> None:
    _, html = ask(client, "Why? " * 600)  # over the question length limit
    assert 'class="rag-error"' in html and "limit" in html
    assert "Traceback" not in html
    chat, _ = client.predict("   ", api_name="/chat")  # an empty question is ignored
    assert len(chat) == 2


def test_retry_and_clear(client: Client) -> None:
    ask(client, "What share of Vietnam's arms come from Russia?")
    chat, _ = client.predict(api_name="/retry")
    assert len(chat) == 2 and "80%" in answer_part(_text(chat[-1]))
    chat, _ = client.predict(api_name="/clear")
    assert chat == []


def test_sources_document_and_upload_validation(client: Client, tmp_path: Path) -> None:
    table, _ = client.predict(api_name="/sources")
    ids = [row[0] for row in table["data"]]
    assert {p.stem for p in SEEDS.glob("*.txt")} <= set(ids)
    html = client.predict("000_47bab1ff1479f7a2", api_name="/document")
    assert "How sanctions are backfiring to fuel a new Eurasian alliance" in html and "Article 4" in html
    html = client.predict("no_such_doc", api_name="/document")
    assert "No indexed document" in html
    bad = tmp_path / "notes.exe"
    bad.write_text("not an article")
    try:
        status, *_ = client.predict([handle_file(str(bad))], api_name="/upload")
    except Exception as exc:  # gradio may refuse the type before the handler runs
        assert "type" in str(exc).lower()
    else:
        assert "not accepted" in status


def test_upload_of_an_ordinary_file_name_ask_and_remove_after_confirming(
        client: Client, server: tuple[str, Engine], tmp_path: Path) -> None:
    engine = server[1]
    article = tmp_path / "Zorvian accord (final).txt"  # spaces and parentheses: stored under a safe name
    article.write_text("Zorvian lithium accord signed in Tallinn\n\nBy Mara Kask\n2025-03-04\n\n"
                       "The Zorvian lithium accord was signed in Tallinn on 3 March 2025 by the trade ministers "
                       "of Zorvia and Estonia.\n\nOfficials said the refinery would open in 2027.\n", encoding="utf-8")
    status, table, _, _ = client.predict([handle_file(str(article))], api_name="/upload")
    assert "Indexed 1 document: “Zorvian lithium accord signed in Tallinn”" in status
    assert "Received Zorvian accord (final).txt, stored as <code>Zorvian_accord_final.txt</code>" in status
    stored = Path(engine.settings.data_dir) / "uploads" / "Zorvian_accord_final.txt"
    assert stored.is_file()
    (doc_id,) = [row[0] for row in table["data"] if row[1] == "Zorvian lithium accord signed in Tallinn"]
    _, html = ask(client, "Where was the Zorvian lithium accord signed?")
    assert doc_id in cited_docs(html) and "Tallinn" in answer_part(html)

    status, table, _ = client.predict(doc_id, api_name="/confirm_remove")  # no first click: nothing happens
    assert "Nothing was removed" in status and doc_id in [row[0] for row in table["data"]]
    status = client.predict(doc_id, api_name="/remove")  # the first click only asks
    assert "Zorvian lithium accord signed in Tallinn" in status and "cannot be undone" in status
    assert doc_id in [s.doc_id for s in engine.sources()] and stored.exists()
    status, table, _ = client.predict(doc_id, api_name="/confirm_remove")
    assert f"Removed “Zorvian lithium accord signed in Tallinn” ({doc_id})" in status
    assert doc_id not in [row[0] for row in table["data"]] and not stored.exists()


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("localhost", True),
    ("0.0.0.0", False), ("192.168.1.5", False), ("::", False), ("example.com", False),
])
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_launch_refuses_public_host_without_auth(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("RAG_UI_AUTH", raising=False)
    monkeypatch.chdir(tmp_path)  # no .env
    assert launch(host="0.0.0.0") == 2
    err = capsys.readouterr().err
    assert "Refusing to start" in err and "RAG_UI_AUTH=user:password" in err


def test_launch_rejects_malformed_auth(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("RAG_UI_AUTH", "no-colon")
    monkeypatch.chdir(tmp_path)
    assert launch(host="0.0.0.0") == 2
    assert "user:password" in capsys.readouterr().err
