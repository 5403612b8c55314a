"""Latency, memory and index size against corpus size, plus a mixed-corpus quality check: ``python -m benchmarks.scale``."""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from benchmarks._util import (
    OUT,
    SEED_QUESTIONS,
    SEEDS,
    RssSampler,
    Timer,
    chroma_server,
    dir_size_mb,
    fmt_row,
    machine_line,
    p50_p95,
    peak_rss_mb,
    quiet_env,
    rss_mb,
    set_torch_threads,
)
from benchmarks.figures import archive_rows, plot

INCREMENT = 10  # articles added to the largest index to show BM25 is updated, not rebuilt
STAGES = ("embed", "retrieve", "rerank")
QUALITY = ("fact_recall", "context_recall", "citation_precision", "grounded_refusal_f1", "quote_validity", "hit@5")


def corpus_questions(engine: Any, doc_ids: list[str], n: int, seed: int) -> list[tuple[str, str]]:
    """(query, source doc id): a ten-word fragment of a random long sentence of a random article, all distinct."""
    from rag.text import split_sentences

    rng, out, seen = random.Random(seed), [], set()
    for doc_id in rng.sample(doc_ids, min(len(doc_ids), 3 * n)):
        found = engine.store.doc_text(doc_id)
        if found is None:
            continue
        text = found[1]
        sents = [text[s:e] for s, e in split_sentences(text) if len(text[s:e].split()) >= 14]
        if not sents:
            continue
        words = rng.choice(sents).split()
        start = rng.randrange(0, len(words) - 11)
        query = " ".join(words[start : start + 10]).strip(" ,.;:")
        if query not in seen:
            seen.add(query)
            out.append((query, doc_id))
        if len(out) == n:
            break
    return out


def time_answers(engine: Any, questions: list[tuple[str, str]]) -> tuple[list[dict[str, Any]], float]:
    """Answer each (query, source doc id) after two warm-ups: per-query stage timings and whether the source was
    retrieved/cited; plus the texts encoded per answer (1.0 means only the question: no document re-embedding)."""
    for q, _ in questions[:2]:
        engine.answer(q + " (warm-up)")
    encoded = {"texts": 0}
    raw_encode = engine.embedder.encode

    def counting_encode(texts: Any) -> Any:
        encoded["texts"] += len(texts)
        return raw_encode(texts)

    engine.embedder.encode = counting_encode
    rows = []
    try:
        for q, src in questions:
            with Timer() as wall:
                ans = engine.answer(q)
            tm = ans.timings
            rows.append({"retrieval": sum(tm.get(k, 0.0) for k in STAGES), **{k: tm.get(k, 0.0) for k in STAGES},
                         "answer": tm["total"], "wall": wall.ms,
                         "hit": src in {p.chunk.doc_id for p in ans.context},
                         "cited": src in {c.doc_id for c in ans.citations}})
    finally:
        engine.embedder.encode = raw_encode
    return rows, encoded["texts"] / max(len(rows), 1)


