"""Synonyms: WordNet's single-word synonyms of a (stemmed) word."""

from __future__ import annotations

import gzip
from functools import lru_cache
from pathlib import Path

_TABLE = Path(__file__).with_name("data") / "synonyms.tsv.gz"


@lru_cache(maxsize=1)
def _table() -> dict[str, tuple[str, ...]]:
    """word -> synonyms, from the table scripts/build_synonyms.py wrote (empty if the file is missing)."""
    if not _TABLE.exists():
        return {}
    out: dict[str, tuple[str, ...]] = {}
    with gzip.open(_TABLE, "rt", encoding="utf-8") as f:
        for line in f:
            if line.startswith("#"):
                continue
            word, _, rest = line.rstrip("\n").partition("\t")
            out[word] = tuple(rest.split())
    return out


def synonyms(word: str) -> tuple[str, ...]:
    """The stemmed synonyms of a stemmed word, most frequent sense first ('portion' -> 'part', …, 'share')."""
    return _table().get(word, ())
