"""`rag eval FILE`: answer a JSONL question set through the public path, score it, compare a baseline, gate."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from eval import metrics as m
from eval.dataset import Question, load_questions
from eval.judge import JUDGE_METRICS, Judge, build_judge
from eval.report import console, safe_settings, write_report
from rag.engine import Engine
from rag.types import Answer

ROW_METRICS = ("hit@1", "hit@3", "hit@5", "mrr", "context_recall", "context_tokens", "fact_recall", "token_f1",
               "citation_precision", "citation_recall", "quote_validity", "sentence_coverage", "crag")
ABSTENTION_METRICS = ("refusal_precision", "refusal_recall", "refusal_f1", "answer_precision", "answer_recall",
                      "answer_f1", "grounded_refusal_f1", "crag_score")
GATE_METRICS = tuple(n for n in ROW_METRICS if n != "context_tokens") + ABSTENTION_METRICS + JUDGE_METRICS
EXIT_GATE, EXIT_USAGE = 1, 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `rag eval`."""
    parser.add_argument("file", type=Path, help="question set (JSONL, see eval/dataset.py)")
    parser.add_argument("--baseline", action="store_true", help="also run the plain llama-index baseline")
    parser.add_argument("--json", dest="json_out", type=Path, metavar="OUT", help="write rows and summary as JSON")
    parser.add_argument("--report", type=Path, metavar="DIR", help="write DIR/report.md and DIR/chart.png")
    parser.add_argument("--min", dest="gates", action="append", default=[], metavar="METRIC=VALUE",
                        help="fail (exit 1) when the overall METRIC of ours is below VALUE (repeatable)")
    parser.add_argument("--ingest", nargs="+", action="extend", type=Path, default=[], metavar="PATH",
                        help="index these files or folders first (incremental)")
    parser.add_argument("--limit", type=int, metavar="N", help="only the first N valid questions")
    parser.add_argument("--no-judge", action="store_true", help="skip LLM-judged metrics even if an LLM is set")


def parse_gates(specs: Sequence[str]) -> dict[str, float]:
    """'fact_recall=0.85' -> {'fact_recall': 0.85}; ValueError naming the known metrics otherwise."""
    gates: dict[str, float] = {}
    for spec in specs:
        name, sep, value = spec.partition("=")
        name = name.strip()
        if name not in GATE_METRICS:
            raise ValueError(f"unknown metric {name!r} in --min {spec!r}; known: {', '.join(GATE_METRICS)}")
        try:
            gates[name] = float(value)
        except ValueError:
            raise ValueError(f"--min {spec!r}: expected METRIC=NUMBER") from None
        if not sep:
            raise ValueError(f"--min {spec!r}: expected METRIC=NUMBER")
    return gates


def check_gates(overall: dict[str, Any], gates: dict[str, float]) -> list[str]:
    """One 'FAIL metric value < min' line per failed gate (a metric that was not measured fails)."""
    failed = []
    for name, minimum in gates.items():
        value = overall.get(name)
        if value is None:
            failed.append(f"FAIL {name} n/a (not measured) < {minimum:g}")
        elif value < minimum:
            failed.append(f"FAIL {name} {value:.3f} < {minimum:g}")
    return failed


