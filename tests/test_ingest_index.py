"""Ingestion into the real index: metadata, offsets, incremental runs, pruning, dedupe, bad files, model mismatch.

Real embedded Chroma, the real MiniLM embedder (one per module) and, for the server flow, a real `chroma run`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from benchmarks.corpus import generate
from rag import EmbeddingMismatch, Engine, Settings
from rag.lexical import TOKENIZER, tokenize
from rag.providers import LocalEmbedder
from rag.tokens import count_tokens
from tests.servers import ChromaServer

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
SEED_IDS = sorted(p.stem for p in SEEDS.glob("*.txt"))
Q_ARTICLE4 = "Which article of the Russia–North Korea agreement commits the two sides to military assistance?"
D000 = "000_47bab1ff1479f7a2"


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    return LocalEmbedder()


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory, embedder: LocalEmbedder):
    """One engine with the five seeds ingested, shared by the read-mostly tests of this module."""
    engine = Engine(Settings(data_dir=tmp_path_factory.mktemp("seeded")), embedder=embedder)
    report = engine.ingest([SEEDS])
    return engine, report


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Three short synthetic articles (a few chunks each): cheap to index in the tests that change files."""
    return generate(3, tmp_path_factory.mktemp("small"), seed=11, words=(70, 120))


def _copy(files: Sequence[Path], dest: Path) -> list[Path]:
    dest.mkdir(parents=True, exist_ok=True)
    return [Path(shutil.copy(f, dest / f.name)) for f in files]




def _chunks_of(engine: Engine, doc_id: str):
    """The stored chunks of one document, found by chunk id ("doc:position:hash"), not by metadata."""
    return sorted((c for c in engine.store.get_chunks() if c.chunk_id.rsplit(":", 2)[0] == doc_id),
                  key=lambda c: c.position)


def _unique_word(engine: Engine, doc_id: str, others: Sequence[str]) -> str:
    """A lexical token of doc_id's text that no other listed document contains."""
    theirs = set().union(*(tokenize(engine.document(d).text) for d in others if d != doc_id))
    mine = [t for t in tokenize(engine.document(doc_id).text) if t not in theirs and t.isalpha() and len(t) > 5]
    assert mine, f"no word unique to {doc_id}"
    return mine[0]


# --- the seeds ------------------------------------------------------------------------------


def test_seeds_ingest_with_their_metadata(seeded) -> None:
    engine, report = seeded
    assert sorted(report.added) == SEED_IDS and len(SEED_IDS) == 5
    assert not (report.updated or report.unchanged or report.removed or report.skipped or report.duplicates)
    sources = {s.doc_id: s for s in engine.sources()}
    assert sorted(sources) == SEED_IDS
    s0 = sources[D000]
    assert (s0.title, s0.author, s0.date) == ("How sanctions are backfiring to fuel a new Eurasian alliance",
                                              "Jung E-gil", "2024-06-25")
    assert (sources["001_a814372e879cbbb1"].author, sources["001_a814372e879cbbb1"].outlet) == ("T. Jayani",
                                                                                                "JadeTimes News")
    assert sources["002_fa3c26d2fc650530"].author == "Irina KHALTURINA"
    assert sources["004_0f3fec0a3f19dfb0"].title == (
        "Strategic Defiance: Putin’s Recent Asia Tour Amid International Sanctions")
    assert all(s.chunks > 0 and s.chars > 0 for s in sources.values())
    assert report.chunks_written == sum(s.chunks for s in sources.values()) == engine.store.count_chunks()
    assert report.summary().startswith("5 added, 0 updated, 0 unchanged, 0 removed, 0 skipped; ")


