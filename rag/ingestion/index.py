"""Index stage: plan what changed, then load → clean → chunk → embed → write, crash-safe and incremental."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import InputError
from rag.ingestion import dedupe
from rag.ingestion.chunk import chunk_document
from rag.ingestion.clean import clean_document
from rag.ingestion.load import iter_files, load_file
from rag.lexical import LexicalIndex
from rag.providers import Embedder
from rag.sentences import SentenceKey, chunk_sentences, pool
from rag.settings import Settings
from rag.store import Store
from rag.types import Chunk, DocMeta, Document, IngestReport

PIPELINE_VERSION = "3"  # bump when cleaning or chunking changes, so every document is re-processed
_FLUSH_CHUNKS = 512
Progress = Callable[[int, int, str], None]


def fingerprint(data: bytes, settings: Settings) -> str:
    """Identity of one version of a file under one chunking configuration."""
    h = hashlib.sha1(data)
    h.update(f"|{settings.chunk_size}|{settings.chunk_overlap}|{PIPELINE_VERSION}".encode())
    return h.hexdigest()


@dataclass
class _Prepared:
    doc: Document
    fingerprint: str
    minhash: str
    chunks: list[Chunk]
    updated: bool


@dataclass
class _Batch:
    docs: list[_Prepared] = field(default_factory=list)

    @property
    def n_chunks(self) -> int:
        return sum(len(p.chunks) for p in self.docs)


class Indexer:
    """Turns folders of articles into chunks in the store and the lexical index."""

    def __init__(self, settings: Settings, store: Store, embedder: Embedder, lexical: LexicalIndex) -> None:
        self.settings, self.store, self.embedder, self.lexical = settings, store, embedder, lexical

    def ingest(self, paths: Sequence[Path], *, prune: bool = False, progress: Progress | None = None) -> IngestReport:
        started = time.perf_counter()
        report = IngestReport()
        files, skipped = iter_files(list(paths))
        report.skipped.update(skipped)
        records = self.store.doc_records()
        sync_lexical(self.lexical, self.store, records)
        finder = dedupe.DuplicateFinder(self.settings.near_duplicate_threshold)
        for doc_id, rec in records.items():
            sig = dedupe.decode(str(rec.get("minhash", "")))
            if sig is not None and rec.get("status") == "complete":
                finder.register(doc_id, sig)

        ids = _DocIds(records, paths)
        seen: dict[str, Path] = {}
        batch = _Batch()
        writer = ThreadPoolExecutor(max_workers=1)  # writes overlap with embedding of the next batch
        pending: Future[None] | None = None
        max_bytes = int(self.settings.max_file_mb * 1024 * 1024)
        for i, path in enumerate(files):
            if progress:
                progress(i, len(files), path.name)
            try:
                data = _read_bytes(path, max_bytes)
                fp = fingerprint(data, self.settings)
                doc_id, note = ids.assign(path, fp)
                if note:
                    report.warnings[str(path)] = note
                seen[doc_id] = path
                rec = records.get(doc_id)
                if rec and rec.get("fingerprint") == fp and rec.get("status") == "complete":
                    report.unchanged.append(doc_id)
                    continue
                prepared = self._prepare(path, doc_id, fp, max_bytes, updated=rec is not None)
            except InputError as exc:
                report.skipped[str(path)] = _reason(exc, path)
                continue
            if prepared.doc.replaced:
                n = prepared.doc.replaced
                said = report.warnings.get(str(path))  # the id note, if any, is kept beside this one
                report.warnings[str(path)] = "; ".join(x for x in (said, (
                    f"{n} invalid UTF-8 byte sequence{'s' if n != 1 else ''} replaced with \ufffd; the rest was read "
                    "as UTF-8")) if x)
            elif prepared.doc.encoding not in ("utf-8", "ascii"):
                report.encodings[str(path)] = prepared.doc.encoding
            sig = dedupe.decode(prepared.minhash)
            twin = finder.find(doc_id, sig) if sig is not None else None
            if twin is not None:
                report.duplicates[doc_id] = twin
                report.duplicate_files[str(path)] = str(seen.get(twin) or records.get(twin, {}).get("source") or twin)
                continue
            if sig is not None:
                finder.forget(doc_id)
                finder.register(doc_id, sig)
            (report.updated if prepared.updated else report.added).append(doc_id)
            batch.docs.append(prepared)
            if batch.n_chunks >= _FLUSH_CHUNKS:
                pending = self._flush(batch, writer, pending, report)
                batch = _Batch()
        if batch.docs:
            pending = self._flush(batch, writer, pending, report)
        if pending is not None:
            pending.result()
        writer.shutdown()

        if prune:
            gone = _vanished(records, paths, seen)
            self.store.delete_docs(gone)
            self.lexical.remove_docs(gone)
            report.removed.extend(gone)
        if report.added or report.updated or report.removed:
            self.store.bump_generation()
            self.lexical.generation = self.store.generation()
            self.lexical.save()
        if progress:
            progress(len(files), len(files), "done")
        report.seconds = time.perf_counter() - started
        return report

    def remove(self, doc_ids: Sequence[str]) -> None:
        """Delete documents and their chunks from the store and the lexical index."""
        self.store.delete_docs(doc_ids)
        self.lexical.remove_docs(doc_ids)
        self.store.bump_generation()
        self.lexical.generation = self.store.generation()
        self.lexical.save()

    def _prepare(self, path: Path, doc_id: str, fp: str, max_bytes: int, *, updated: bool) -> _Prepared:
        loaded = load_file(path, max_bytes)
        doc = clean_document(loaded.model_copy(update={"doc_id": doc_id, "source": str(path.resolve())}))
        if not doc.text.strip():
            raise InputError(f"{path}: nothing is left after removing boilerplate; the file holds no article text.")
        chunks = chunk_document(doc, self.settings.chunk_size, self.settings.chunk_overlap)
        minhash = dedupe.encode(dedupe.signature(doc.text))
        return _Prepared(doc=doc, fingerprint=fp, minhash=minhash, chunks=chunks, updated=updated)

    def _flush(self, batch: _Batch, writer: ThreadPoolExecutor, pending: Future[None] | None,
               report: IngestReport) -> Future[None]:
        chunks = [c for p in batch.docs for c in p.chunks]
        keys, vectors = embed_chunks(self.embedder, chunks)
        if pending is not None:
            pending.result()  # one write in flight at a time; errors surface here
        report.chunks_written += len(chunks)
        return writer.submit(self._write, batch, chunks, vectors, keys)

    def _write(self, batch: _Batch, chunks: list[Chunk], vectors: Any, sentences: tuple[list[Any], Any]) -> None:
        """Crash-safe order: mark pending, replace chunks, mark complete. A killed run is repaired next time."""
        records = [_record(p, "pending") for p in batch.docs]
        texts = [p.doc.text for p in batch.docs]
        doc_ids = [p.doc.doc_id for p in batch.docs]
        self.store.put_docs(records, texts)
        self.store.delete_doc_chunks(doc_ids)
        metas: dict[str, DocMeta] = {p.doc.doc_id: p.doc.meta for p in batch.docs}
        sources = {p.doc.doc_id: p.doc.source for p in batch.docs}
        self.store.add_sentences(*sentences)
        self.store.add_chunks(chunks, vectors, metas, sources)
        self.store.put_docs([_record(p, "complete") for p in batch.docs], texts)
        self.lexical.remove_docs(doc_ids)
        self.lexical.add(chunks, {p.doc.doc_id: p.fingerprint for p in batch.docs})


def embed_chunks(embedder: Embedder, chunks: Sequence[Chunk]) -> tuple[tuple[list[SentenceKey], np.ndarray], np.ndarray]:
    """Encode every distinct sentence once; a chunk's vector is the length-weighted mean of its sentences'."""
    per_chunk = [chunk_sentences(c) for c in chunks]
    unique: dict[SentenceKey, str] = {}
    for sents in per_chunk:
        for key, text in sents:
            unique.setdefault(key, text)
    keys = list(unique)
    sent_vecs = embedder.encode([unique[k] for k in keys])  # type: ignore[attr-defined]
    row = {k: i for i, k in enumerate(keys)}
    chunk_vecs = np.stack([
        pool(sent_vecs[[row[k] for k, _ in sents]], np.asarray([len(t) for _, t in sents], dtype=np.float32))
        for sents in per_chunk
    ]) if chunks else np.zeros((0, embedder.dim), dtype=np.float32)
    return (keys, sent_vecs), chunk_vecs


def sync_lexical(lexical: LexicalIndex, store: Store, records: dict[str, dict[str, Any]] | None = None, *,
                 persist: bool = True) -> bool:
    """Bring the lexical index in line with the store's complete documents. True if anything changed.

    ``persist=False`` keeps the change in memory: a process catching up with another's ingest finds that
    process's save already on disk, and writing its own copy would only cost a full rewrite."""
    generation = store.generation()
    if records is None and lexical.generation == generation:
        return False
    records = store.doc_records() if records is None else records
    complete = {d: str(r.get("fingerprint")) for d, r in records.items() if r.get("status") == "complete"}
    stale = [d for d, fp in lexical.fingerprints.items() if complete.get(d) != fp]
    missing = [d for d, fp in complete.items() if lexical.fingerprints.get(d) != fp]
    lexical.remove_docs(stale)
    for i in range(0, len(missing), 500):
        part = missing[i : i + 500]
        chunks = store.get_chunks(where={"doc_id": {"$in": part}})
        lexical.add(chunks, {d: complete[d] for d in part})
    moved = lexical.generation != generation
    lexical.generation = generation
    changed = bool(stale or missing)
    if (changed or moved) and persist:
        lexical.save()
    return changed


