"""Faults around the index: a SIGKILLed ingest, a Chroma server that goes away, a read-only or full disk.

Everything is real: `rag ingest` in a child process killed with SIGKILL, a real `chroma run` stopped and started,
and (as root, where file modes do not stop writes) `chattr +i` for read-only files and a small tmpfs for a full disk.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from benchmarks.corpus import duplicate_pairs, generate
from rag import Engine, IndexUnavailable, RagError, Settings
from rag.lexical import tokenize
from rag.providers import LocalEmbedder
from tests.servers import ChromaServer

ROOT = Path(__file__).resolve().parents[1]
SEED_000 = ROOT / "seeds" / "000_47bab1ff1479f7a2.txt"
D000 = SEED_000.stem
Q_ARTICLE4 = "Which article of the Russia–North Korea agreement commits the two sides to military assistance?"
N_ARTICLES, CORPUS_SEED = 40, 3

# `rag ingest DIR` (rag_cli.main), flushing every 16 chunks instead of 512 so a small corpus makes several write
# batches, and SIGKILLing itself right after the 2nd batch's chunks are written: the 1st batch is complete, the 2nd
# is written but still marked "pending", the rest is not written at all. A deterministic kill -9 mid-ingest.
KILLED_INGEST = """
import importlib, os, signal, sys
from rag_cli import main
from rag.store import Store

index = importlib.import_module("rag.ingestion.index")  # `rag.ingest` the attribute is the function rag.ingest()
index._FLUSH_CHUNKS = 16
real_add_chunks, calls = Store.add_chunks, []

def add_chunks(self, *args, **kwargs):
    real_add_chunks(self, *args, **kwargs)
    calls.append(1)
    if len(calls) == 2:
        os.kill(os.getpid(), signal.SIGKILL)