def latency_figures(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """p50/p95 of retrieval and answer, p50 of each stage, and the source hit/cite rates of ``time_answers`` rows."""
    r_p50, r_p95 = p50_p95(r["retrieval"] for r in rows)
    a_p50, a_p95 = p50_p95(r["answer"] for r in rows)
    n = max(len(rows), 1)
    return {"questions": len(rows), "retrieval_p50_ms": r_p50, "retrieval_p95_ms": r_p95, "answer_p50_ms": a_p50,
            "answer_p95_ms": a_p95, "answer_wall_p50_ms": p50_p95(r["wall"] for r in rows)[0],
            **{f"{k}_p50_ms": p50_p95(r[k] for r in rows)[0] for k in STAGES},
            "source_in_context": sum(r["hit"] for r in rows) / n, "source_cited": sum(r["cited"] for r in rows) / n}


def small_ingest(engine: Any, folder: Path, seed: int) -> dict[str, Any]:
    """Ingest INCREMENT new articles into the index: seconds, chunks, and how many BM25 block files were rewritten."""
    from benchmarks.corpus import article_text, doc_id

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(INCREMENT):
        (folder / f"inc_{doc_id(1000 + i)}.txt").write_text(article_text(seed + 1, 1000 + i), encoding="utf-8")
    lex_dir = engine.lexical.path
    before = {p.name: p.stat().st_mtime_ns for p in lex_dir.glob("block_*")} if lex_dir else {}
    with Timer() as t:
        report = engine.ingest([folder])
    after = {p.name: p.stat().st_mtime_ns for p in lex_dir.glob("block_*")} if lex_dir else {}
    return {"small_ingest_s": t.s, "small_ingest_chunks": report.chunks_written,
            "small_ingest_doc_ids": report.added + report.updated,
            "small_ingest_bm25_blocks_rewritten": sum(1 for k, v in after.items() if before.get(k) != v),
            "bm25_blocks": len(after)}


def measure(size: int, backend: str, n_questions: int, seed: int) -> dict[str, Any]:
    """One corpus size on one backend, in this (fresh) process."""
    quiet_env()
    from benchmarks.corpus import articles_for_chunks, generate
    from rag import Engine, Settings
    from rag.lexical import LexicalIndex

    n_articles = articles_for_chunks(size)
    with tempfile.TemporaryDirectory(prefix="rag-bench-scale-") as tmp_name, ExitStack() as stack:
        tmp = Path(tmp_name)
        generate(n_articles, tmp / "corpus", seed)
        settings = Settings(data_dir=tmp / "data", llm="none")
        index_dirs = [tmp / "data"]
        if backend == "server":
            server = stack.enter_context(chroma_server(tmp / "chroma-server"))
            settings = Settings(data_dir=tmp / "data", llm="none", chroma_host=server.host, chroma_port=server.port)
            index_dirs.append(tmp / "chroma-server")
        engine = Engine(settings)
        engine.store  # load the model and open the collections before measuring  # noqa: B018
        base_rss = rss_mb()
        with RssSampler() as mem, Timer() as ingest:
            report = engine.ingest([tmp / "corpus"])
        chunks = engine.store.count_chunks()
        rss_after_ingest = rss_mb()
        print(f"[{backend} {size}] {report.summary()}", file=sys.stderr, flush=True)

        questions = corpus_questions(engine, sorted(report.added), n_questions, seed)
        with RssSampler() as qmem:
            rows, per_answer = time_answers(engine, questions)
        small = small_ingest(engine, tmp / "increment", seed)
        with Timer() as records_t:
            engine.store.doc_records()
        with Timer() as read_all:
            all_chunks = engine.store.get_chunks(where=None)
        with Timer() as rebuild:
            LexicalIndex(None).add(all_chunks, {})
        del all_chunks

        small.pop("small_ingest_doc_ids")
        return {
            "backend": backend, "target_chunks": size, "articles": n_articles, "documents": len(report.added),
            "chunks": chunks, "ingest_s": ingest.s, "chunks_per_s": report.chunks_written / ingest.s,
            "docs_per_s": len(report.added) / ingest.s, **latency_figures(rows), "texts_encoded_per_answer": per_answer,
            "rss_base_mb": base_rss, "rss_after_ingest_mb": rss_after_ingest, "peak_rss_mb": peak_rss_mb(),
            "peak_rss_ingest_mb": mem.peak_self, "peak_rss_answer_mb": qmem.peak_self,
            "server_peak_rss_mb": max(mem.peak_children, qmem.peak_children) if backend == "server" else None,
            "index_mb": sum(dir_size_mb(d) for d in index_dirs), "lexical_mb": dir_size_mb(tmp / "data" / "lexical"),
            **small,
            "doc_records_s": records_t.s, "read_all_chunks_s": read_all.s, "bm25_full_build_s": rebuild.s,
        }


def run_child(size: int, backend: str, n_questions: int, seed: int) -> dict[str, Any]:
    """measure() in a fresh interpreter, so peak RSS belongs to this size alone."""
    cmd = [sys.executable, "-m", "benchmarks.scale", "--one", str(size), "--backend", backend,
           "--questions", str(n_questions), "--seed", str(seed)]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=True)
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT "):])


