"""Sentence splitting and chunking: exact offsets, token bounds, overlap, stable ids, speed."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from rag.ingestion.chunk import chunk_document
from rag.ingestion.clean import clean_document
from rag.text import normalize_for_match, split_sentences
from rag.tokens import count_tokens
from rag.types import Chunk, Document

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
SIZES = [(16, 4), (32, 8), (64, 16), (128, 32), (256, 64)]


def _sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in split_sentences(text)]


@pytest.fixture(scope="module")
def docs() -> list[Document]:
    return [
        clean_document(Document(doc_id=p.stem, source=str(p), text=p.read_text(encoding="utf-8")))
        for p in sorted(SEEDS.glob("*.txt"))
    ]


# --- sentence splitting ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Mr. Smith met Dr. Jones and Gen. Lee in the U.S. on Jan. 5. They talked.",
            ["Mr. Smith met Dr. Jones and Gen. Lee in the U.S. on Jan. 5.", "They talked."],
        ),
        ("The U.K. and the U.S. The talks failed.", ["The U.K. and the U.S.", "The talks failed."]),
        ("By T. Jayani, JadeTimes News\nThe pact was signed.", ["By T. Jayani, JadeTimes News", "The pact was signed."]),
        ("Jung E-gil wrote it. Kim Jong-un read it.", ["Jung E-gil wrote it.", "Kim Jong-un read it."]),
        (
            "Trade hit US$240.1 billion, up 26%. Trade was $3.6 billion. It grew 31.6% in 2023.",
            ["Trade hit US$240.1 billion, up 26%.", "Trade was $3.6 billion.", "It grew 31.6% in 2023."],
        ),
        (
            "“The possibility exists,” he also said. “Why?” asked Putin. He said “Go now.” Then he left!",
            ["“The possibility exists,” he also said.", "“Why?” asked Putin.", "He said “Go now.”", "Then he left!"],
        ),
        (
            "«#China is no longer what it was,» Hua tweeted. «Certain individuals should think twice.»",
            ["«#China is no longer what it was,» Hua tweeted.", "«Certain individuals should think twice.»"],
        ),
        (
            "Headline Without Period\n\n  Body sentence one.   Body two?\nNext line",
            ["Headline Without Period", "Body sentence one.", "Body two?", "Next line"],
        ),
        ("See p. 12 and No. 5 for details. Roe v. Wade was cited.", ["See p. 12 and No. 5 for details.", "Roe v. Wade was cited."]),
        (
            "They met on June 19, 2024. (EPA/Yonhap)\nIs it e.g. true? Yes.",
            ["They met on June 19, 2024. (EPA/Yonhap)", "Is it e.g. true?", "Yes."],
        ),
        (". «A stray period starts this line.»\n* * *\nEnd.", [". «A stray period starts this line.»", "End."]),
        ("", []),
    ],
)
def test_split_sentences_news_cases(text: str, expected: list[str]) -> None:
    assert _sentences(text) == expected


def test_split_sentences_spans_are_trimmed_and_within_bounds() -> None:
    text = "  Skip this. Take this one.  And this one.  \nNot this."
    start, end = text.index("Take"), text.index("\nNot")
    spans = split_sentences(text, start, end)
    assert [text[s:e] for s, e in spans] == ["Take this one.", "And this one."]
    assert all(start <= s < e <= end for s, e in spans)


def test_split_sentences_on_seeds_never_breaks_initials_or_decimals(docs: list[Document]) -> None:
    sentences = [s for d in docs for s in _sentences(d.text)]
    assert "By T. Jayani, JadeTimes News" in sentences
    assert all(not s.endswith((" T.", "US$240.", "Mr.", "Dr.")) for s in sentences)
    assert any("US$240.1 billion" in s for s in sentences)
    for d in docs:
        for s, e in split_sentences(d.text):
            assert d.text[s:e] == d.text[s:e].strip() and "\n" not in d.text[s:e]


def test_split_sentences_is_fast() -> None:
    text = "\n".join(p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))) * 100  # ~4.5 MB
    t0 = time.perf_counter()
    spans = split_sentences(text)
    assert time.perf_counter() - t0 < 3
    assert len(spans) > 25_000


def test_normalize_for_match() -> None:
    assert normalize_for_match("  «Hello» — “World’s”\u00a0 TEST…\n") == '"hello" - "world\'s" test...'


# --- chunking --------------------------------------------------------------------------------


@pytest.mark.parametrize(("size", "overlap"), SIZES)
def test_chunk_text_is_exactly_the_document_span(docs: list[Document], size: int, overlap: int) -> None:
    for doc in docs:
        chunks = chunk_document(doc, size, overlap)
        assert chunks
        for pos, c in enumerate(chunks):
            assert doc.text[c.start : c.end] == c.text
            assert c.position == pos and c.doc_id == doc.doc_id
            assert c.text == c.text.strip()


@pytest.mark.parametrize(("size", "overlap"), SIZES)
def test_chunks_fit_the_token_budget_and_carry_their_count(docs: list[Document], size: int, overlap: int) -> None:
    for doc in docs:
        chunks = chunk_document(doc, size, overlap)
        assert max(count_tokens(c.text) for c in chunks) <= size
        assert [c.tokens for c in chunks] == [count_tokens(c.text) for c in chunks]


@pytest.mark.parametrize(("size", "overlap"), SIZES)
def test_chunks_cover_every_sentence_in_order(docs: list[Document], size: int, overlap: int) -> None:
    for doc in docs:
        chunks = chunk_document(doc, size, overlap)
        assert all(a.start < b.start and a.end < b.end for a, b in zip(chunks, chunks[1:], strict=False))
        covered = [(c.start, c.end) for c in chunks]
        for s, e in split_sentences(doc.text):
            assert any(cs <= s and e <= ce for cs, ce in covered) or any(s <= cs < e for cs, _ in covered)


def test_chunk_sentences_are_document_sentences(docs: list[Document]) -> None:
    for doc in docs:
        doc_spans = set(split_sentences(doc.text))
        for c in chunk_document(doc, 128, 32):
            assert {(c.start + s, c.start + e) for s, e in split_sentences(c.text)} <= doc_spans


def test_consecutive_chunks_overlap_by_trailing_sentences(docs: list[Document]) -> None:
    for doc in docs:
        chunks = chunk_document(doc, 128, 32)
        overlapping = [(a, b) for a, b in zip(chunks, chunks[1:], strict=False) if b.start < a.end]
        assert overlapping, doc.doc_id
        for a, b in overlapping:
            shared = doc.text[b.start : a.end]
            assert count_tokens(shared) <= 32 + 2 and a.text.endswith(shared) and b.text.startswith(shared)
            assert b.start in {a.start + s for s, _ in split_sentences(a.text)}  # starts on a sentence of a
    no_overlap = chunk_document(docs[0], 128, 0)
    assert all(b.start >= a.end for a, b in zip(no_overlap, no_overlap[1:], strict=False))


def test_chunk_ids_are_stable_and_follow_content(docs: list[Document]) -> None:
    doc = docs[1]
    first = [c.chunk_id for c in chunk_document(doc, 128, 32)]
    assert first == [c.chunk_id for c in chunk_document(doc.model_copy(), 128, 32)]
    assert first[0].startswith(f"{doc.doc_id}:00000:") and len(first[0].split(":")[2]) == 12
    assert len(set(first)) == len(first)
    edited = doc.model_copy(update={"text": doc.text.replace("Putin", "Medvedev", 1)})
    changed = [c.chunk_id for c in chunk_document(edited, 128, 32)]
    assert changed[0] != first[0] and changed[-1] == first[-1]


def test_sentence_longer_than_chunk_is_split_at_word_boundaries() -> None:
    words = " ".join(f"word{i}" for i in range(400))
    doc = Document(doc_id="long", source="x", text=f"Short intro.\n{words} end.\nShort outro.")
    chunks = chunk_document(doc, 32, 8)
    assert len(chunks) > 5
    for c in chunks:
        assert doc.text[c.start : c.end] == c.text and count_tokens(c.text) <= 32
        assert (c.start == 0 or not doc.text[c.start - 1].isalnum()) and (c.end == len(doc.text) or not doc.text[c.end].isalnum())
    assert "".join(doc.text[c.start : c.end] for c in chunks).count("word399") >= 1


def test_giant_word_and_non_latin_text_are_split_within_budget() -> None:
    text = "x" * 5000 + "\n" + "클릭시 원문으로 이동하는 버튼 " * 200
    doc = Document(doc_id="odd", source="x", text=text)
    chunks = chunk_document(doc, 20, 5)
    assert all(doc.text[c.start : c.end] == c.text and count_tokens(c.text) <= 20 for c in chunks)
    assert chunks[-1].end == len(text.rstrip())


def test_empty_document_has_no_chunks_and_overlap_never_loops() -> None:
    assert chunk_document(Document(doc_id="e", source="x", text=""), 64, 16) == []
    doc = Document(doc_id="o", source="x", text="One two three. Four five six. Seven eight nine.")
    chunks = chunk_document(doc, 16, 10_000)
    assert chunks and chunks[-1].end == len(doc.text)


def test_chunking_is_fast(docs: list[Document]) -> None:
    big = Document(doc_id="big", source="x", text="\n\n".join(d.text for d in docs) * 60)  # ~2.6 MB
    count_tokens("warm up")
    t0 = time.perf_counter()
    chunks = chunk_document(big, 128, 32)
    assert time.perf_counter() - t0 < 5
    assert len(chunks) > 4000


def test_a_chunk_from_an_older_index_counts_its_tokens_when_asked() -> None:
    old = Chunk(chunk_id="d:00000:x", doc_id="d", position=0, start=0, end=30, text="Putin arrived in Hanoi on Thursday.")
    assert old.tokens is None
    assert old.size == count_tokens(old.text) > 0
