"""The API key never shows up: CLI output, eval reports, the UI page and config, DEBUG logs, answers and errors."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.engine import Engine
from rag.errors import RagError
from rag.providers import LocalEmbedder, build_embedder, build_llm
from rag.settings import Settings

SECRET = "sk-FAKE-SECRET-7f3a9c"
ROOT = Path(__file__).resolve().parents[1]
RAG = Path(sys.executable).parent / "rag"
QUESTION = "Which article of the Russia–North Korea agreement commits the two sides to military assistance?"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when the block ends: connections are refused


def assert_clean(what: str, text: str) -> None:
    assert SECRET not in text, f"the API key leaked into {what}"
    assert SECRET[3:] not in text, f"part of the API key leaked into {what}"


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    return LocalEmbedder()


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory, embedder: LocalEmbedder, seeds_dir: Path) -> Path:
    data = tmp_path_factory.mktemp("secrets")
    Engine(Settings(data_dir=data, llm="none"), embedder=embedder).ingest([seeds_dir])
    return data


@pytest.fixture
def secret_env(seeded: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """The key set, RAG_LLM=openai at a closed loopback port, no UI login; also returned as a subprocess env."""
    env = {"OPENAI_API_KEY": SECRET, "RAG_LLM": "openai", "RAG_LLM_BASE_URL": f"http://127.0.0.1:{closed_port()}/v1",
           "RAG_DATA_DIR": str(seeded), "RAG_LLM_TIMEOUT_S": "5", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "ANONYMIZED_TELEMETRY": "False", "TOKENIZERS_PARALLELISM": "false"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("RAG_UI_AUTH", raising=False)
    full = {k: v for k, v in os.environ.items() if k != "RAG_UI_AUTH"}
    yield {**full, **env, "PYTHONPATH": str(ROOT)}


def run_cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(RAG), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300)


def test_settings_never_show_the_key(secret_env: dict[str, str]) -> None:
    settings = Settings()
    assert settings.openai_api_key is not None and settings.openai_api_key.get_secret_value() == SECRET
    assert_clean("repr(Settings())", repr(settings))
    assert_clean("str(Settings())", str(settings))
    assert_clean("Settings().model_dump_json()", settings.model_dump_json())
    assert_clean("Settings().model_dump()", str(settings.model_dump()))


def test_cli_ask_and_eval_never_print_or_write_the_key(secret_env: dict[str, str], tmp_path: Path) -> None:
    cwd = tmp_path / "cwd"  # no .env here
    cwd.mkdir()
    ask = run_cli(["ask", QUESTION], secret_env, cwd)
    assert ask.returncode == 0, ask.stderr[-2000:]
    assert "Article 4" in ask.stdout and "could not be reached" in ask.stdout  # the extractive fallback, explained
    assert_clean("`rag ask` stdout", ask.stdout)
    assert_clean("`rag ask` stderr", ask.stderr)
    ask_json = run_cli(["ask", "--json", QUESTION], secret_env, cwd)
    assert ask_json.returncode == 0 and json.loads(ask_json.stdout)["notice"]
    assert_clean("`rag ask --json`", ask_json.stdout + ask_json.stderr)

    report, out = tmp_path / "report", tmp_path / "eval.json"
    ev = run_cli(["eval", str(ROOT / "eval" / "questions" / "seeds.jsonl"), "--limit", "5", "--report", str(report),
                  "--json", str(out)], secret_env, cwd)
    assert ev.returncode in (0, 1), ev.stderr[-2000:]
    assert out.is_file() and (report / "report.md").is_file()
    assert_clean("`rag eval` stdout", ev.stdout)
    assert_clean("`rag eval` stderr", ev.stderr)
    for f in [out, *report.rglob("*")]:
        if f.is_file():
            assert_clean(str(f), f.read_bytes().decode("utf-8", errors="replace"))


def test_ui_page_and_config_never_carry_the_key(secret_env: dict[str, str], embedder: LocalEmbedder) -> None:
    from gradio_client import Client

    from ui.app import build_app, serve

    engine = Engine(Settings(), embedder=embedder)
    assert engine.settings.llm == "openai" and engine.settings.ui_auth is None
    app = build_app(engine)
    port = closed_port()
    serve(app, "127.0.0.1", port, upload_max_mb=engine.settings.upload_max_mb)
    try:
        base = f"http://127.0.0.1:{port}"
        for path in ("/", "/config", "/gradio_api/info"):
            with urllib.request.urlopen(base + path, timeout=30) as resp:  # noqa: S310 - loopback
                assert resp.status == 200
                assert_clean(f"GET {path}", resp.read().decode("utf-8", errors="replace"))
        client = Client(base + "/", verbose=False)
        chat, _ = client.predict(QUESTION, api_name="/chat")
        assert_clean("the chat answer", json.dumps(chat))
        assert "could not be reached" in json.dumps(chat)
        client.close()
    finally:
        app.close()


def test_debug_logs_answers_and_errors_never_carry_the_key(secret_env: dict[str, str], embedder: LocalEmbedder,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("openai", "httpx", "httpcore", "llama_index", "urllib3", "rag", "ui"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    settings = Settings()
    engine = Engine(settings, embedder=embedder)
    answer = engine.answer(QUESTION)
    assert answer.mode == "extractive" and "could not be reached" in answer.notice
    produced = [answer.model_dump_json(), repr(answer), answer.notice]
    streamed = list(engine.stream_answer("How many agreements did Putin and To Lam sign in Hanoi?"))
    produced += [str(item) for item in streamed]

    errors: list[BaseException] = []
    llm = build_llm(settings)
    assert llm is not None
    try:
        list(llm.stream([{"role": "user", "content": "hi"}], 16))
    except RagError as exc:
        errors.append(exc)
    embed_settings = Settings(embed_backend="openai", embed_model="text-embedding-3-small")
    try:
        build_embedder(embed_settings).embed(["hello"])
    except RagError as exc:
        errors.append(exc)
    assert len(errors) == 2
    for exc in errors:
        chain: BaseException | None = exc
        while chain is not None:
            produced += [str(chain), repr(chain)]
            chain = chain.__cause__ or chain.__context__

    logged = [caplog.text]
    for record in caplog.records:
        logged += [record.getMessage(), repr(record.args), str(record.__dict__)]
    assert caplog.records, "DEBUG logging captured nothing"
    for i, text in enumerate(produced):
        assert_clean(f"answer/error output #{i}", text)
    for i, text in enumerate(logged):
        assert_clean(f"log record #{i}", text)
