"""Shared fixtures: every test gets its own data directory; real servers come from tests/servers.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import rag

pytest_plugins = ["tests.servers"]
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def isolated_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point RAG_DATA_DIR at a temporary folder and forget any cached engine around each test."""
    data = tmp_path / "rag-data"
    monkeypatch.setenv("RAG_DATA_DIR", str(data))
    for var in ("RAG_LLM", "RAG_CHROMA_HOST", "OPENAI_API_KEY", "RAG_UI_AUTH"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    rag._engine = None
    yield data
    rag._engine = None


@pytest.fixture(scope="session")
def seeds_dir() -> Path:
    """The five seed articles shipped with the project."""
    return ROOT / "seeds"