COLUMNS = [("backend", "backend", 9), ("chunks", "chunks", 8), ("ingest_s", "ingest s", 9),
           ("chunks_per_s", "chunks/s", 9), ("retrieval_p50_ms", "retr p50", 9), ("retrieval_p95_ms", "retr p95", 9),
           ("answer_p50_ms", "ans p50", 8), ("answer_p95_ms", "ans p95", 8), ("source_in_context", "src hit", 8),
           ("rss_base_mb", "RSS base", 9), ("peak_rss_mb", "RSS peak", 9), ("peak_rss_answer_mb", "RSS ans", 8), ("server_peak_rss_mb", "srv RSS", 8),
           ("index_mb", "index MiB", 10), ("small_ingest_s", "+10 art s", 10), ("bm25_full_build_s", "BM25 full s", 12)]


def print_table(rows: list[dict[str, Any]]) -> None:
    widths = [w for _, _, w in COLUMNS]
    print(fmt_row([h for _, h, _ in COLUMNS], widths))
    for r in rows:
        print(fmt_row(["-" if r.get(k) is None else r[k] for k, _, _ in COLUMNS], widths))
    print("(latencies in ms; RSS in MiB; src hit = share of fragment queries whose source article is in the context)")
    for r in rows:
        print(f"[{r['backend']} {r['chunks']:,} chunks] +{INCREMENT} articles: {r['small_ingest_s']:.2f} s for "
              f"{r['small_ingest_chunks']} chunks, BM25 blocks rewritten {r['small_ingest_bm25_blocks_rewritten']} of "
              f"{r['bm25_blocks']}; for comparison a from-scratch BM25 build of the whole index takes "
              f"{r['bm25_full_build_s']:.2f} s (+ {r['read_all_chunks_s']:.2f} s to read every chunk); reading all "
              f"document records (done by every ingest) {r['doc_records_s']:.2f} s")
        print(f"[{r['backend']} {r['chunks']:,} chunks] RSS over the loaded model ({r['rss_base_mb']:.0f} MiB): peak "
              f"in ingest +{r['peak_rss_ingest_mb'] - r['rss_base_mb']:.0f}, after ingest "
              f"+{r['rss_after_ingest_mb'] - r['rss_base_mb']:.0f}, peak while answering "
              f"+{r['peak_rss_answer_mb'] - r['rss_base_mb']:.0f} MiB; index {r['index_mb']:.1f} MiB on disk")
        print(f"[{r['backend']} {r['chunks']:,} chunks] stage p50 ms: embed {r['embed_p50_ms']:.1f}, retrieve "
              f"{r['retrieve_p50_ms']:.1f}, rerank {r['rerank_p50_ms']:.1f}; texts encoded per answer "
              f"{r['texts_encoded_per_answer']:.1f}; source in context {r['source_in_context']:.0%}, cited "
              f"{r['source_cited']:.0%}")


def print_changes(before: dict[str, str], after: dict[str, str], where: str) -> None:
    """The questions answered worse, and better, in a bigger index than with the seeds alone."""
    for qid in sorted(set(after) - set(before)):
        print(f"  new problem in {where}: {qid} {after[qid]}")
    for qid in sorted(set(before) - set(after)):
        print(f"  fixed in {where}: {qid} (was {before[qid]})")


def evaluate(engine: Any, questions: list[Any], label: str) -> dict[str, Any]:
    """Score the question set exactly as `rag eval` does (eval.run's run_questions, score and summarize)."""
    from eval.run import DocTexts, run_questions, summarize

    engine.answer("What do the articles say?")  # the same warm-up as `rag eval`
    rows = run_questions(questions, lambda q: engine.answer(q.question, history=[t.model_dump() for t in q.history]),
                         DocTexts(engine), label)
    overall = summarize(rows)["overall"]
    problems = {r["id"]: f"{r['type']}: {r['problem']} (cited {', '.join(r['cited_doc_ids']) or 'nothing'})"
                for r in rows if r["problem"]}
    return {**{k: overall.get(k) for k in QUALITY}, "problems": problems}


