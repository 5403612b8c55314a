"""The one place that imports chromadb: chunk and document collections, embedded or on a server."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from rag.errors import EmbeddingMismatch, IndexUnavailable, RagError
from rag.settings import Settings
from rag.types import Chunk, DocMeta

_DOC_FIELDS = ("title", "author", "outlet", "date", "source", "fingerprint", "status", "chunks", "chars", "minhash")
_GET_BATCH = 5000


def date_to_int(date: str) -> int:
    """'2024-06-25' -> 20240625; 0 when unknown. Used for date-range filters."""
    digits = date.replace("-", "")[:8]
    return int(digits) if len(digits) == 8 and digits.isdigit() else 0


class Store:
    """Chunks (with vectors) and document records in Chroma, behind llama-index's ChromaVectorStore."""

    def __init__(self, settings: Settings, *, fresh: bool = False) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        self.settings = settings
        self._where = (
            f"the Chroma server at {settings.chroma_host}:{settings.chroma_port}"
            if settings.chroma_host
            else f"the index at {settings.chroma_path}"
        )
        chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        if fresh and not settings.chroma_host:
            # That system keeps the vector index it loaded in memory: it never sees vectors another process wrote
            # since ("Error finding id"). The next client loads the index as it is on disk now. The old system is
            # not stopped: threads still answering through it finish normally, and it is freed with them.
            _forget_system(settings)
        try:
            with self.guard("open"):
                if settings.chroma_host:
                    self._client = chromadb.HttpClient(
                        host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings
                    )
                    self._client.heartbeat()
                else:
                    settings.chroma_path.mkdir(parents=True, exist_ok=True)
                    self._client = chromadb.PersistentClient(path=str(settings.chroma_path), settings=chroma_settings)
        except RagError:
            if not settings.chroma_host:  # chromadb caches a broken system per path; let the next try start fresh
                stale = _forget_system(settings)
                with contextlib.suppress(Exception):
                    stale and stale.stop()
            raise
        self._chunks: Any = None
        self._docs: Any = None
        self._sentences: Any = None
        self._vector_store: Any = None

    # --- errors ----------------------------------------------------------------
    @contextlib.contextmanager
    def guard(self, action: str) -> Iterator[None]:
        """Turn Chroma and OS failures into IndexUnavailable with a message that says what to do."""
        try:
            yield
        except RagError:
            raise
        except Exception as exc:  # chromadb raises many unrelated types; all mean the same to a user
            text = str(exc)
            if self.settings.chroma_host and ("connect" in text.lower() or "Connection" in type(exc).__name__):
                hint = (f"Start it with `chroma run --host {self.settings.chroma_host} --port {self.settings.chroma_port}`,"
                        " or unset RAG_CHROMA_HOST to use the embedded index.")
                raise IndexUnavailable(f"Could not {action}: {self._where} is not reachable. {hint}") from None
            if "readonly" in text.lower() or "read-only" in text.lower() or "permission" in text.lower():
                hint = "The directory is read-only: fix its permissions or point RAG_DATA_DIR elsewhere."
            elif ("space" in text.lower() and "disk" in text.lower()) or "No space" in text or "disk is full" in text:
                hint = "The disk is full: free some space and run the command again."
            else:
                hint = "Check that the index is reachable and writable, then try again."
            raise IndexUnavailable(f"Could not {action} {self._where} ({type(exc).__name__}: {text[:200]}). {hint}") from None

    # --- collections -------------------------------------------------------------
    def open(self, embed_name: str, embed_dim: int, *, create: bool = True) -> bool:
        """Open the collections, checking they were built with this embedding model. False if absent."""
        name = self.settings.collection
        with self.guard("open the collections of"):
            try:
                chunks = self._client.get_collection(name, embedding_function=None)
            except Exception as exc:
                if "does not exist" not in str(exc) and "NotFound" not in type(exc).__name__:
                    raise
                if not create:
                    return False
                chunks = self._client.get_or_create_collection(
                    name, metadata={"embed_model": embed_name, "embed_dim": embed_dim},
                    configuration={"hnsw": {"space": "cosine", "ef_search": 100}}, embedding_function=None,
                )
            meta = chunks.metadata or {}
            built = (meta.get("embed_model"), meta.get("embed_dim"))
            if built != (embed_name, embed_dim):
                raise EmbeddingMismatch(
                    f"{self._where} was built with the embedding model {built[0]!r} ({built[1]} dims), but "
                    f"RAG_EMBED_MODEL is {embed_name!r} ({embed_dim} dims). Vectors are never mixed: rebuild with "
                    f"`rag ingest --rebuild PATH`, or set RAG_EMBED_MODEL={built[0]} (and the matching backend)."
                )
            self._docs = self._client.get_or_create_collection(
                f"{name}__docs", metadata={"generation": "new"}, embedding_function=None
            )
            self._sentences = self._client.get_or_create_collection(
                f"{name}__sentences", metadata={"embed_model": embed_name, "embed_dim": embed_dim},
                configuration={"hnsw": {"space": "cosine"}}, embedding_function=None,
            )
        self._chunks = chunks
        self._vector_store = None  # llama-index's ChromaVectorStore, built by the first write (answering never needs it)
        return True

    def drop(self) -> None:
        """Delete both collections (for --rebuild)."""
        with self.guard("drop the collections of"):
            base = self.settings.collection
            for name in (base, f"{base}__docs", f"{base}__sentences"):
                with contextlib.suppress(Exception):
                    self._client.delete_collection(name)
        self._chunks = self._docs = self._sentences = self._vector_store = None

    @property
    def is_open(self) -> bool:
        return self._chunks is not None

    @property
    def shared(self) -> bool:
        """True for a Chroma server: every client sees every write at once, so a reload is never needed."""
        return bool(self.settings.chroma_host)

    def reopened(self) -> Store:
        """A new store on the same index that sees what other processes wrote (embedded: reloads from disk)."""
        store = Store(self.settings, fresh=True)
        if self.is_open:
            meta = self._chunks.metadata or {}
            store.open(str(meta.get("embed_model")), int(meta.get("embed_dim") or 0), create=False)
        return store

    def heartbeat(self) -> None:
        """Raise IndexUnavailable when the store cannot be reached."""
        with self.guard("reach"):
            self._client.heartbeat()

    # --- generation: a token that changes on every write, so other processes can resync -----
    def generation(self) -> str:
        with self.guard("read"):
            return str((self._client.get_collection(f"{self.settings.collection}__docs").metadata or {}).get("generation"))

    def bump_generation(self) -> None:
        with self.guard("write"):
            self._docs.modify(metadata={"generation": uuid.uuid4().hex})

    # --- chunks --------------------------------------------------------------------
    def add_chunks(self, chunks: Sequence[Chunk], vectors: np.ndarray, metas: dict[str, DocMeta], sources: dict[str, str]) -> None:
        """Write chunks with their vectors (upsert by stable chunk id)."""
        from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

        nodes = []
        for chunk, vec in zip(chunks, vectors, strict=True):
            meta = metas[chunk.doc_id]
            # The SOURCE relationship makes llama-index store doc_id/ref_doc_id = our document id; without it,
            # node_to_metadata_dict overwrites our doc_id metadata with "None".
            nodes.append(TextNode(
                id_=chunk.chunk_id, text=chunk.text, embedding=vec.tolist(),
                relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=chunk.doc_id)},
                start_char_idx=chunk.start, end_char_idx=chunk.end,
                metadata={"doc_id": chunk.doc_id, "position": chunk.position, "start": chunk.start,
                          "end": chunk.end, "tokens": chunk.size, "title": meta.title, "date": meta.date, "date_int": date_to_int(meta.date),
                          "source": sources.get(chunk.doc_id, "")},
            ))
        with self.guard("write chunks to"):
            self._chunks.delete(ids=[n.node_id for n in nodes])  # make the add an idempotent upsert
            if self._vector_store is None:
                from llama_index.vector_stores.chroma import ChromaVectorStore

                self._vector_store = ChromaVectorStore(chroma_collection=self._chunks)
            self._vector_store.add(nodes)

    def delete_doc_chunks(self, doc_ids: Sequence[str]) -> None:
        if not doc_ids:
            return
        with self.guard("delete chunks from"):
            self._chunks.delete(where={"doc_id": {"$in": list(doc_ids)}})
            self._sentences.delete(where={"doc_id": {"$in": list(doc_ids)}})

    # --- sentence vectors: what extractive answers and citation checks score with ------------
    def add_sentences(self, keys: Sequence[tuple[str, int, int]], vectors: np.ndarray) -> None:
        """Store one vector per sentence, keyed by (doc_id, start, end) in the cleaned text."""
        if not keys:
            return
        with self.guard("write sentence vectors to"):
            ids = [sentence_id(*k) for k in keys]
            self._sentences.upsert(
                ids=ids, embeddings=vectors,
                metadatas=[{"doc_id": d, "start": s, "end": e} for d, s, e in keys],
            )

    def sentence_vectors(self, keys: Sequence[tuple[str, int, int]]) -> dict[tuple[str, int, int], np.ndarray]:
        """Stored vectors of these sentences; missing ones are simply absent from the result."""
        if not keys:
            return {}
        ids = [sentence_id(*k) for k in keys]
        with self.guard("read sentence vectors from"):
            try:
                res = self._sentences.get(ids=ids, include=["embeddings", "metadatas"])
            except Exception as exc:
                if "finding id" not in str(exc):
                    raise
                # Another process wrote these sentences moments ago and this client's vector index does not hold
                # them yet (the engine reloads it at its next refresh): read the vectors it has, one id at a time;
                # the caller embeds the rest.
                res = {"metadatas": [], "embeddings": []}
                for one in ids:
                    with contextlib.suppress(Exception):
                        got = self._sentences.get(ids=[one], include=["embeddings", "metadatas"])
                        res["metadatas"] += list(got["metadatas"])
                        res["embeddings"] += list(got["embeddings"])
        return {
            (md["doc_id"], int(md["start"]), int(md["end"])): np.asarray(vec, dtype=np.float32)
            for md, vec in zip(res["metadatas"], res["embeddings"], strict=True)
        }

    def dense_query(self, vector: np.ndarray, k: int, where: dict[str, Any] | None = None) -> list[tuple[Chunk, float]]:
        """Top-k chunks by cosine similarity, straight from Chroma (no llama-index import on the question path)."""
        with self.guard("query"):  # Chroma 1.x returns fewer than k (or none) by itself: no count() round trip
            res = self._chunks.query(query_embeddings=[vector.tolist()], n_results=k, where=where or None,
                                     include=["documents", "metadatas", "distances"])
        out = []
        for cid, text, md, dist in zip(res["ids"][0], res["documents"][0], res["metadatas"][0], res["distances"][0],
                                       strict=True):
            if not md or "doc_id" not in md:  # deleted by another process since this client loaded its vector index
                continue
            chunk = _chunk(cid, text, md)
            out.append((chunk, 1.0 - float(dist)))  # cosine distance back to cosine
        return out

    def get_chunks(self, ids: Sequence[str] | None = None, where: dict[str, Any] | None = None) -> list[Chunk]:
        """Chunks by id or filter, in batches (never the whole collection at once)."""
        out: list[Chunk] = []
        with self.guard("read chunks from"):
            if ids is not None:
                for i in range(0, len(ids), _GET_BATCH):
                    res = self._chunks.get(ids=list(ids[i : i + _GET_BATCH]), include=["documents", "metadatas"])
                    out.extend(_to_chunks(res))
                return out
            offset = 0
            while True:
                res = self._chunks.get(where=where, include=["documents", "metadatas"], limit=_GET_BATCH, offset=offset)
                out.extend(_to_chunks(res))
                if len(res["ids"]) < _GET_BATCH:
                    return out
                offset += _GET_BATCH

    def count_chunks(self) -> int:
        with self.guard("count chunks in"):
            return int(self._chunks.count()) if self._chunks is not None else 0

    # --- document records ----------------------------------------------------------
    def put_docs(self, records: Sequence[dict[str, Any]], texts: Sequence[str]) -> None:
        """Upsert document records: metadata fields from _DOC_FIELDS, the cleaned text as the document."""
        if not records:
            return
        with self.guard("write document records to"):
            self._docs.upsert(
                ids=[r["doc_id"] for r in records], embeddings=[[1.0]] * len(records), documents=list(texts),
                metadatas=[{k: r.get(k, "") if r.get(k) is not None else "" for k in _DOC_FIELDS} for r in records],
            )

    def doc_records(self) -> dict[str, dict[str, Any]]:
        """doc_id -> record metadata for every document, fetched in batches, without texts."""
        out: dict[str, dict[str, Any]] = {}
        if self._docs is None:
            return out
        offset = 0
        with self.guard("read document records from"):
            while True:
                res = self._docs.get(include=["metadatas"], limit=_GET_BATCH, offset=offset)
                for doc_id, md in zip(res["ids"], res["metadatas"], strict=True):
                    out[doc_id] = {"doc_id": doc_id, **(md or {})}
                if len(res["ids"]) < _GET_BATCH:
                    return out
                offset += _GET_BATCH

    def doc_text(self, doc_id: str) -> tuple[dict[str, Any], str] | None:
        with self.guard("read a document from"):
            res = self._docs.get(ids=[doc_id], include=["metadatas", "documents"])
        if not res["ids"]:
            return None
        return {"doc_id": doc_id, **(res["metadatas"][0] or {})}, res["documents"][0] or ""

    def delete_docs(self, doc_ids: Sequence[str]) -> None:
        if not doc_ids:
            return
        self.delete_doc_chunks(doc_ids)
        with self.guard("delete document records from"):
            self._docs.delete(ids=list(doc_ids))


def _forget_system(settings: Settings) -> Any:
    """Drop the system chromadb shares between the embedded clients of one path in this process (returned, or None),
    so that the next client of that path builds a new one."""
    from chromadb.api.shared_system_client import SharedSystemClient

    return SharedSystemClient._identifier_to_system.pop(str(settings.chroma_path), None)


def sentence_id(doc_id: str, start: int, end: int) -> str:
    return f"{doc_id}@{start}-{end}"


def _chunk(cid: str, text: str | None, md: dict[str, Any]) -> Chunk:
    """A chunk from its Chroma record (an index built before token counts were stored counts them when asked)."""
    tokens = md.get("tokens")
    return Chunk(chunk_id=cid, doc_id=md["doc_id"], position=int(md["position"]), start=int(md["start"]),
                 end=int(md["end"]), text=text or "", tokens=int(tokens) if tokens is not None else None)


def _to_chunks(res: dict[str, Any]) -> list[Chunk]:
    return [_chunk(cid, text, md) for cid, text, md in zip(res["ids"], res["documents"], res["metadatas"], strict=True)]
