"""Synonyms: WordNet's single-word synonyms of a (stemmed) word, and the country of a capital city ('Seoul')."""

from __future__ import annotations

import gzip
from functools import lru_cache
from pathlib import Path

_TABLE = Path(__file__).with_name("data") / "synonyms.tsv.gz"
_CAPITALS = Path(__file__).with_name("data") / "capitals.tsv"


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


@lru_cache(maxsize=1)
def _capitals() -> dict[str, str]:
    if not _CAPITALS.exists():
        return {}
    lines = _CAPITALS.read_text(encoding="utf-8").splitlines()
    return dict(line.split("\t", 1) for line in lines if "\t" in line)


def country_of(city: str) -> str | None:
    """The country whose capital the word names, as written ('Seoul' -> 'South Korea'); None for anything else."""
    return _capitals().get(city)