def test_chunk_offsets_point_into_the_stored_cleaned_text(seeded) -> None:
    engine, _ = seeded
    for source in engine.sources():
        doc = engine.document(source.doc_id)
        assert len(doc.text) == source.chars
        chunks = _chunks_of(engine, source.doc_id)
        assert [c.position for c in chunks] == list(range(source.chunks))
        for c in chunks:
            assert 0 <= c.start < c.end <= len(doc.text)
            assert doc.text[c.start : c.end] == c.text, (c.chunk_id, c.start, c.end)
            assert c.tokens == count_tokens(c.text), c.chunk_id  # stored at ingestion: no tokenizer when asked
        # the chunks cover the document from its first to its last character
        assert chunks[0].start == 0 and chunks[-1].end == len(doc.text.rstrip())


def test_rerun_on_unchanged_folder_writes_nothing(seeded) -> None:
    engine, _ = seeded
    before = (engine.store.count_chunks(), engine.store.generation())
    report = engine.ingest([SEEDS])
    assert sorted(report.unchanged) == SEED_IDS
    assert report.chunks_written == 0
    assert not (report.added or report.updated or report.removed or report.skipped or report.duplicates)
    assert (engine.store.count_chunks(), engine.store.generation()) == before
    assert report.summary().startswith("0 added, 0 updated, 5 unchanged, 0 removed, 0 skipped; 0 chunks written")


def test_near_duplicate_of_a_seed_is_reported_not_indexed(seeded, tmp_path: Path) -> None:
    engine, _ = seeded
    text = (SEEDS / f"{D000}.txt").read_text(encoding="utf-8")
    assert "sanctions" in text and "alliance" in text
    copy = text.replace("sanctions", "penalties", 1).replace("alliance", "partnership", 1)
    (tmp_path / "resaved").mkdir()
    (tmp_path / "resaved" / "eurasia_copy.txt").write_text(copy, encoding="utf-8")
    before = engine.store.count_chunks()
    report = engine.ingest([tmp_path / "resaved"])
    assert report.duplicates == {"eurasia_copy": D000}
    assert not (report.added or report.updated) and report.chunks_written == 0
    assert "eurasia_copy" not in {s.doc_id for s in engine.sources()}
    assert engine.store.count_chunks() == before
    assert report.summary().startswith("0 added, 0 updated, 0 unchanged, 0 removed, 1 skipped; ")


# --- files that change --------------------------------------------------------------------------


