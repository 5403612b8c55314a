"""Retrieval-augmented Q&A over news articles, with citations checked in code.

    from rag import answer
    a = answer("Which article of the Russia–North Korea agreement commits the two sides to military assistance?")
    print(a.text)
    for c in a.citations:
        print(c.n, c.doc_id, c.quote)
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from rag.engine import Engine
from rag.errors import ConfigError, EmbeddingMismatch, IndexUnavailable, InputError, LLMError, RagError
from rag.settings import Settings
from rag.types import Answer, Citation, Document, IngestReport, Passage, SentenceCheck, SourceInfo

__all__ = [
    "Answer", "Citation", "ConfigError", "Document", "EmbeddingMismatch", "Engine", "IndexUnavailable",
    "IngestReport", "InputError", "LLMError", "Passage", "RagError", "SentenceCheck", "Settings", "SourceInfo",
    "answer", "get_engine", "ingest", "stream_answer",
]

_engine: Engine | None = None
_engine_lock = threading.Lock()


def get_engine() -> Engine:
    """The process-wide engine built from Settings() (environment and .env)."""
    global _engine
    with _engine_lock:
        if _engine is None:
            _engine = Engine(Settings())
        return _engine


def answer(question: str, history: list[dict[str, str]] | None = None, **options: Any) -> Answer:
    """Answer a question from the indexed articles. ``history`` is OpenAI-style messages."""
    return get_engine().answer(question, history, **options)


def stream_answer(question: str, history: list[dict[str, str]] | None = None, **options: Any) -> Iterator[str | Answer]:
    """Yield text deltas, then the final Answer."""
    return get_engine().stream_answer(question, history, **options)


def ingest(paths: Sequence[Path | str], **options: Any) -> IngestReport:
    """Index files and folders (incremental; see Engine.ingest)."""
    return get_engine().ingest(paths, **options)