Store.add_chunks = add_chunks
sys.exit(main(["ingest", sys.argv[1]]))
"""


INGEST_AND_LIST = """
import json, sys
from rag import Engine
engine = Engine()
report = engine.ingest([sys.argv[1]])
answer = engine.answer("Which article of the Russia–North Korea agreement commits the two sides to military assistance?")
print(json.dumps([report.added, [s.doc_id for s in engine.sources()], [c.doc_id for c in answer.citations]]))
"""


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    return LocalEmbedder()


def _doc_of(chunk_id: str) -> str:
    return chunk_id.rsplit(":", 2)[0]


def _cited(answer) -> set[str]:
    return {c.doc_id for c in answer.citations}


# --- kill -9 in the middle of an ingest ---------------------------------------------------------


@pytest.fixture(scope="module")
def crash(tmp_path_factory: pytest.TempPathFactory, embedder: LocalEmbedder) -> SimpleNamespace:
    root = tmp_path_factory.mktemp("crash")
    files = generate(N_ARTICLES, root / "corpus", seed=CORPUS_SEED, words=(60, 110))
    dups = duplicate_pairs(N_ARTICLES, seed=CORPUS_SEED)
    data = root / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(RAG_DATA_DIR=str(data), PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])))
    began = time.monotonic()
    killed = subprocess.run([sys.executable, "-c", KILLED_INGEST, str(root / "corpus")], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=600)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    killed_s = time.monotonic() - began

    engine = Engine(Settings(data_dir=data), embedder=embedder)
    left = engine.store.doc_records()
    left_chunks = [c.chunk_id for c in engine.store.get_chunks()]
    resumed = engine.ingest([root / "corpus"])
    generation = engine.store.generation()
    third = engine.ingest([root / "corpus"])
    return SimpleNamespace(engine=engine, files=files, dups=dups, left=left, left_chunks=left_chunks,
                           resumed=resumed, third=third, generation=generation, data=data, killed_s=killed_s,
                           expected=sorted(f.stem for f in files if f.stem not in dups))


def test_the_kill_left_a_half_written_index(crash) -> None:
    statuses = [r["status"] for r in crash.left.values()]
    assert "complete" in statuses and "pending" in statuses, statuses
    assert len(crash.left) < len(crash.expected)
    pending = {d for d, r in crash.left.items() if r["status"] == "pending"}
    assert pending & {_doc_of(c) for c in crash.left_chunks}, "the pending batch's chunks were already written"


def test_resumed_ingest_completes_every_document_exactly_once(crash) -> None:
    engine, resumed = crash.engine, crash.resumed
    assert crash.dups == {"syn_000025": "syn_000021"}  # the corpus holds one near-duplicate pair
    assert resumed.duplicates == crash.dups and not resumed.skipped and not resumed.removed
    assert sorted(resumed.added + resumed.updated + resumed.unchanged) == crash.expected
    assert sorted(resumed.unchanged) == sorted(d for d, r in crash.left.items() if r["status"] == "complete")

    ids = [s.doc_id for s in engine.sources()]
    assert ids == crash.expected  # each file's document once, none missing, the near-duplicate left out
    records = engine.store.doc_records()
    assert sorted(records) == crash.expected and {r["status"] for r in records.values()} == {"complete"}

    chunks = engine.store.get_chunks()
    chunk_ids = [c.chunk_id for c in chunks]
    assert len(chunk_ids) == len(set(chunk_ids)), "duplicate chunk ids"
    per_doc: dict[str, list] = {}
    for c in chunks:
        per_doc.setdefault(_doc_of(c.chunk_id), []).append(c)
    assert sorted(per_doc) == crash.expected
    for doc_id, doc_chunks in per_doc.items():
        assert len(doc_chunks) == records[doc_id]["chunks"], doc_id
        assert sorted(c.position for c in doc_chunks) == list(range(records[doc_id]["chunks"])), doc_id
        text = engine.document(doc_id).text
        assert all(text[c.start : c.end] == c.text for c in doc_chunks), doc_id
    assert engine.store.count_chunks() == len(chunks) == sum(r["chunks"] for r in records.values())


def _unique_words(engine: Engine, doc_ids: list[str]) -> dict[str, str]:
    tokens = {d: set(tokenize(engine.document(d).text)) for d in doc_ids}
    out = {}
    for d in doc_ids:
        others = set().union(*(t for o, t in tokens.items() if o != d))
        mine = sorted(t for t in tokens[d] - others if t.isalpha() and len(t) > 6)
        if mine:
            out[d] = mine[0]
    return out


def test_lexical_index_finds_articles_written_after_the_crash(crash) -> None:
    engine = crash.engine
    redone = sorted(set(crash.resumed.added) | set(crash.resumed.updated))
    words = _unique_words(engine, crash.expected)
    checked = [d for d in redone if d in words][:5]
    assert checked
    for doc_id in checked:
        hits = engine.lexical.search(words[doc_id], 3)
        assert hits and hits[0][1] == doc_id, (doc_id, words[doc_id], hits)


def test_lexical_index_also_holds_articles_completed_before_the_crash(crash, embedder) -> None:
    engine = crash.engine
    done_before = sorted(crash.resumed.unchanged)
    words = _unique_words(engine, crash.expected)
    for doc_id in [d for d in done_before if d in words][:5]:
        hits = engine.lexical.search(words[doc_id], 3)
        assert hits and hits[0][1] == doc_id, (doc_id, words[doc_id], hits)
    assert engine.lexical.n_alive == engine.store.count_chunks()
    assert set(engine.lexical.fingerprints) == set(crash.expected)


def test_third_run_writes_nothing(crash) -> None:
    third = crash.third
    assert sorted(third.unchanged) == crash.expected
    assert third.chunks_written == 0 and not (third.added or third.updated or third.removed or third.skipped)
    assert third.duplicates == crash.dups
    assert crash.engine.store.generation() == crash.generation


# --- the Chroma server goes away and comes back -----------------------------------------------------


@pytest.fixture
def one_seed(tmp_path: Path) -> Path:
    folder = tmp_path / "articles"
    folder.mkdir()
    shutil.copy(SEED_000, folder / SEED_000.name)
    return folder


@pytest.mark.slow
def test_chroma_server_outage_is_reported_and_answers_resume(chroma_server: ChromaServer, tmp_path: Path,
                                                             embedder, one_seed: Path) -> None:
    port = chroma_server.port
    settings = Settings(data_dir=tmp_path / "data", chroma_host="127.0.0.1", chroma_port=port)
    engine = Engine(settings, embedder=embedder)
    assert engine.ingest([one_seed]).added == [D000]
    assert D000 in _cited(engine.answer(Q_ARTICLE4))

    chroma_server.stop()
    for pause in (0.0, 1.2):  # within the engine's 1 s refresh throttle, then past it (the store is re-read)
        time.sleep(pause)
        with pytest.raises(IndexUnavailable) as info:
            engine.answer(Q_ARTICLE4)
        message = str(info.value)
        assert f"127.0.0.1:{port}" in message, message
        assert f"chroma run --host 127.0.0.1 --port {port}" in message, message
    with pytest.raises(IndexUnavailable, match=f"127.0.0.1:{port}"):
        Engine(settings, embedder=embedder).sources()  # a new engine cannot even open it

    chroma_server.start()
    answer = engine.answer(Q_ARTICLE4)  # the same engine object, nothing restarted on our side
    assert D000 in _cited(answer) and "Article 4" in answer.text
    assert [s.doc_id for s in engine.sources()] == [D000]


# --- read-only files and a full disk ----------------------------------------------------------------
# As root, chmod does not stop writes, so read-only is made with `chattr +i` (immutable: EPERM even for root)
# and a full disk with a small tmpfs. Both need root (CAP_LINUX_IMMUTABLE, CAP_SYS_ADMIN); skipped otherwise.


def _chattr(flag: str, path: Path) -> None:
    done = subprocess.run(["chattr", "-R", flag, str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"chattr {flag} is not available here: {done.stderr.strip()}")


@pytest.fixture
def immutable(tmp_path: Path):
    """Make paths immutable with chattr +i; always undone at teardown so the tmp folder can be removed."""
    made: list[Path] = []

    def make(path: Path) -> None:
        made.append(path)
        _chattr("+i", path)

    yield make
    for path in made:
        subprocess.run(["chattr", "-R", "-i", str(path)], capture_output=True)


@pytest.fixture
def indexed(tmp_path: Path, embedder, one_seed: Path) -> Engine:
    """An embedded index holding seed 000, answering."""
    engine = Engine(Settings(data_dir=tmp_path / "data"), embedder=embedder)
    assert engine.ingest([one_seed]).added == [D000]
    assert D000 in _cited(engine.answer(Q_ARTICLE4))
    return engine


@pytest.fixture
def new_article(tmp_path: Path) -> Path:
    folder = tmp_path / "new"
    folder.mkdir()
    (folder / "zorblax.txt").write_text(
        "Zorblax treaty signed in Quentinville\n\n"
        + "Delegates from twelve nations signed the Zorblax treaty in Quentinville on Monday. " * 6,
        encoding="utf-8")
    return folder


def test_read_only_store_refuses_ingest_and_keeps_answering(indexed: Engine, immutable, new_article: Path) -> None:
    chroma_dir = indexed.settings.chroma_path
    immutable(chroma_dir)
    with pytest.raises(IndexUnavailable) as info:
        indexed.ingest([new_article])
    message = str(info.value)
    assert str(chroma_dir) in message and ("writable" in message or "read-only" in message), message
    assert D000 in _cited(indexed.answer(Q_ARTICLE4))
    assert [s.doc_id for s in indexed.sources()] == [D000]
    time.sleep(1.1)  # past the refresh throttle: the store is read again, still fine
    assert D000 in _cited(indexed.answer(Q_ARTICLE4))

    # Writable again: the index was not damaged, and a new process ingests into it. (The same process may keep
    # failing: Chroma's SQLite pool can hold connections it opened read-only while the files were immutable.)
    subprocess.run(["chattr", "-R", "-i", str(chroma_dir)], check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env["RAG_DATA_DIR"] = str(indexed.settings.data_dir)
    done = subprocess.run([sys.executable, "-c", INGEST_AND_LIST, str(new_article)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    added, sources, cited = json.loads(done.stdout.strip().splitlines()[-1])
    assert added == ["zorblax"] and sources == [D000, "zorblax"] and D000 in cited


def test_read_only_data_dir_gives_a_clear_error(indexed: Engine, immutable, new_article: Path) -> None:
    immutable(indexed.settings.data_dir)
    with pytest.raises(RagError) as info:
        indexed.ingest([new_article])
    message = str(info.value)
    assert "read-only" in message or "writable" in message, message
    assert D000 in _cited(indexed.answer(Q_ARTICLE4))


def test_read_only_index_cannot_be_opened_and_says_why(indexed: Engine, immutable, tmp_path: Path, embedder) -> None:
    # Chroma writes to its database when it opens it, so a read-only index cannot serve a new process at all:
    # the best we can ask for is a clear message. (A copy: Chroma caches one open database per path and process.)
    copy = tmp_path / "copy"
    shutil.copytree(indexed.settings.data_dir, copy)
    immutable(copy)
    with pytest.raises(IndexUnavailable) as info:
        Engine(Settings(data_dir=copy), embedder=embedder).answer(Q_ARTICLE4)
    message = str(info.value)
    assert str(copy / "chroma") in message and "read-only" in message, message


def test_index_opens_once_its_permissions_are_fixed(indexed: Engine, immutable, tmp_path: Path, embedder) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(indexed.settings.data_dir, copy)
    immutable(copy)
    engine = Engine(Settings(data_dir=copy), embedder=embedder)
    with pytest.raises(IndexUnavailable, match="read-only"):
        engine.answer(Q_ARTICLE4)
    subprocess.run(["chattr", "-R", "-i", str(copy)], check=True)
    assert D000 in _cited(engine.answer(Q_ARTICLE4))  # the user fixed it: the same engine retries and works


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 8 MiB tmpfs: room for one small index, and easy to fill."""
    if os.environ.get("RAG_TEST_DISK_FULL") != "1":
        # Seen here: chromadb 1.5.9's Rust writer can block forever on ENOSPC (an upsert that never returns),
        # which would hang the whole suite. Run these two tests on purpose with RAG_TEST_DISK_FULL=1.
        pytest.skip("disk-full tests are opt-in (RAG_TEST_DISK_FULL=1): chromadb can hang on ENOSPC")
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)], capture_output=True,
                          text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def _fill(disk: Path) -> Path:
    filler = disk / "filler"
    with open(filler, "wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError:
            pass
    return filler


@pytest.fixture
def full_disk_index(small_disk: Path, embedder, one_seed: Path):
    engine = Engine(Settings(data_dir=small_disk / "data"), embedder=embedder)
    assert engine.ingest([one_seed]).added == [D000]
    assert D000 in _cited(engine.answer(Q_ARTICLE4))
    return engine, _fill(small_disk)


def test_full_disk_stops_ingest_but_not_answers(full_disk_index, new_article: Path) -> None:
    engine, filler = full_disk_index
    with pytest.raises(Exception):  # noqa: B017 - which type is checked in the test below
        engine.ingest([new_article])
    assert D000 in _cited(engine.answer(Q_ARTICLE4))
    assert [s.doc_id for s in engine.sources()] == [D000]
    filler.unlink()  # space freed: the same engine ingests again
    assert engine.ingest([new_article]).added == ["zorblax"]
    assert [s.doc_id for s in engine.sources()] == [D000, "zorblax"]
    assert D000 in _cited(engine.answer(Q_ARTICLE4))


def test_full_disk_gives_a_clear_error(full_disk_index, new_article: Path) -> None:
    engine, _ = full_disk_index
    with pytest.raises(RagError) as info:
        engine.ingest([new_article])
    message = str(info.value)
    assert "full" in message and "free some space" in message, message
