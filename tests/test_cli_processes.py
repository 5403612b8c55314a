"""Real `rag` processes: `rag remove` (asking on a terminal, --yes for scripts), a busy UI port, a closed pipe."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from rag import Engine, Settings
from rag.providers import LocalEmbedder

ROOT = Path(__file__).resolve().parents[1]
RAG = Path(sys.executable).with_name("rag")
ARTICLES = {
    "kelp.txt": "Kelp farm opens off Orkney\n\nBy Ana Ruiz\n2025-02-03\n\nA kelp farm opened off Orkney on Monday, "
                "the first in the islands. It will harvest 300 tonnes of kelp a year.\n\n“We expect to double the "
                "harvest by 2027,” said Ana Ruiz, who runs the farm.\n",
    "tram.txt": "Tram line approved in Lund\n\nBy Per Holm\n2025-04-09\n\nThe council of Lund approved a second "
                "tram line on Tuesday. Construction starts in 2026 and costs 1.2 billion kronor.\n",
}
UPLOAD = ("Harbour crane toppled in storm\n\nBy Lea Moss\n2025-01-20\n\nA harbour crane in Esbjerg toppled during "
          "Sunday's storm. Nobody was hurt, the port authority said.\n")


def _env(data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env["RAG_DATA_DIR"] = str(data)
    return env


def _rag(*args: str, data: Path, timeout: float = 300, **kw) -> subprocess.CompletedProcess[str]:
    """A real `rag` process (stdin is not a terminal unless ``stdin`` says otherwise)."""
    kw.setdefault("stdin", subprocess.DEVNULL)
    return subprocess.run([str(RAG), *args], cwd=ROOT, env=_env(data), capture_output=True, text=True,
                          timeout=timeout, **kw)


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    return LocalEmbedder()


@pytest.fixture
def indexed(tmp_path: Path, embedder: LocalEmbedder) -> Iterator[SimpleNamespace]:
    """Two articles from a folder and one upload stored under the data dir's uploads/, indexed in-process."""
    data, folder = tmp_path / "data", tmp_path / "articles"
    folder.mkdir()
    for name, text in ARTICLES.items():
        (folder / name).write_text(text, encoding="utf-8")
    upload = data / "uploads" / "harbour.txt"
    upload.parent.mkdir(parents=True)
    upload.write_text(UPLOAD, encoding="utf-8")
    engine = Engine(Settings(data_dir=data, llm="none"), embedder=embedder)
    engine.ingest([folder])
    engine.ingest([upload])
    assert [s.doc_id for s in engine.sources()] == ["harbour", "kelp", "tram"]
    yield SimpleNamespace(data=data, engine=engine, upload=upload)


def _ids(engine: Engine) -> list[str]:
    engine.refresh(force=True)  # picks up the other process's removal
    return [s.doc_id for s in engine.sources()]


# --- rag remove ----------------------------------------------------------------------------------


def test_remove_with_yes_removes_the_documents_and_the_uploads_stored_file(indexed: SimpleNamespace) -> None:
    done = _rag("remove", "kelp", "harbour", "--yes", data=indexed.data)
    assert done.returncode == 0, done.stderr
    assert "removed kelp" in done.stdout and f"removed harbour and its uploaded file {indexed.upload}" in done.stdout
    assert done.stdout.strip().endswith("2 documents removed.")
    assert _ids(indexed.engine) == ["tram"]
    assert not indexed.upload.exists()  # the only stored copy of the upload is gone with it


def test_remove_of_an_unknown_id_names_it_and_removes_nothing(indexed: SimpleNamespace) -> None:
    done = _rag("remove", "kelp", "nosuchdoc", "--yes", data=indexed.data)
    assert done.returncode == 1
    assert done.stderr.startswith("Error: No indexed document has the id 'nosuchdoc'") and "rag sources" in done.stderr
    assert "Traceback" not in done.stderr
    assert _ids(indexed.engine) == ["harbour", "kelp", "tram"]


