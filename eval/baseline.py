"""A plain llama-index baseline (1024/200 sentence chunks, top-2 dense retrieval) feeding our extractive synthesizer."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from llama_index.core import Document as LIDocument
from llama_index.core import VectorStoreIndex
from llama_index.core.embeddings import BaseEmbedding
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.schema import NodeWithScore
from pydantic import PrivateAttr

from rag.engine import Engine
from rag.providers import Embedder
from rag.types import Answer, Chunk, DocMeta, Document, Passage

CHUNK_SIZE, CHUNK_OVERLAP, TOP_K = 1024, 200, 2
SETTINGS: dict[str, Any] = {
    "pipeline": "llama-index VectorStoreIndex (SimpleVectorStore), defaults",
    "splitter": f"SentenceSplitter(chunk_size={CHUNK_SIZE}, chunk_overlap={CHUNK_OVERLAP})",
    "retriever": f"as_retriever(similarity_top_k={TOP_K})",
    "condensing": "none (raw question, history ignored)",
    "synthesizer": "Engine.answer_from_passages (the same extractive synthesizer)",
}


class EngineEmbedding(BaseEmbedding):
    """Adapter giving llama-index the engine's own embedder (same model, same vectors); not a new client."""

    _embedder: Any = PrivateAttr()

    def __init__(self, embedder: Embedder, **kwargs: Any) -> None:
        super().__init__(model_name=embedder.name, embed_batch_size=64, **kwargs)
        self._embedder = embedder

    @classmethod
    def class_name(cls) -> str:
        return "EngineEmbedding"

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._embedder.embed([query])[0].tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._embedder.embed([text])[0].tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._embedder.embed(list(texts)).tolist()


class Baseline:
    """Index the engine's cleaned documents with llama-index and answer with the engine's synthesizer."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.docs: dict[str, Document] = {s.doc_id: engine.document(s.doc_id) for s in engine.sources()}
        splitter = SentenceSplitter(chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP)
        li_docs = [LIDocument(text=d.text, id_=doc_id) for doc_id, d in self.docs.items()]
        nodes = splitter.get_nodes_from_documents(li_docs)
        self.n_nodes = len(nodes)
        self.index = VectorStoreIndex(nodes, embed_model=EngineEmbedding(engine.embedder), show_progress=False)
        self.retriever = self.index.as_retriever(similarity_top_k=TOP_K)

    def retrieve(self, question: str) -> list[Passage]:
        """The top-2 nodes as Passages, in retrieval order."""
        return self.to_passages(self.retriever.retrieve(question))

    def to_passages(self, hits: Sequence[NodeWithScore]) -> list[Passage]:
        passages: list[Passage] = []
        for i, hit in enumerate(hits):
            node = hit.node
            doc_id = node.ref_doc_id or ""
            doc = self.docs.get(doc_id)
            text = node.get_content()
            start, end = node.start_char_idx, node.end_char_idx
            if start is None or end is None:  # offsets unknown: locate the chunk in the document
                start = doc.text.find(text) if doc else -1
                start, end = (start, start + len(text)) if start >= 0 else (0, len(text))
            chunk = Chunk(chunk_id=f"base:{doc_id}:{i}", doc_id=doc_id, position=i, start=start, end=end, text=text)
            passages.append(Passage(chunk=chunk, meta=doc.meta if doc else DocMeta(), source=doc.source if doc else "",
                                    score=float(hit.score or 0.0), dense_rank=i + 1))
        return passages

    def answer(self, question: str) -> Answer:
        """Retrieve with the raw question (no condensing) and synthesize with the engine's extractive synthesizer."""
        t0 = time.perf_counter()
        passages = self.retrieve(question)
        t1 = time.perf_counter()
        answer = self.engine.answer_from_passages(question, passages)
        t2 = time.perf_counter()
        answer.context, answer.context_tokens = passages, _count(passages)
        answer.timings = {"retrieve": _ms(t1 - t0), "synthesize": _ms(t2 - t1), "total": _ms(t2 - t0)}
        return answer


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def _count(passages: Sequence[Passage]) -> int:
    from rag.tokens import count_tokens

    return sum(count_tokens(p.chunk.text) for p in passages)
