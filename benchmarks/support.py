"""Citation support on labelled claims: ``python -m benchmarks.support``.

LLM mode keeps a generated sentence only if a cited passage supports it (rag/answering/cite.py). This benchmark
labels claims against retrieved passages and scores the support measures on them. For every answerable question
of a set (dev, heldout and the SQuAD held-out benchmark, untuned; seeds for reference) the engine retrieves the
passages an answer would get; from the question's gold answer come
- supported claims: the set's reference answer when it states the answer in three content words or more, and the
  question restated with its answer ("During what century did John Geometres flourish: 10th."), each against the
  best retrieved passage that holds the answer;
- wrong sources: the same claims against the best retrieved passage that does not hold the answer;
- swapped facts: the claims with the answer replaced by another value of its kind (another number of the passage,
  else another answer of the set), against the passage that holds the true one.
Measures: ``support`` (cite.support, what LLM mode uses: embedding similarity plus word overlap, capped when the
claim states a figure or names someone the passage does not) and ``scorer`` (the answer scorer's probability for the
claim against the passage's three closest sentences in place of the embedding similarity, same caps). Figures: ROC
AUC, the share of supported and of unsupported claims kept at the measure's threshold, their balanced accuracy, and
the best balanced accuracy any threshold reaches on that set.
"""

from __future__ import annotations

import argparse
import json
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._util import quiet_env, set_engines

SETS = {"dev": "seeds", "heldout": "seeds", "squad_heldout": "eval/squad_bench/corpus", "seeds": "seeds"}
SCORER_THRESHOLD = 0.5  # the scorer measure's best on dev + the scorer's validation corpus (benchmarks/README.md)
SCORER_SENTENCES = 3  # sentences of a passage the scorer reads per claim: those closest by the support measure
SEED = 7
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


@dataclass(frozen=True)
class Claim:
    """One labelled (claim, passage) pair."""

    question_id: str
    form: str  # "reference" or "restated"
    kind: str  # "supported", "wrong source" or "swapped"
    text: str
    chunk_id: str

    @property
    def supported(self) -> bool:
        return self.kind == "supported"


def holds(text: str, group: Sequence[str]) -> bool:
    """Whether a passage states one of the accepted forms of an answer."""
    low = text.lower()
    return any(a.lower() in low for a in group)


def swap(answer: str, passage: str, question: str, others: Sequence[str], rng: random.Random) -> str | None:
    """Another value of the answer's kind: a number of the passage for a number, else another answer of the set
    that is a number when the answer is one and capitalised when it is; never one the question states."""
    first = _NUMBER.search(answer)
    if first:
        numbers = [n for n in dict.fromkeys(_NUMBER.findall(passage)) if n not in answer and n not in question]
        if numbers:
            return answer.replace(first.group(0), rng.choice(numbers), 1)
    pool = [a for a in others if a.lower() != answer.lower() and a.lower() not in question.lower()
            and bool(_NUMBER.search(a)) == bool(first) and a[:1].isupper() == answer[:1].isupper()]
    return rng.choice(pool) if pool else None


def claims_for(question: dict[str, Any], passages: Sequence[tuple[str, str]], others: Sequence[str],
               rng: random.Random, content_words: Callable[[str], int]) -> list[Claim]:
    """The labelled claims of one answerable question, given its retrieved passages as (chunk id, text)."""
    groups = question["must_include"]
    holding = [p for p in passages if all(holds(p[1], g) for g in groups)]
    if not holding:
        return []  # retrieval missed the answer: nothing to cite
    lacking = [p for p in passages if not any(holds(p[1], g) for g in groups)]
    reference = question.get("reference") or ""
    answer = next((a for a in groups[0] if a.lower() in reference.lower()), None)
    forms = {"restated": f"{question['question'].rstrip(' ?')}: {reference if answer else groups[0][0]}."}
    if answer and content_words(reference) >= 3:
        forms["reference"] = reference
    answer = answer or groups[0][0]
    out: list[Claim] = []
    for form, text in forms.items():
        qid = question["id"]
        out.append(Claim(qid, form, "supported", text, holding[0][0]))
        if lacking:
            out.append(Claim(qid, form, "wrong source", text, lacking[0][0]))
        other = swap(answer, holding[0][1], question["question"], others, rng)
        at = text.lower().find(answer.lower())
        if other is not None and at >= 0:
            out.append(Claim(qid, form, "swapped", text[:at] + other + text[at + len(answer):], holding[0][0]))
    return out


def auc(labels: Sequence[bool], scores: Sequence[float]) -> float:
    """ROC AUC: the chance a supported claim scores above an unsupported one (ties count half)."""
    y, s = np.asarray(labels, bool), np.asarray(scores, float)
    pos, neg = s[y][:, None], s[~y][None, :]
    return float((pos > neg).mean() + 0.5 * (pos == neg).mean()) if pos.size and neg.size else float("nan")


def at_threshold(labels: Sequence[bool], scores: Sequence[float], threshold: float) -> dict[str, float]:
    """The shares of supported and unsupported claims kept (score ≥ threshold) and their balanced accuracy."""
    y, s = np.asarray(labels, bool), np.asarray(scores, float)
    kept_pos, kept_neg = float((s[y] >= threshold).mean()), float((s[~y] >= threshold).mean())
    return {"kept_supported": kept_pos, "kept_unsupported": kept_neg,
            "balanced_accuracy": 0.5 * (kept_pos + 1.0 - kept_neg)}