def test_remove_without_a_terminal_or_yes_removes_nothing_and_says_to_add_yes(indexed: SimpleNamespace) -> None:
    done = _rag("remove", "kelp", data=indexed.data)
    assert done.returncode == 2
    assert "nothing was removed" in done.stderr and "--yes" in done.stderr
    assert _ids(indexed.engine) == ["harbour", "kelp", "tram"]


def _on_a_terminal(reply: str, data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`rag ARGS` with a pseudo-terminal as stdin, answering ``reply`` to its question."""
    main, replica = os.openpty()
    try:
        os.write(main, reply.encode() + b"\n")  # waits in the terminal until the prompt reads it
        return _rag(*args, data=data, stdin=replica)
    finally:
        os.close(replica)
        os.close(main)


def test_remove_on_a_terminal_asks_and_removes_only_after_yes(indexed: SimpleNamespace) -> None:
    declined = _on_a_terminal("n", indexed.data, "remove", "tram")
    assert declined.returncode == 1
    assert "Remove 1 document from the index? This cannot be undone." in declined.stdout
    assert "tram  Tram line approved in Lund" in declined.stdout and "Nothing was removed." in declined.stdout
    assert _ids(indexed.engine) == ["harbour", "kelp", "tram"]

    accepted = _on_a_terminal("y", indexed.data, "remove", "tram")
    assert accepted.returncode == 0, accepted.stderr
    assert "removed tram" in accepted.stdout and "1 document removed." in accepted.stdout
    assert _ids(indexed.engine) == ["harbour", "kelp"]


# --- what `rag` prints ---------------------------------------------------------------------------------


def test_one_chunk_and_one_document_are_singular(tmp_path: Path) -> None:
    article = tmp_path / "tram.txt"
    article.write_text(ARTICLES["tram.txt"], encoding="utf-8")
    done = _rag("ingest", str(article), data=tmp_path / "data")
    assert done.returncode == 0, done.stderr
    assert re.match(r"1 added, 0 updated, 0 unchanged, 0 removed, 0 skipped; 1 chunk written in [\d.]+s$",
                    done.stdout.strip().splitlines()[-1]), done.stdout
    listed = _rag("sources", data=tmp_path / "data")
    assert listed.stdout.strip().splitlines()[-1] == "1 document"


def test_a_quote_that_opens_with_a_quotation_mark_is_not_given_a_second_one(indexed: SimpleNamespace) -> None:
    done = _rag("ask", "By when does the kelp farm expect to double the harvest?", data=indexed.data)
    assert done.returncode == 0, done.stderr
    quotes = [ln.strip() for ln in done.stdout.partition("\nSources:\n")[2].splitlines() if ln.startswith("      ")]
    assert "“We expect to double the harvest by 2027,” said Ana Ruiz, who runs the farm." in quotes, done.stdout
    assert "““" not in done.stdout


# --- output to a closed pipe -------------------------------------------------------------------------


@pytest.mark.parametrize("args", [("sources",), ("ask", "Where did the kelp farm open?")])
def test_output_to_a_closed_pipe_ends_quietly(indexed: SimpleNamespace, args: tuple[str, ...]) -> None:
    """`rag … | head -1`: the reader is gone before the command writes (here, before it even starts writing)."""
    proc = subprocess.Popen([str(RAG), *args], cwd=ROOT, env=_env(indexed.data), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == 141  # as a command killed by SIGPIPE
    assert err == "", err  # no traceback, no "Exception ignored … BrokenPipeError"


# --- rag ui on a busy port -------------------------------------------------------------------------


def test_ui_on_a_busy_port_names_it_before_indexing_anything(tmp_path: Path) -> None:
    data = tmp_path / "data"  # empty: a start would index the seeds first
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = _rag("ui", "--port", str(port), data=data, timeout=120)
    assert done.returncode == 1
    assert f"port {port} on 127.0.0.1 is already in use" in done.stderr
    assert f"rag ui --port {port + 1}" in done.stderr and "RAG_UI_PORT" in done.stderr
    assert "Traceback" not in done.stderr and "seed" not in done.stdout
    assert not (data / "chroma").exists()  # nothing was indexed