class _DocIds:
    """Document ids from paths: the path relative to the folder given (the stem for a file given by itself).

    A file indexed before keeps its id. A second file whose id would be taken gets the id with a short hash of its
    path, so two files never share a document; a file that would take over the id of a document whose own file is
    gone is refused, naming both files."""

    def __init__(self, records: dict[str, dict[str, Any]], roots: Sequence[Path]) -> None:
        self.records, self.roots = records, [Path(r) for r in roots if Path(r).is_dir()]
        self.by_source: dict[Path, str] = {}
        for doc_id, rec in records.items():
            if src := str(rec.get("source") or ""):
                self.by_source.setdefault(Path(src).resolve(), doc_id)
        self.taken: dict[str, Path] = {}  # ids handed out in this run

    def base(self, path: Path) -> str:
        for root in self.roots:
            if path.is_relative_to(root):
                return path.relative_to(root).with_suffix("").as_posix()
        return path.stem

    def assign(self, path: Path, fp: str) -> tuple[str, str]:
        """``(doc_id, note)``; the note, when not empty, tells the user why the id is not the plain one."""
        src = path.resolve()
        if (known := self.by_source.get(src)) is not None and self.taken.get(known, src) == src:
            self.taken[known] = src
            return known, ""
        doc_id, owner = self.base(path), None
        rec = self.records.get(doc_id)
        if doc_id in self.taken and self.taken[doc_id] != src:
            owner = self.taken[doc_id]
        elif rec is not None and Path(str(rec.get("source") or "")).resolve() != src:
            other = Path(str(rec.get("source") or ""))
            if rec.get("fingerprint") == fp:  # the same file, read through another path or moved
                self.taken[doc_id] = src
                return doc_id, ""
            if not other.exists():
                raise InputError(
                    f"{path} would replace document {doc_id!r}, indexed from {other}, which is no longer there. "
                    f"If it is the same article moved, remove the old one first (`rag ingest --prune FOLDER` on its "
                    f"folder, or Remove in the UI's Sources tab), then ingest again; otherwise rename {path.name}."
                )
            owner = other
        if owner is None:
            self.taken[doc_id] = src
            return doc_id, ""
        unique = f"{doc_id}~{hashlib.sha1(str(src).encode()).hexdigest()[:8]}"
        self.taken[unique] = src
        return unique, f"indexed as {unique!r}: the id {doc_id!r} belongs to {owner}"