def figures(labels: Sequence[bool], scores: Sequence[float], threshold: float) -> dict[str, float]:
    grid = np.round(np.arange(0.05, 0.951, 0.025), 3)
    best = max(grid, key=lambda t: at_threshold(labels, scores, t)["balanced_accuracy"])
    return {"auc": auc(labels, scores), "threshold": threshold, **at_threshold(labels, scores, threshold),
            "best_threshold": float(best),
            "best_balanced_accuracy": at_threshold(labels, scores, best)["balanced_accuracy"]}


def scorer_support(claim: str, vec: np.ndarray, sents: Sequence[Any], windows: dict[int, str], scorer: Any) -> float:
    """cite.support with the answer scorer's probability in place of the embedding similarity."""
    from rag.answering.cite import CAPPED, INSTRUCTION, MIN_CLAIM_WORDS, neighbourhood, overstates, support
    from rag.lexical import tokenize
    from rag.scorer import pair_text, window_parts

    sents = [s for s in sents if not INSTRUCTION.search(s.text)]
    words = set(tokenize(claim))
    if not sents or len(words) < MIN_CLAIM_WORDS:
        return 0.0
    lexical = len(words & set().union(*(set(tokenize(s.text)) for s in sents))) / len(words)
    close = sorted(sents, key=lambda s: -(0.6 * (float(vec @ s.vector) if s.vector is not None else 0.0)
                                          + 0.4 * len(words & set(tokenize(s.text))) / len(words)))
    texts = [pair_text(*window_parts(windows[id(s)])) for s in close[:SCORER_SENTENCES]]
    value = 0.5 * float(max(scorer.probs(claim, texts))) + 0.5 * lexical
    near = neighbourhood(support(claim, vec, sents)[1], sents)
    return min(value, CAPPED) if overstates(claim, " ".join(s.text for s in sents), near=near) else value


def measure(engine: Any, questions: list[dict[str, Any]], scorer: Any, limit: int | None) -> list[dict[str, Any]]:
    """Every claim of a question set with its label and each measure's score."""
    from rag.answering.cite import support
    from rag.answering.context import gather
    from rag.answering.evidence import sentence_windows
    from rag.answering.retrieve import Filters
    from rag.lexical import tokenize

    rng = random.Random(SEED)
    answerable = [q for q in questions if q.get("answerable", True) and q.get("must_include") and not q.get("history")]
    others = [g[0] for q in answerable for g in q["must_include"]]
    rows: list[dict[str, Any]] = []
    engine.refresh()
    for q in answerable[:limit]:
        found = gather(q["question"], store=engine.store, lexical=engine.lexical, embedder=engine.embedder,
                       settings=engine.settings, filters=Filters(), allowed=None, timings={})
        passages = {c.chunk.chunk_id: engine._passage(c.chunk, c.fused, c.dense_rank, c.lexical_rank)
                    for c in found.chosen}
        sents = [s for s in found.sentences if s.chunk_id in passages]
        windows = sentence_windows(sents, passages)
        claims = claims_for(q, [(k, p.chunk.text) for k, p in passages.items()], others, rng,
                            lambda t: len(set(tokenize(t))))
        vecs = engine.embedder.embed([c.text for c in claims]) if claims else []
        for claim, vec in zip(claims, vecs, strict=True):
            mine = [s for s in sents if s.chunk_id == claim.chunk_id]
            row = {**asdict(claim), "supported": claim.supported, "support": support(claim.text, vec, mine)[0]}
            if scorer is not None:
                row["scorer"] = scorer_support(claim.text, vec, mine, windows, scorer)
            rows.append(row)
    return rows


def report(rows: list[dict[str, Any]], thresholds: dict[str, float]) -> dict[str, dict[str, float]]:
    labels = [r["supported"] for r in rows]
    return {m: figures(labels, [r[m] for r in rows], t) for m, t in thresholds.items() if rows and m in rows[0]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sets", nargs="*", default=list(SETS), choices=list(SETS))
    p.add_argument("--extra-set", nargs=3, action="append", default=[], metavar=("NAME", "QUESTIONS", "CORPUS"),
                   help="another question set and its corpus (e.g. the scorer's validation corpus)")
    p.add_argument("--scorer", default="packaged", help="the answer scorer for the `scorer` measure (none: skip it)")
    p.add_argument("--limit", type=int, help="at most this many questions per set (a quick run)")
    p.add_argument("--json", type=Path, help="write every claim and the figures here")
    args = p.parse_args()
    quiet_env()
    from rag import Settings
    from rag.providers import build_scorer

    files, engines = set_engines(args.sets, SETS, args.extra_set, "rag-support-")
    settings = Settings(scorer=args.scorer)
    scorer = build_scorer(settings)
    thresholds = {"support": settings.support_threshold, "scorer": SCORER_THRESHOLD}
    out: dict[str, Any] = {"claims": {}, "figures": {}}
    print(f"{'set':14s} {'measure':8s} {'claims':>13s} {'AUC':>6s} {'kept supported':>15s} "
          f"{'kept unsupported':>17s} {'balanced':>9s} {'best (threshold)':>17s}")
    for s in files:  # the named sets, then the --extra-set ones
        questions = [json.loads(line) for line in files[s].read_text().splitlines() if line.strip()]
        rows = measure(engines[s], questions, scorer, args.limit)
        out["claims"][s], out["figures"][s] = rows, report(rows, thresholds)
        n_pos = sum(r["supported"] for r in rows)
        for m, f in out["figures"][s].items():
            print(f"{s:14s} {m:8s} {len(rows):>5d} ({n_pos:>3d} +) {f['auc']:6.3f} {f['kept_supported']:15.2f} "
                  f"{f['kept_unsupported']:17.2f} {f['balanced_accuracy']:9.3f} "
                  f"{f['best_balanced_accuracy']:9.3f} ({f['best_threshold']:.3f})")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