def _shorten_and_reword(path: Path, marker: str) -> None:
    """Rewrite an article: every paragraph changes and it gets shorter, so no old chunk text (hence id) survives."""
    text = path.read_text(encoding="utf-8")
    cut = text[: len(text) * 2 // 3]
    cut = cut[: cut.rfind(".") + 1]
    new_text = re.sub(r"\bthe\b", "this", cut) + f"\nThe {marker} accord was signed by both ministries on Tuesday.\n"
    assert new_text != text
    path.write_text(new_text, encoding="utf-8")


@pytest.fixture
def modified(tmp_path: Path, embedder, small_corpus):
    """Three articles indexed, then one of them rewritten and the folder ingested again."""
    files = _copy(small_corpus, tmp_path / "articles")
    engine = Engine(Settings(data_dir=tmp_path / "data"), embedder=embedder)
    first = engine.ingest([tmp_path / "articles"])
    assert sorted(first.added) == sorted(f.stem for f in files)
    target = files[1]
    old = _chunks_of(engine, target.stem)
    assert len(old) >= 2
    _shorten_and_reword(target, "Quokkavale")
    report = engine.ingest([tmp_path / "articles"])
    return engine, files, target, old, report


def test_modified_file_is_reindexed(modified) -> None:
    engine, files, target, old, report = modified
    assert report.updated == [target.stem]
    assert not report.added and sorted(report.unchanged) == sorted(f.stem for f in files if f != target)
    record = engine.store.doc_records()[target.stem]
    assert record["status"] == "complete" and 0 < record["chunks"] == report.chunks_written < len(old) + 2
    doc = engine.document(target.stem)
    assert "Quokkavale" in doc.text and " the " not in doc.text.split("Quokkavale")[0]
    hits = engine.lexical.search("Quokkavale accord", 3)
    assert hits and hits[0][1] == target.stem
    new_ids = {c.chunk_id for c in _chunks_of(engine, target.stem)} - {c.chunk_id for c in old}
    assert len(new_ids) == record["chunks"]  # all chunks of the new version are there
    assert all(doc.text[c.start : c.end] == c.text for c in _chunks_of(engine, target.stem) if c.chunk_id in new_ids)
    assert engine.lexical.n_alive == sum(s.chunks for s in engine.sources())


def test_modified_file_leaves_no_chunk_of_its_old_version(modified) -> None:
    engine, _files, target, old, _report = modified
    stored = {c.chunk_id for c in engine.store.get_chunks()}
    assert not {c.chunk_id for c in old} & stored, "chunks of the old version remain in the store"
    assert len(_chunks_of(engine, target.stem)) == engine.store.doc_records()[target.stem]["chunks"]
    assert engine.store.count_chunks() == sum(s.chunks for s in engine.sources())


@pytest.fixture
def pruned(tmp_path: Path, embedder, small_corpus):
    """Three articles indexed, one file deleted, then ingested without and with prune."""
    files = _copy(small_corpus, tmp_path / "articles")
    engine = Engine(Settings(data_dir=tmp_path / "data"), embedder=embedder)
    engine.ingest([tmp_path / "articles"])
    gone = files[0]
    ids = [f.stem for f in files]
    word = _unique_word(engine, gone.stem, ids)
    assert engine.lexical.search(word, 3)[0][1] == gone.stem
    first_sentence = engine.document(gone.stem).text.split("\n\n")[1].split(". ")[0]
    gone.unlink()
    kept = engine.ingest([tmp_path / "articles"])
    kept_sources = {s.doc_id for s in engine.sources()}
    report = engine.ingest([tmp_path / "articles"], prune=True)
    return engine, ids, gone, word, first_sentence, kept, kept_sources, report, tmp_path / "data"


def test_removed_file_is_removed_only_with_prune(pruned, embedder) -> None:
    engine, ids, gone, word, _sentence, kept, kept_sources, report, data = pruned
    assert kept.removed == [] and gone.stem in kept_sources
    assert report.removed == [gone.stem]
    assert sorted(report.unchanged) == sorted(ids[1:]) and report.chunks_written == 0
    assert gone.stem not in {s.doc_id for s in engine.sources()}
    assert gone.stem not in engine.store.doc_records()
    assert all(doc != gone.stem for _, doc, _ in engine.lexical.search(word, 5))
    assert engine.lexical.n_alive == sum(s.chunks for s in engine.sources())
    # A new engine on the same data directory sees the same (nothing lived only in memory).
    fresh = Engine(Settings(data_dir=data), embedder=embedder)
    assert sorted(s.doc_id for s in fresh.sources()) == sorted(ids[1:])


def test_pruned_document_leaves_no_chunks_and_is_never_cited(pruned) -> None:
    engine, _ids, gone, _word, sentence, *_ = pruned
    assert _chunks_of(engine, gone.stem) == []
    assert engine.store.count_chunks() == sum(s.chunks for s in engine.sources())
    answer = engine.answer(sentence)
    assert gone.stem not in {c.doc_id for c in answer.citations} | {p.chunk.doc_id for p in answer.context}


def test_chunks_are_stored_under_their_doc_id(seeded) -> None:
    engine, _ = seeded
    for source in engine.sources():
        by_filter = engine.store.get_chunks(where={"doc_id": source.doc_id})
        assert len(by_filter) == source.chunks, source.doc_id
        by_id = engine.store.get_chunks(ids=[c.chunk_id for c in _chunks_of(engine, source.doc_id)])
        assert {c.doc_id for c in by_id} == {source.doc_id}


# --- bad input --------------------------------------------------------------------------------


def _bad_folder(folder: Path, good: Path) -> dict[str, Path]:
    folder.mkdir(parents=True)
    files = {"good": Path(shutil.copy(good, folder / "good.txt"))}
    files["empty"] = folder / "empty.txt"
    files["empty"].write_bytes(b"")
    files["binary"] = folder / "binary.txt"
    files["binary"].write_bytes(b"\x89PNG\r\n\x1a\n" + np.random.default_rng(1).bytes(4000))
    files["latin1"] = folder / "latin1.txt"
    files["latin1"].write_bytes(
        ("Zürich café owners protest new rents\n\nThe café association of Zürich said on Monday that rents had "
         "risen by a third since 2021. Its président, Renée Müller, called the increase ruinous for small "
         "businesses. The city council will debate a cap on commercial rents next month.\n").encode("latin-1"))
    files["huge"] = folder / "huge.txt"
    files["huge"].write_text("A sentence about nothing in particular fills this file. " * 400, encoding="utf-8")
    files["docx"] = folder / "report.docx"
    files["docx"].write_bytes(b"PK\x03\x04" + b"\0" * 200)
    return files


def test_bad_files_are_skipped_with_a_reason_and_the_rest_indexed(tmp_path: Path, embedder, small_corpus) -> None:
    files = _bad_folder(tmp_path / "mixed", small_corpus[0])
    assert files["good"].stat().st_size < 10_000 < files["huge"].stat().st_size
    locked = None
    if os.geteuid() != 0:  # root reads any file whatever its mode, so this case only runs as a normal user
        locked = tmp_path / "mixed" / "locked.txt"
        locked.write_text("Some text that cannot be read.", encoding="utf-8")
        locked.chmod(0)
    engine = Engine(Settings(data_dir=tmp_path / "data", max_file_mb=0.01), embedder=embedder)
    report = engine.ingest([tmp_path / "mixed"])

    assert sorted(report.added) == ["good", "latin1"]
    skipped = {Path(p).name: reason for p, reason in report.skipped.items()}
    expected = {"empty.txt", "binary.txt", "huge.txt", "report.docx"} | ({"locked.txt"} if locked else set())
    assert set(skipped) == expected
    assert all(str(files[k]) in report.skipped for k in ("empty", "binary", "huge", "docx"))
    assert "empty" in skipped["empty.txt"]
    assert "binary" in skipped["binary.txt"]
    assert "MB" in skipped["huge.txt"] and "RAG_MAX_FILE_MB" in skipped["huge.txt"]
    assert ".docx" in skipped["report.docx"] and "support" in skipped["report.docx"]
    if locked:
        assert "readable" in skipped["locked.txt"] or "permission" in skipped["locked.txt"].lower()
    latin = engine.document("latin1").text
    assert "Zürich café" in latin and "Renée Müller" in latin and "\ufffd" not in latin
    assert sorted(s.doc_id for s in engine.sources()) == ["good", "latin1"]
    assert report.summary().startswith(f"2 added, 0 updated, 0 unchanged, 0 removed, {len(expected)} skipped; ")


def test_a_lexical_index_tokenized_by_an_older_release_is_rebuilt_from_the_store(tmp_path: Path, embedder,
                                                                                   small_corpus) -> None:
    """A stemmer change (a new release) must not leave BM25 terms that queries can no longer match."""
    data = tmp_path / "data"
    Engine(Settings(data_dir=data), embedder=embedder).ingest(small_corpus)
    (state_path,) = (data / "lexical").rglob("state.json")
    state = json.loads(state_path.read_text())
    assert state["tokenizer"] == TOKENIZER
    state["tokenizer"] = "light-suffix-stripper"  # what an older release wrote (it had no tokenizer key at all)
    state["vocab"] = {f"old{t}": i for t, i in state["vocab"].items()}
    state_path.write_text(json.dumps(state))

    engine = Engine(Settings(data_dir=data), embedder=embedder)
    engine.refresh()  # what every question does first
    word = _unique_word(engine, small_corpus[0].stem, [p.stem for p in small_corpus])
    assert engine.lexical.search(word, 3)[0][0].startswith(small_corpus[0].stem)
    assert json.loads(state_path.read_text())["tokenizer"] == TOKENIZER
    assert not any(t.startswith("old") for t in json.loads(state_path.read_text())["vocab"])


def test_oversized_file_message_states_the_real_limit(tmp_path: Path, embedder, small_corpus) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "huge.txt").write_text("Filler sentence for a large file. " * 600, encoding="utf-8")
    engine = Engine(Settings(data_dir=tmp_path / "data", max_file_mb=0.01), embedder=embedder)
    reason = engine.ingest([tmp_path / "in"]).skipped[str(tmp_path / "in" / "huge.txt")]
    assert not re.search(r"(?<![\d.])0 MB|0\.0 MB is over", reason), reason
    assert "20,400 bytes" in reason or "0.02 MB" in reason, reason  # the file's size, stated so one can compare


