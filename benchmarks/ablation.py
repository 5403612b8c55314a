"""Per-rule ablation with the scorer on (the shipped engine): ``python -m benchmarks.ablation --extra-set squadval Q C
--extra-set newsdev eval/newsdev/questions.jsonl eval/newsdev/corpus --extra-set newsdev2 eval/newsdev2/questions.jsonl
eval/newsdev2/corpus``.

Each variant switches hand rules off (rag/answering: answer_type.py, focus.py, synthesize.py; several joined by '+') and
runs the question sets on indexes built once per corpus. A rule stays only if switching it off loses at least 0.02
of fact recall + grounded-refusal F1 summed over the tuning sets (dev.jsonl, and given with --extra-set: newsdev,
newsdev2 and the scorer's validation corpus, squadval); the report-only sets (heldout, the SQuAD held-out
benchmark) are printed beside, never used to choose. Figures: fact recall / grounded-refusal F1 / citation
precision, and that summed change (negative: the rule helps).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

from benchmarks._util import machine_line, quiet_env, set_engines

SETS = {"dev": "seeds", "heldout": "seeds", "squad_heldout": "eval/squad_bench/corpus"}  # eval/questions/<name>.jsonl
TUNING = ("dev", "newsdev", "newsdev2", "squadval")
METRICS = ("fact_recall", "grounded_refusal_f1", "citation_precision")

_YES: Callable[..., bool] = lambda *a, **k: True  # noqa: E731
_NO: Callable[..., bool] = lambda *a, **k: False  # noqa: E731
_ONE: Callable[..., float] = lambda *a, **k: 1.0  # noqa: E731

S = "rag.answering.synthesize"
# variant -> (what the rule does, the patches that switch it off)
VARIANTS: dict[str, tuple[str, list[tuple[str, Any]]]] = {
    "all rules": ("every rule on (the shipped engine)", []),
    "answer type": ("a lead offers the kind of answer asked for (the learned answer_type.offer)",
                    [("rag.answering.answer_type.offer", _ONE)]),
    "role, title": ("'who is the <title>' names someone holding it", [(f"{S}.holds", _YES), (f"{S}.titled", _YES)]),
    "pair": ("'between A and B' sentences name that pair (focus.same_pair)", [(f"{S}.same_pair", _YES)]),
    "redundant": ("a sentence repeating a chosen one is skipped", [(f"{S}._redundant", _NO)]),
    "parts": ("multi-part questions are split, one lead per part (parts.split_parts)",
              [("rag.answering.context.split_parts", lambda q: [q])]),
    "no fit rules": ("every fit rule off (synthesize.fits, also a feature of the lead model)",
                     [(f"{S}.fits", _YES), ("rag.answering.decide.fit", _ONE)]),
}


def _clear_caches() -> None:
    """Rules cache their parse of a question (synthesize._asked, lexical.term_set…): start each variant clean."""
    for name, module in list(sys.modules.items()):
        if name.startswith("rag."):
            for obj in vars(module).values():
                if callable(getattr(obj, "cache_clear", None)) and getattr(obj, "__module__", "") == name:
                    obj.cache_clear()


@contextlib.contextmanager
def _patched(patches: list[tuple[str, Any]]) -> Iterator[None]:
    with contextlib.ExitStack() as stack:
        for target, value in patches:
            stack.enter_context(mock.patch(target, value))
        _clear_caches()
        yield
    _clear_caches()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--variants", nargs="*", default=list(VARIANTS),
                   help="variant names, several switched off together joined by '+' (default: each alone)")
    p.add_argument("--scorer", default="packaged",
                   help="RAG_SCORER for every variant (default packaged: the shipped engine; none: the rules alone)")
    p.add_argument("--cutoff", type=float, default=None, help="RAG_REFUSAL_CUTOFF when a scorer is set")
    p.add_argument("--sets", nargs="*", default=list(SETS), choices=list(SETS))
    p.add_argument("--extra-set", nargs=3, action="append", default=[], metavar=("NAME", "QUESTIONS", "CORPUS"),
                   help="another question set and its corpus (e.g. a validation corpus built like the benchmark)")
    p.add_argument("--json", type=Path, help="write the figures here")
    args = p.parse_args()
    quiet_env()
    from eval.dataset import load_questions
    from eval.run import DocTexts, run_questions, summarize

    extra = {} if args.cutoff is None else {"refusal_cutoff": args.cutoff}
    files, engines = set_engines(args.sets, SETS, args.extra_set, "rag-ablation-", scorer=args.scorer, **extra)
    sets = list(files)  # the named sets, then the --extra-set ones
    questions = {s: load_questions(files[s])[0] for s in sets}

    results: dict[str, dict[str, dict[str, float]]] = {}
    for name in args.variants:
        patches = [patch for part in name.split("+") for patch in VARIANTS[part.strip()][1]]
        results[name] = {}
        with _patched(patches):
            for s in sets:
                engine = engines[s]
                rows = run_questions(questions[s], lambda q, e=engine: e.answer(
                    q.question, history=[t.model_dump() for t in q.history]), DocTexts(engine), f"{name}/{s}")
                overall = summarize(rows)["overall"]
                results[name][s] = {k: float(overall.get(k) or 0.0) for k in METRICS}
        print(_row(name, results[name], results.get("all rules")), flush=True)
    print(machine_line())
    print(_table(results, sets))
    if args.json:
        args.json.write_text(json.dumps({"variants": {k: v[0] for k, v in VARIANTS.items()}, "results": results},
                                        indent=2))


def _delta(mine: dict[str, dict[str, float]], ref: dict[str, dict[str, float]] | None) -> float | None:
    if ref is None:
        return None
    keys = [s for s in TUNING if s in mine and s in ref]
    return sum(mine[s][m] - ref[s][m] for s in keys for m in METRICS[:2])


def _row(name: str, mine: dict[str, dict[str, float]], ref: dict[str, dict[str, float]] | None) -> str:
    cells = [" / ".join(f"{r[m]:.3f}" for m in METRICS) for r in mine.values()]
    d = _delta(mine, ref)
    return f"| {name} | " + " | ".join(cells) + f" | {'' if d is None else f'{d:+.3f}'} |"


def _table(results: dict[str, dict[str, dict[str, float]]], sets: list[str]) -> str:
    head = "| rule switched off | " + " | ".join(sets) + " | Δ tuning (FR + GR-F1) |"
    lines = [head, "|" + "---|" * (len(sets) + 2)]
    ref = results.get("all rules")
    lines += [_row(name, mine, ref) for name, mine in results.items()]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
