"""BM25 over chunks, kept incrementally: append-only blocks, tombstones, exact global statistics, on disk."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
import Stemmer
from scipy import sparse

from rag.errors import IndexUnavailable
from rag.types import Chunk

K1, B = 1.2, 0.75
_MAX_BLOCKS = 8
_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
STOPWORDS = frozenset(
    "a an and are as at be been but by can could did do does for from had has have he her his how i if in into is it "
    "its me my no not of on or our she so than that the their them then there these they this those to was we were "
    "what when where which while who whom whose why will with would you your about after also any both each more most "
    "other over such only own same some very just should".split()
)
TOKENIZER = "snowball-english"  # saved with the index: one tokenized otherwise is rebuilt from the store
_LOCAL = threading.local()  # PyStemmer's stemmers are not thread-safe: one per thread


def _stemmer() -> Stemmer.Stemmer:
    st = getattr(_LOCAL, "stemmer", None)
    if st is None:
        st = _LOCAL.stemmer = Stemmer.Stemmer("english", 100_000)  # with a cache of 100,000 words
    return st


def stem(token: str) -> str:
    """The English Snowball stem of a lower-cased word (PyStemmer): 'sanctions' -> 'sanction', 'called' -> 'call'."""
    return _stemmer().stemWord(token)


def tokenize(text: str) -> list[str]:
    """Lower-cased, stop-word-free, stemmed word tokens (numbers kept)."""
    return _stemmer().stemWords([t for t in _TOKEN.findall(text.lower()) if t not in STOPWORDS])


@lru_cache(maxsize=4096)
def term_set(text: str) -> frozenset[str]:
    """The distinct tokens of a text, cached (4,096 texts, a few MB; one answer touches ~300-700): answering a
    question scores the same sentences several times (the question, each part, the rerank, the synthesizer)."""
    return frozenset(tokenize(text))


class _Block:
    """An immutable batch of chunks as a term-frequency matrix, plus a mutable alive mask."""

    def __init__(self, ids: list[str], doc_ids: list[str], tf: sparse.csc_matrix, lengths: np.ndarray,
                 alive: np.ndarray) -> None:
        self.ids, self.doc_ids, self.tf, self.lengths, self.alive = ids, doc_ids, tf, lengths, alive


class LexicalIndex:
    """Exact BM25 (k1=1.2, b=0.75) whose document frequencies and lengths are updated in place on add/remove."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.vocab: dict[str, int] = {}
        self.df = np.zeros(0, dtype=np.int64)
        self.blocks: list[_Block] = []
        self.rows: dict[str, list[tuple[int, int]]] = {}  # doc_id -> (block, row) of its live chunks
        self.fingerprints: dict[str, str] = {}  # doc_id -> fingerprint of the version indexed
        self.generation = ""
        self.n_alive = 0
        self.total_len = 0
        self._dirty_blocks: set[int] = set()
        self._lock = threading.RLock()
        self._disk_id = ""  # the save this object's blocks match on disk ("" = none): see _save

    # --- writing ---------------------------------------------------------------------
    def add(self, chunks: Sequence[Chunk], fingerprints: dict[str, str]) -> None:
        """Index new chunks (their documents must not be indexed already; remove them first)."""
        if not chunks:
            return
        with self._lock:
            rows, cols, vals, lengths = [], [], [], []
            for r, chunk in enumerate(chunks):
                counts: dict[int, int] = {}
                toks = tokenize(chunk.text)
                for tok in toks:
                    tid = self.vocab.setdefault(tok, len(self.vocab))
                    counts[tid] = counts.get(tid, 0) + 1
                rows.extend([r] * len(counts))
                cols.extend(counts.keys())
                vals.extend(counts.values())
                lengths.append(len(toks))
            n_terms = len(self.vocab)
            tf = sparse.csc_matrix((np.asarray(vals, dtype=np.float32), (rows, cols)), shape=(len(chunks), n_terms))
            if n_terms > len(self.df):
                self.df = np.concatenate([self.df, np.zeros(n_terms - len(self.df), dtype=np.int64)])
            self.df += np.diff(tf.indptr)  # each (chunk, term) pair is one nonzero
            lengths_arr = np.asarray(lengths, dtype=np.int32)
            self.blocks.append(_Block([c.chunk_id for c in chunks], [c.doc_id for c in chunks], tf, lengths_arr,
                                      np.ones(len(chunks), dtype=bool)))
            b = len(self.blocks) - 1
            self._dirty_blocks.add(b)
            for r, chunk in enumerate(chunks):
                self.rows.setdefault(chunk.doc_id, []).append((b, r))
            for doc_id in {c.doc_id for c in chunks}:
                self.fingerprints[doc_id] = fingerprints.get(doc_id, "")
            self.n_alive += len(chunks)
            self.total_len += int(lengths_arr.sum())
            if len(self.blocks) > _MAX_BLOCKS:
                self.compact()

    def remove_docs(self, doc_ids: Iterable[str]) -> None:
        """Tombstone every chunk of these documents and take them out of the statistics."""
        with self._lock:
            for doc_id in doc_ids:
                self.fingerprints.pop(doc_id, None)
                for b, r in self.rows.pop(doc_id, []):
                    block = self.blocks[b]
                    if not block.alive[r]:
                        continue
                    block.alive[r] = False
                    row = block.tf.getrow(r)
                    self.df[row.indices] -= 1
                    self.n_alive -= 1
                    self.total_len -= int(block.lengths[r])
                    self._dirty_blocks.add(b)
            while self.blocks and not self.blocks[-1].alive.any():  # an ingest undone: its block goes too
                self.blocks.pop()
                self._dirty_blocks.discard(len(self.blocks))

    def compact(self) -> None:
        """Merge all blocks into one, dropping tombstoned rows."""
        with self._lock:
            if not self.blocks:
                return
            n_terms = len(self.vocab)
            mats, ids, doc_ids, lengths = [], [], [], []
            for block in self.blocks:
                keep = np.flatnonzero(block.alive)
                tf = block.tf.tocsr()[keep]
                tf.resize((len(keep), n_terms))
                mats.append(tf)
                ids.extend(block.ids[i] for i in keep)
                doc_ids.extend(block.doc_ids[i] for i in keep)
                lengths.append(block.lengths[keep])
            merged = sparse.vstack(mats).tocsc() if mats else sparse.csc_matrix((0, n_terms), dtype=np.float32)
            self.blocks = [_Block(ids, doc_ids, merged, np.concatenate(lengths), np.ones(len(ids), dtype=bool))]
            self.rows = {}
            for r, doc_id in enumerate(doc_ids):
                self.rows.setdefault(doc_id, []).append((0, r))
            self._dirty_blocks = {0}
            self._rewrite_all = True

    # --- reading ----------------------------------------------------------------------
    def search(self, query: str, k: int, allowed_docs: set[str] | None = None) -> list[tuple[str, str, float]]:
        """Top-k (chunk_id, doc_id, score) for the query, optionally only within some documents."""
        with self._lock:
            tids = sorted({self.vocab[t] for t in tokenize(query) if t in self.vocab})
            if not tids or self.n_alive == 0:
                return []
            df = self.df[tids].astype(np.float64)
            idf = np.log(1.0 + (self.n_alive - df + 0.5) / (df + 0.5))
            avgdl = max(self.total_len / max(self.n_alive, 1), 1.0)
            hits: list[tuple[float, int, int]] = []
            allowed_rows = self._rows_of(allowed_docs) if allowed_docs is not None else None
            for b, block in enumerate(self.blocks):
                if allowed_rows is not None and b not in allowed_rows:
                    continue
                usable = [i for i, t in enumerate(tids) if t < block.tf.shape[1]]
                if not usable:
                    continue
                sub = block.tf[:, [tids[i] for i in usable]].tocoo()
                if sub.nnz == 0:
                    continue
                norm = K1 * (1 - B + B * block.lengths[sub.row] / avgdl)
                contrib = sub.data * (K1 + 1) / (sub.data + norm) * idf[np.asarray(usable)[sub.col]]
                scores = np.bincount(sub.row, weights=contrib, minlength=len(block.ids))
                scores[~block.alive] = 0.0
                if allowed_rows is not None:
                    keep = np.zeros(len(block.ids), dtype=bool)
                    keep[allowed_rows[b]] = True
                    scores[~keep] = 0.0
                cand = np.flatnonzero(scores)
                if len(cand) > k:
                    cand = cand[np.argpartition(-scores[cand], k)[:k]]
                hits.extend((float(scores[r]), b, int(r)) for r in cand)
            hits.sort(reverse=True)
            return [(self.blocks[b].ids[r], self.blocks[b].doc_ids[r], s) for s, b, r in hits[:k]]

    def _rows_of(self, doc_ids: set[str]) -> dict[int, list[int]]:
        """Block -> rows of the live chunks of these documents."""
        out: dict[int, list[int]] = {}
        for doc_id in doc_ids:
            for b, r in self.rows.get(doc_id, ()):
                out.setdefault(b, []).append(r)
        return out

    def idf(self, token: str) -> float:
        """Inverse document frequency of a (tokenized) term; the maximum for unseen terms."""
        tid = self.vocab.get(token)
        df = float(self.df[tid]) if tid is not None else 0.0
        return float(np.log(1.0 + (self.n_alive - df + 0.5) / (df + 0.5)))

    # --- persistence ----------------------------------------------------------------
    def save(self) -> None:
        """Write changed blocks and the state atomically; unchanged blocks are not rewritten."""
        if self.path is None:
            return
        try:
            self._save()
        except OSError as exc:
            for tmp in self.path.glob("*.tmp*"):
                tmp.unlink(missing_ok=True)
            hint = ("The disk is full: free some space and run the command again." if exc.errno == 28 else
                    "The directory is not writable: fix its permissions or point RAG_DATA_DIR elsewhere.")
            raise IndexUnavailable(f"Could not write the keyword index at {self.path} ({exc.strerror}). {hint}") from None

    def _save(self) -> None:
        """Write under an exclusive file lock. Several processes share this folder (UI workers beside an ingest):
        when another process saved since this object last loaded or saved, its blocks on disk are laid out
        differently, so every block is written again rather than mixing the two layouts."""
        assert self.path is not None
        with self._lock:
            self.path.mkdir(parents=True, exist_ok=True)
            with _file_lock(self.path, exclusive=True):
                if _disk_save_id(self.path) != self._disk_id:
                    self._rewrite_all = True
                    self._dirty_blocks = set(range(len(self.blocks)))
                if getattr(self, "_rewrite_all", False):
                    for old in self.path.glob("block_*"):
                        old.unlink()
                    self._rewrite_all = False
                for b in sorted(self._dirty_blocks):
                    block = self.blocks[b]
                    _atomic_npz(self.path / f"block_{b:03d}.npz", data=block.tf.data, indices=block.tf.indices,
                                indptr=block.tf.indptr, shape=np.asarray(block.tf.shape), lengths=block.lengths,
                                alive=block.alive, ids=np.asarray(block.ids, dtype=object),
                                doc_ids=np.asarray(block.doc_ids, dtype=object))
                self._dirty_blocks.clear()
                save_id = uuid.uuid4().hex
                state = {"generation": self.generation, "vocab": self.vocab, "fingerprints": self.fingerprints,
                         "blocks": len(self.blocks), "save_id": save_id, "tokenizer": TOKENIZER}
                fd, tmp = tempfile.mkstemp(dir=self.path, suffix=".tmp")
                with os.fdopen(fd, "w") as fh:
                    json.dump(state, fh)
                os.replace(tmp, self.path / "state.json")
                self._disk_id = save_id
                for stale in self.path.glob("block_*.npz"):  # blocks dropped since: removed only after the new state
                    if int(stale.stem[len("block_"):]) >= len(self.blocks):
                        stale.unlink(missing_ok=True)

    @classmethod
    def load(cls, path: Path) -> LexicalIndex:
        """Load from disk; an absent or unreadable index, or one tokenized differently (an older release's stemmer),
        loads empty: it is rebuilt from the store."""
        index = cls(path)
        try:
            with _file_lock(path, exclusive=False):  # never half of another process's save
                state = json.loads((path / "state.json").read_text())
                if state.get("tokenizer") != TOKENIZER:
                    return cls(path)
                for b in range(int(state["blocks"])):
                    z = np.load(path / f"block_{b:03d}.npz", allow_pickle=True)
                    tf = sparse.csc_matrix((z["data"], z["indices"], z["indptr"]), shape=tuple(z["shape"]))
                    index.blocks.append(_Block(list(z["ids"]), list(z["doc_ids"]), tf, z["lengths"], z["alive"]))
        except (OSError, ValueError, KeyError):
            if path.exists():
                shutil.rmtree(path, ignore_errors=True)
            return cls(path)
        index.vocab = state["vocab"]
        index.fingerprints = state["fingerprints"]
        index.generation = state["generation"]
        index._disk_id = str(state.get("save_id", ""))
        index.df = np.zeros(len(index.vocab), dtype=np.int64)
        for b, block in enumerate(index.blocks):
            live = block.tf.tocsr()[np.flatnonzero(block.alive)]
            counts = np.bincount(live.indices, minlength=len(index.vocab))
            index.df[: len(counts)] += counts
            index.n_alive += int(block.alive.sum())
            index.total_len += int(block.lengths[block.alive].sum())
            for r in np.flatnonzero(block.alive):
                index.rows.setdefault(block.doc_ids[r], []).append((b, int(r)))
        return index


@contextlib.contextmanager
def _file_lock(folder: Path, *, exclusive: bool):
    """An advisory lock on ``folder/lock`` shared by every process using this index (no-op if it can't exist)."""
    if not folder.is_dir():
        yield
        return
    with open(folder / "lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _disk_save_id(folder: Path) -> str:
    """The save_id of the state on disk ("" when there is none or it predates save ids)."""
    try:
        return str(json.loads((folder / "state.json").read_text()).get("save_id", ""))
    except (OSError, ValueError, AttributeError):
        return ""


def _atomic_npz(path: Path, **arrays: np.ndarray) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp.npz")
    os.close(fd)
    np.savez(tmp, **arrays)
    os.replace(tmp, path)