# --- embedding model mismatch ---------------------------------------------------------------------


class OtherModel:
    """A different embedding model, as far as the store can tell: another name and dimension.

    (Only the store's model check is under test here, so a small deterministic double is enough.)
    """

    name, dim = "other-model", 8

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for tok in tokenize(text):
                out[i, zlib.crc32(tok.encode()) % self.dim] += 1.0
            out[i, 0] += 1e-3
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    embed = encode


def test_embedding_model_mismatch_is_refused_until_rebuild(tmp_path: Path, embedder, small_corpus) -> None:
    _copy(small_corpus[:1], tmp_path / "articles")
    doc_id = small_corpus[0].stem
    Engine(Settings(data_dir=tmp_path / "data"), embedder=embedder).ingest([tmp_path / "articles"])

    other = Engine(Settings(data_dir=tmp_path / "data"), embedder=OtherModel())
    with pytest.raises(EmbeddingMismatch) as info:
        other.sources()
    message = str(info.value)
    assert "all-MiniLM-L6-v2" in message and "other-model" in message
    assert "rag ingest --rebuild" in message
    with pytest.raises(EmbeddingMismatch):
        other.answer("What did the ministry announce?")
    with pytest.raises(EmbeddingMismatch):
        other.ingest([tmp_path / "articles"])

    report = other.ingest([tmp_path / "articles"], rebuild=True)
    assert report.added == [doc_id]
    assert [s.doc_id for s in other.sources()] == [doc_id]
    assert other.store.count_chunks() == other.sources()[0].chunks
    # ... and now the original model is the one refused.
    with pytest.raises(EmbeddingMismatch, match="other-model"):
        Engine(Settings(data_dir=tmp_path / "data"), embedder=embedder).sources()