def mixed(n_articles: int, seed: int) -> dict[str, Any]:
    """Seeds alone vs seeds + N synthetic articles in one index, scored on eval/questions/seeds.jsonl."""
    quiet_env()
    from benchmarks.corpus import generate
    from eval.dataset import load_questions
    from rag import Engine, Settings
    from rag.providers import build_embedder

    questions, _bad = load_questions(SEED_QUESTIONS)
    embedder = build_embedder(Settings(llm="none"))
    out: dict[str, Any] = {"questions": len(questions), "synthetic_articles": n_articles}
    with tempfile.TemporaryDirectory(prefix="rag-bench-mixed-") as tmp_name:
        tmp = Path(tmp_name)
        generate(n_articles, tmp / "corpus", seed)
        for label, paths in (("seeds_only", [SEEDS]), ("mixed", [SEEDS, tmp / "corpus"])):
            engine = Engine(Settings(data_dir=tmp / label, llm="none"), embedder=embedder)
            with Timer() as t:
                report = engine.ingest(paths)
            print(f"[mixed] {label}: {report.summary()} ({t.s:.0f} s)", file=sys.stderr, flush=True)
            out[label] = {**evaluate(engine, questions, label), "chunks": engine.store.count_chunks()}
    return out


def print_mixed(m: dict[str, Any]) -> None:
    print(f"\nanswer quality on eval/questions/seeds.jsonl ({m['questions']} questions, extractive, scored by eval.run as "
          f"`rag eval` does), seeds alone vs "
          f"seeds + {m['synthetic_articles']:,} synthetic articles in one index:")
    print(f"{'metric':<22}{'seeds only':>12}{'mixed':>12}{'change':>10}")
    for key in QUALITY:
        a, b = m["seeds_only"][key], m["mixed"][key]
        change = f"{b - a:+.3f}" if a is not None and b is not None else "-"
        print(f"{key:<22}{a if a is None else f'{a:.3f}':>12}{b if b is None else f'{b:.3f}':>12}{change:>10}")
    print(f"{'chunks in the index':<22}{m['seeds_only']['chunks']:>12,}{m['mixed']['chunks']:>12,}")
    print_changes(m["seeds_only"]["problems"], m["mixed"]["problems"], "the mixed index")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.scale", description=__doc__)
    ap.add_argument("--sizes", default="1000,10000", help="comma-separated corpus sizes in chunks")
    ap.add_argument("--server", action="store_true", help="also run against a real `chroma run` server")
    ap.add_argument("--server-sizes", help="sizes for the server runs (default: --sizes)")
    ap.add_argument("--questions", type=int, default=30, help="distinct fragment queries per size")
    ap.add_argument("--mixed", type=int, metavar="N", help="also score seeds + N synthetic articles in one index")
    ap.add_argument("--no-sizes", action="store_true", help="skip the size sweep (e.g. only --mixed)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--torch-threads", type=int, help="torch intra-op threads (also in the per-size processes)")
    ap.add_argument("--out", type=Path, default=OUT, help="folder for scale.json and scale.png")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--backend", default="embedded", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    set_torch_threads(args.torch_threads)
    if args.one:
        print("RESULT " + json.dumps(measure(args.one, args.backend, args.questions, args.seed)))
        return 0

    print(machine_line())
    figures: dict[str, Any] = {"rows": []}
    if not args.no_sizes:
        sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
        server_sizes = [int(s) for s in (args.server_sizes or args.sizes).split(",") if s.strip()]
        plan = [(s, "embedded") for s in sizes] + [(s, "server") for s in server_sizes if args.server]
        for size, backend in plan:
            print(f"running {backend} at ~{size:,} chunks...", file=sys.stderr, flush=True)
            figures["rows"].append(run_child(size, backend, args.questions, args.seed))
        print()
        print_table(figures["rows"])
        plot(figures["rows"] + archive_rows(args.out / "archive.json"), args.out / "scale.png")
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "scale.json").write_text(json.dumps(figures, indent=2))
        print(f"wrote {args.out / 'scale.png'} and {args.out / 'scale.json'}")
    if args.mixed:
        result = mixed(args.mixed, args.seed)
        print_mixed(result)
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "mixed.json").write_text(json.dumps(result, indent=2))
        print(f"wrote {args.out / 'mixed.json'}")
    print(machine_line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
