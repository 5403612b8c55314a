"""The incremental BM25 index: exact scores after adds and removals, persistence, compaction."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

from rag.lexical import LexicalIndex, stem, tokenize
from rag.types import Chunk


def chunk(doc: str, i: int, text: str) -> Chunk:
    return Chunk(chunk_id=f"{doc}:{i}", doc_id=doc, position=i, start=0, end=len(text), text=text)


DOCS = {
    "a": ["Putin signed a pact with Kim in Pyongyang.", "The pact covers military assistance."],
    "b": ["Vietnam signed eleven agreements with Russia.", "Trade with China reached 171 billion."],
    "c": ["Iran helped build a drone factory in Tatarstan.", "The factory makes Shahed drones."],
}


def reference_scores(chunks: list[Chunk], query: str) -> dict[str, float]:
    """BM25 (k1=1.2, b=0.75) computed from scratch, for comparison."""
    toks = {c.chunk_id: tokenize(c.text) for c in chunks}
    n = len(chunks)
    avgdl = sum(len(t) for t in toks.values()) / n
    out = {}
    for cid, t in toks.items():
        score = 0.0
        for q in set(tokenize(query)):
            df = sum(q in other for other in toks.values())
            tf = t.count(q)
            if tf:
                idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
                score += idf * tf * 2.2 / (tf + 1.2 * (1 - 0.75 + 0.75 * len(t) / avgdl))
        if score:
            out[cid] = score
    return out


def build(docs: dict[str, list[str]], index: LexicalIndex) -> list[Chunk]:
    chunks = []
    for doc, texts in docs.items():
        cs = [chunk(doc, i, t) for i, t in enumerate(texts)]
        index.add(cs, {doc: "fp"})
        chunks += cs
    return chunks


def test_scores_match_bm25_computed_from_scratch_after_adds_and_removals() -> None:
    index = LexicalIndex()
    chunks = build(DOCS, index)
    index.remove_docs(["c"])
    live = [c for c in chunks if c.doc_id != "c"]
    for query in ["signed pact", "drone factory", "trade China billion", "Pyongyang"]:
        got = {cid: s for cid, _, s in index.search(query, 10)}
        want = reference_scores(live, query)
        assert got.keys() == want.keys()
        for cid in want:
            assert math.isclose(got[cid], want[cid], rel_tol=1e-5)


def test_search_can_be_restricted_to_some_documents() -> None:
    index = LexicalIndex()
    build(DOCS, index)
    assert {d for _, d, _ in index.search("signed", 10, allowed_docs={"b"})} == {"b"}
    index.remove_docs(["c"])  # several blocks, one tombstoned: the restricted scores are the unrestricted ones
    everywhere = {cid: s for cid, d, s in index.search("signed pact trade", 10) if d in {"a", "b"}}
    within = {cid: s for cid, _, s in index.search("signed pact trade", 10, allowed_docs={"a", "b", "c"})}
    assert within == everywhere and within


def test_index_survives_save_load_and_compaction(tmp_path) -> None:
    index = LexicalIndex(tmp_path / "lex")
    for i in range(12):  # more blocks than the compaction limit
        index.add([chunk(f"d{i}", 0, f"article number {i} about topic{i % 3}")], {f"d{i}": str(i)})
    index.remove_docs(["d3"])
    index.generation = "g1"
    index.save()
    loaded = LexicalIndex.load(tmp_path / "lex")
    assert loaded.generation == "g1" and "d3" not in loaded.fingerprints
    assert loaded.search("topic0", 20) and all(d != "d3" for _, d, _ in loaded.search("number", 20))
    assert [r[0] for r in loaded.search("topic1", 5)] == [r[0] for r in index.search("topic1", 5)]


def test_a_corrupt_index_on_disk_loads_empty_so_it_is_rebuilt(tmp_path) -> None:
    (tmp_path / "lex").mkdir()
    (tmp_path / "lex" / "state.json").write_text("{broken")
    assert LexicalIndex.load(tmp_path / "lex").n_alive == 0


def test_an_undone_ingest_leaves_no_tombstoned_block_behind(tmp_path) -> None:
    """Adding articles and removing them again (a benchmark's small ingest, a user's undo) drops their block, on disk
    too, so repeated runs do not pile up dead blocks that every search walks through."""
    index = LexicalIndex(tmp_path / "lex")
    build(DOCS, index)
    index.save()
    before = sorted(p.name for p in (tmp_path / "lex").glob("block_*.npz"))
    index.add([chunk("new", 0, "Ten more articles about drones.")], {"new": "fp"})
    index.save()
    assert len(index.blocks) == len(before) + 1
    index.remove_docs(["new"])
    index.save()
    assert len(index.blocks) == len(before)
    assert sorted(p.name for p in (tmp_path / "lex").glob("block_*.npz")) == before
    loaded = LexicalIndex.load(tmp_path / "lex")
    assert loaded.n_alive == index.n_alive == 6
    assert loaded.search("drone factory", 5) == index.search("drone factory", 5) != []
    assert "new" not in {d for _, d, _ in loaded.search("drones articles", 10)}


def test_tokens_are_snowball_stems_so_inflections_match() -> None:
    assert tokenize("The sanctions were called") == tokenize("a sanction they call") == ["sanction", "call"]
    assert tokenize("countries calling") == tokenize("country called")


def test_stemming_agrees_across_threads() -> None:
    words = [f"{w}{suffix}" for w in ("sanction", "agree", "country", "negotiat") for suffix in ("", "s", "ed", "ing")]
    expected = [stem(w) for w in words]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: [stem(w) for w in words * 200][: len(words)], range(32)))
    assert all(r == expected for r in results)