# --- the same flow against a Chroma server ----------------------------------------------------------


@pytest.mark.slow
def test_ingest_and_answer_against_a_chroma_server(chroma_server: ChromaServer, tmp_path: Path, embedder) -> None:
    settings = Settings(data_dir=tmp_path / "data", chroma_host="127.0.0.1", chroma_port=chroma_server.port)
    engine = Engine(settings, embedder=embedder)
    report = engine.ingest([SEEDS])
    assert sorted(report.added) == SEED_IDS
    sources = engine.sources()
    assert [s.doc_id for s in sources] == SEED_IDS
    assert sources[0].title == "How sanctions are backfiring to fuel a new Eurasian alliance"
    # The chunks live on the server, not in an embedded database under the data directory.
    assert chroma_server.client().get_collection("articles").count() == sum(s.chunks for s in sources)
    assert not (tmp_path / "data" / "chroma").exists()

    answer = engine.answer(Q_ARTICLE4)
    assert not answer.abstained
    assert "Article 4" in answer.text
    assert D000 in {c.doc_id for c in answer.citations}
    for c in answer.citations:
        assert engine.document(c.doc_id).text[c.start : c.end] == c.quote

    again = engine.ingest([SEEDS])
    assert sorted(again.unchanged) == SEED_IDS and again.chunks_written == 0
