"""Our sentence splitter (rag.text.split_sentences) beside pysbd: ``python -m benchmarks.splitter``.

On the seeds and the SQuAD benchmark's paragraphs: the time each takes over the same texts (a ratio, measured in one
run), how many sentences each finds, and every boundary where they disagree, printed with its context so that a reader
can judge who is right. pysbd is a dev dependency (`make setup-dev`).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from benchmarks._util import REPO, machine_line
from rag.text import split_sentences


def _ends(text: str, spans: list[tuple[int, int]]) -> set[int]:
    """Sentence ends, trailing whitespace ignored, so that only real boundary differences count."""
    return {len(text[:end].rstrip()) for _, end in spans}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--squad-docs", type=int, default=150, help="SQuAD benchmark paragraphs to add to the seeds")
    p.add_argument("--show", type=int, default=40, help="disagreements to print")
    p.add_argument("--repeat", type=int, default=3, help="timing repetitions (the best is kept)")
    args = p.parse_args()
    import pysbd

    files = sorted((REPO / "seeds").glob("*.txt"))
    files += sorted((REPO / "eval" / "squad_bench" / "corpus").glob("*.txt"))[: args.squad_docs]
    texts = [f.read_text(encoding="utf-8") for f in files]
    seg = pysbd.Segmenter(language="en", clean=False, char_span=True)

    def best(fn) -> tuple[float, list[list[tuple[int, int]]]]:
        times, out = [], []
        for _ in range(args.repeat):
            t = time.perf_counter()
            out = [fn(x) for x in texts]
            times.append(time.perf_counter() - t)
        return min(times), out

    ours_s, ours = best(split_sentences)
    theirs_s, theirs = best(lambda x: [(s.start, s.end) for s in seg.segment(x)])
    shown = disagreements = 0
    for path, text, a, b in zip(files, texts, ours, theirs, strict=True):
        mine, other = _ends(text, a), _ends(text, b)
        for pos in sorted(mine ^ other):
            disagreements += 1
            if shown < args.show:
                shown += 1
                who = "ours only " if pos in mine else "pysbd only"
                print(f"{who} {Path(path).name[:24]:24} {text[max(0, pos - 60):pos]!r} | {text[pos:pos + 30]!r}")
    chars = sum(map(len, texts))
    print(machine_line())
    print(f"{len(texts)} documents, {chars:,} characters")
    print(f"ours : {sum(map(len, ours)):5} sentences, {ours_s * 1000:8.1f} ms")
    print(f"pysbd: {sum(map(len, theirs)):5} sentences, {theirs_s * 1000:8.1f} ms ({theirs_s / ours_s:.0f}x ours)")
    print(f"boundaries where they disagree: {disagreements}")


if __name__ == "__main__":
    main()
