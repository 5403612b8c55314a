"""Pack a cleaned document's sentences into token-bounded, overlapping chunks with exact character offsets."""

from __future__ import annotations

import hashlib
import re

from rag.text import split_sentences
from rag.tokens import count_tokens
from rag.types import Chunk, Document

_WORD = re.compile(r"\S+")


def chunk_id(doc_id: str, position: int, text: str) -> str:
    """Stable id: document id, position and a hash of the chunk's text."""
    return f"{doc_id}:{position:05d}:{hashlib.sha1(text.encode('utf-8')).hexdigest()[:12]}"


def _split_chars(text: str, start: int, end: int, size: int) -> list[tuple[int, int]]:
    """Cut one enormous "word" (a URL, a blob) into pieces of at most ``size`` tokens."""
    pieces = []
    while start < end:
        lo, hi = 1, min(end - start, size * 64)
        while lo < hi:  # the longest prefix that fits
            mid = (lo + hi + 1) // 2
            if count_tokens(text[start : start + mid]) <= size:
                lo = mid
            else:
                hi = mid - 1
        pieces.append((start, start + lo))
        start += lo
    return pieces


def _split_long(text: str, start: int, end: int, size: int) -> list[tuple[int, int]]:
    """Cut a sentence longer than ``size`` tokens at word boundaries."""
    pieces: list[tuple[int, int]] = []
    piece_start = piece_end = -1
    total = 0
    for m in _WORD.finditer(text, start, end):
        ws, we = m.span()
        if piece_start >= 0:
            cost = count_tokens(text[piece_end:we])
            if total + cost <= size:
                total += cost
                piece_end = we
                continue
            pieces.append((piece_start, piece_end))
        cost = count_tokens(text[ws:we])
        if cost > size:
            pieces.extend(_split_chars(text, ws, we, size))
            piece_start, total = -1, 0
        else:
            piece_start, piece_end, total = ws, we, cost
    if piece_start >= 0:
        pieces.append((piece_start, piece_end))
    return pieces


def _units(text: str, size: int) -> tuple[list[tuple[int, int]], list[int]]:
    """Sentence spans (any sentence over ``size`` tokens cut into word-boundary pieces) and, for each,
    the tokens it adds after the previous unit, its leading whitespace included."""
    units: list[tuple[int, int]] = []
    joined: list[int] = []
    prev_end = -1
    for s, e in split_sentences(text):
        cost = count_tokens(text[s if prev_end < 0 else prev_end : e])
        if cost > size and count_tokens(text[s:e]) > size:
            for ps, pe in _split_long(text, s, e, size):
                units.append((ps, pe))
                joined.append(count_tokens(text[ps if prev_end < 0 else prev_end : pe]))
                prev_end = pe
        else:
            units.append((s, e))
            joined.append(cost)
        prev_end = e
    return units, joined


def chunk_document(doc: Document, chunk_size: int, overlap: int) -> list[Chunk]:
    """Consecutive sentences packed into chunks of at most ``chunk_size`` tokens.

    Each chunk's text is exactly ``doc.text[start:end]``. The next chunk repeats the trailing
    sentences of the previous one, up to ``overlap`` tokens; every chunk adds at least one new sentence.
    """
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1 token")
    overlap = max(0, overlap)
    text = doc.text
    units, joined = _units(text, chunk_size)
    n = len(units)
    if n == 0:
        return []
    # joined[i]: tokens unit i adds after unit i-1; alone[i]: its tokens as a chunk's first unit.
    alone: dict[int, int] = {}

    def first_cost(i: int) -> int:
        if i not in alone:
            alone[i] = count_tokens(text[units[i][0] : units[i][1]])
        return alone[i]

    chunks: list[Chunk] = []
    i = 0
    while i < n:
        total = first_cost(i)
        j = i + 1
        while j < n and total + joined[j] <= chunk_size:
            total += joined[j]
            j += 1
        start, end = units[i][0], units[j - 1][1]
        body = text[start:end]
        pos = len(chunks)
        chunks.append(
            Chunk(chunk_id=chunk_id(doc.doc_id, pos, body), doc_id=doc.doc_id, position=pos, start=start, end=end, text=body,
                  tokens=count_tokens(body))
        )
        if j >= n:
            break
        # Step back over trailing units while they fit the overlap budget and leave room for unit j.
        k, carried = j, 0
        while k - 1 > i:
            cost = carried + joined[k - 1]
            if cost > overlap or cost + joined[j] > chunk_size:
                break
            carried = cost
            k -= 1
        i = k
    return chunks