class DocTexts(Mapping[str, str]):
    """Cleaned document texts fetched from the engine on first use; an unknown id is missing (KeyError)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._texts: dict[str, str | None] = {}

    def __getitem__(self, doc_id: str) -> str:
        if doc_id not in self._texts:
            try:
                self._texts[doc_id] = self.engine.document(doc_id).text
            except Exception:  # not indexed (or the store failed): the quote cannot be checked, so it is invalid
                self._texts[doc_id] = None
        text = self._texts[doc_id]
        if text is None:
            raise KeyError(doc_id)
        return text

    def __iter__(self) -> Iterator[str]:
        return (k for k, v in self._texts.items() if v is not None)

    def __len__(self) -> int:
        return sum(v is not None for v in self._texts.values())


def score(q: Question, answer: Answer | None, docs: DocTexts, error: str = "") -> dict[str, Any]:
    """The per-question row; a failed question (``answer`` None) scores as a wrong, empty answer."""
    answer = answer or Answer(question=q.question, text="")
    context = answer.context
    ranked = [p.chunk.doc_id for p in context]
    cited = list(dict.fromkeys(c.doc_id for c in answer.citations))
    gold, facts, abstained = q.sources, q.must_include, answer.abstained
    fact = m.fact_recall(answer.text, facts, abstained)
    answered = not abstained and not error
    row: dict[str, Any] = {
        "id": q.id, "type": q.type, "question": q.question, "answerable": q.answerable, "abstained": abstained,
        "answer": answer.text, "cited_doc_ids": cited, "context_doc_ids": list(dict.fromkeys(ranked)),
        "hit@1": m.hit_at_k(ranked, gold, 1), "hit@3": m.hit_at_k(ranked, gold, 3),
        "hit@5": m.hit_at_k(ranked, gold, 5), "mrr": m.mrr(ranked, gold),
        "context_recall": m.context_recall("\n\n".join(p.chunk.text for p in context), facts),
        "context_tokens": answer.context_tokens if not error else None,
        "fact_recall": fact,
        "token_f1": (0.0 if abstained else m.token_f1(answer.text, q.reference)) if q.answerable and q.reference
        else None,
        "citation_precision": m.citation_precision(cited, gold) if answered else None,
        "citation_recall": m.citation_recall(cited, gold) if answered else None,
        "quote_validity": m.quote_validity(answer.citations, docs),
        "sentence_coverage": m.sentence_coverage(answer.text) if answered else None,
        "crag": m.crag_score(q.answerable, abstained, m.is_correct(fact)),
        "correct": m.is_correct(fact),
        "timings": dict(answer.timings),
        "error": error,
    }
    row["problem"] = diagnose(row)
    return row


def diagnose(row: dict[str, Any]) -> str:
    """What went wrong with a row, in words ('' when nothing did)."""
    problems = []
    if row["error"]:
        problems.append(f"error: {row['error']}")
    elif not row["answerable"]:
        if not row["abstained"]:
            problems.append("answered an unanswerable")
    else:
        ctx = row["context_recall"]
        where = " (missing from context)" if ctx is not None and ctx < 1 else " (in context)"
        if row["abstained"]:
            problems.append("abstained wrongly" + where)
        elif (row["fact_recall"] or 0) < 1:
            problems.append("missing fact in answer" + where)
        if row["citation_precision"] is not None and row["citation_precision"] < 1:
            problems.append("wrong citation")
    return "; ".join(problems)


def run_questions(questions: Sequence[Question], ask: Callable[[Question], Answer], docs: DocTexts,
                  label: str, judge: Judge | None = None) -> list[dict[str, Any]]:
    """Answer and score every question; an exception becomes a failure row, never a crash."""
    from tqdm import tqdm

    rows = []
    for q in tqdm(questions, desc=label, unit="q", file=sys.stderr, mininterval=0.5, dynamic_ncols=True):
        try:
            answer: Answer | None = ask(q)
            error = ""
        except Exception as exc:  # a failing question is a result, not the end of the run
            answer, error = None, f"{type(exc).__name__}: {exc}"
        row = score(q, answer, docs, error)
        if judge is not None and answer is not None:
            row.update(judge.score(q.question, q.reference, q.answerable, answer))
        rows.append(row)
    return rows


def summarize(rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Means overall and per type, abstention scores, latency percentiles per stage, and the error count."""
    rows = list(rows)
    means = m.aggregate([{k: v for k, v in r.items() if k not in ("correct", "answerable")} for r in rows])
    abstention = m.abstention_scores({"answerable": r["answerable"], "abstained": r["abstained"],
                                      "correct": r["correct"]} for r in rows)
    overall = {**means.pop("overall", {"n": 0}), **abstention}
    stages = list(dict.fromkeys(s for r in rows for s in r["timings"]))
    latency = {s: m.percentiles(r["timings"].get(s) for r in rows) for s in stages}
    return {"overall": overall, "by_type": means, "abstention": abstention, "latency": latency,
            "errors": sum(bool(r["error"]) for r in rows)}


def cmd_eval(args: argparse.Namespace) -> int:
    """Run the evaluation; exit 1 only when a --min gate fails, 2 on a usage error or a file with no valid question."""
    try:
        gates = parse_gates(args.gates)
        questions, bad = load_questions(args.file)
    except (ValueError, FileNotFoundError) as exc:
        print(f"rag eval: {exc}", file=sys.stderr)
        return EXIT_USAGE
    for line in bad:
        print(f"bad question line {line}", file=sys.stderr)
    if not questions:
        why = f"none of its {len(bad)} non-blank lines is a valid question (see above)" if bad else "it is empty"
        print(f"rag eval: no valid question in {args.file}: {why} (format: eval/dataset.py)", file=sys.stderr)
        return EXIT_USAGE
    if args.limit is not None:
        questions = questions[: max(args.limit, 0)]
    from rag import get_engine

    engine = get_engine()
    if args.ingest:
        print(f"ingest: {engine.ingest(args.ingest).summary()}", file=sys.stderr)
    docs = DocTexts(engine)
    judge = None if args.no_judge else build_judge(engine, args.report)
    judge_info: dict[str, Any] = {"model": judge.model} if judge else {
        "skipped": "--no-judge" if args.no_judge else "no LLM configured"}
    if judge is None:
        print(f"LLM-judged metrics: skipped ({judge_info['skipped']})", file=sys.stderr)

    def ours(q: Question) -> Answer:
        return engine.answer(q.question, history=[t.model_dump() for t in q.history])

    if questions:  # warm up (model load, caches) so the first question's latency is not the cold start
        try:
            engine.answer("What do the articles say?")
        except Exception:  # the real run reports any problem per question
            pass
    rows = {"ours": run_questions(questions, ours, docs, "ours", judge)}
    summary: dict[str, Any] = {"file": str(args.file), "invalid_lines": bad, "ours": summarize(rows["ours"])}
    if args.baseline:
        from eval.baseline import SETTINGS as BASELINE_SETTINGS
        from eval.baseline import Baseline

        baseline = Baseline(engine)
        rows["baseline"] = run_questions(questions, lambda q: baseline.answer(q.question), docs, "baseline", judge)
        summary["baseline"] = summarize(rows["baseline"])
        summary["baseline_settings"] = BASELINE_SETTINGS
    if judge is not None:
        judge.save()
        judge_info.update(calls=judge.calls, cache_hits=judge.cache.hits, last_error=judge.last_error)
    summary["judge"] = judge_info
    summary["settings"] = {"engine": safe_settings(engine.settings) | {"refusal_cutoff": engine.refusal_cutoff},
                           "embedder": engine.embedder.name,
                           "mode": engine.mode, "baseline": summary.get("baseline_settings")}
    print(console(summary))
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps({"summary": summary, "rows": rows}, indent=2, ensure_ascii=False,
                                            default=str), encoding="utf-8")
    if args.report:
        print(f"report: {write_report(args.report, summary, rows)}", file=sys.stderr)
    failed = check_gates(summary["ours"]["overall"], gates)
    for line in failed:
        print(line)
    return EXIT_GATE if failed else 0
