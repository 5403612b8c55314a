"""Build the standalone-after-unrelated-turns set from a question set: ``python scripts/build_unrelated.py``.

Each answerable question of dev.jsonl that has no history of its own is asked again after an unrelated exchange (a
question about other articles and its reference answer), so a run shows whether earlier turns leak into a question
that does not lean on them. Seeded: the output is the same every time (eval/questions/dev_unrelated.jsonl).
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def build(rows: list[dict], seed: int = 5) -> list[dict]:
    rng = random.Random(seed)
    plain = [r for r in rows if not r.get("history") and r["answerable"]]
    out = []
    for r in plain:
        others = [o for o in plain if o["id"] != r["id"] and not set(o["sources"]) & set(r["sources"])] or \
                 [o for o in plain if o["id"] != r["id"]]
        o = rng.choice(others)
        history = [{"role": "user", "content": o["question"]},
                   {"role": "assistant", "content": o["reference"] or "See the sources."}]
        out.append({**r, "id": r["id"] + "u", "history": history})
    return out


def main(argv: list[str] | None = None) -> int:
    src = ROOT / "eval" / "questions" / "dev.jsonl"
    rows = [json.loads(line) for line in src.read_text(encoding="utf-8").splitlines() if line.strip()]
    dest = ROOT / "eval" / "questions" / "dev_unrelated.jsonl"
    dest.write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in build(rows)), encoding="utf-8")
    print(f"wrote {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