def _reason(exc: InputError, path: Path) -> str:
    """The error's message without a leading mention of the path (the report is keyed by it)."""
    text = str(exc)
    for lead in (f"Cannot ingest {path}: ", f"{path}: "):
        if text.startswith(lead):
            rest = text[len(lead) :]
            return rest[:1].upper() + rest[1:] if lead.startswith("Cannot") else rest
    return text


def _record(p: _Prepared, status: str) -> dict[str, Any]:
    m = p.doc.meta
    return {"doc_id": p.doc.doc_id, "title": m.title, "author": m.author, "outlet": m.outlet, "date": m.date,
            "source": p.doc.source, "fingerprint": p.fingerprint, "status": status, "chunks": len(p.chunks),
            "chars": len(p.doc.text), "minhash": p.minhash}


def _read_bytes(path: Path, max_bytes: int) -> bytes:
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise InputError(
                f"{path}: the file is {size / 1_048_576:.1f} MB ({size:,} bytes), over the {max_bytes / 1_048_576:.2f} MB "
                f"({max_bytes:,} bytes) limit. Split it into smaller files or raise RAG_MAX_FILE_MB."
            )
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror}); check that it exists and is readable.") from None


def _vanished(records: dict[str, dict[str, Any]], paths: Sequence[Path], seen: dict[str, Path]) -> list[str]:
    """Documents indexed from under the given paths whose file no longer exists there."""
    roots = [p.resolve() for p in paths]
    gone = []
    for doc_id, rec in records.items():
        if doc_id in seen:
            continue
        src = Path(str(rec.get("source", ""))).resolve()
        if any(src == r or r in src.parents for r in roots) and not src.exists():
            gone.append(doc_id)
    return gone
