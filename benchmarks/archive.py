"""A newsroom archive: the seeds + ~11,800 synthetic articles (100k+ chunks) in one resumable index: ``python -m benchmarks.archive``."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
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
    machine_line,
    quiet_env,
    rss_mb,
    seed_questions,
    set_torch_threads,
)
from benchmarks.figures import archive_rows, plot
from benchmarks.scale import (
    QUALITY,
    corpus_questions,
    evaluate,
    latency_figures,
    print_changes,
    small_ingest,
    time_answers,
)

ARTICLES = 11_800  # ≈ 8.8 chunks per generated article (measured at 2,000), less 2% near-duplicates: > 100k chunks
GOALS = {"retrieval_p95_ms": 150.0, "answer_p95_ms": 300.0}


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def build(work: Path, n_articles: int, seed: int) -> dict[str, Any]:
    """Generate the corpus once, then ingest seeds + corpus (a re-run resumes a killed ingest; a finished one is a no-op)."""
    from benchmarks.corpus import generate
    from rag import Engine, Settings

    corpus, marker = work / "corpus", work / "corpus.done"
    if not marker.exists() or marker.read_text().strip() != f"{n_articles} {seed}":
        with Timer() as gen:
            generate(n_articles, corpus, seed)
        marker.write_text(f"{n_articles} {seed}")
        print(f"generated {n_articles:,} articles in {gen.s:.0f} s", file=sys.stderr, flush=True)
    engine = Engine(Settings(data_dir=work / "data", llm="none"))
    engine.store  # load the model and open the collections before measuring  # noqa: B018
    base = rss_mb()
    load_before = _load()

    def progress(done: int, total: int, name: str) -> None:
        if done % 500 == 0 or done == total:
            print(f"  [{time.strftime('%H:%M:%S')}] {done:,}/{total:,} files, load {_load()}", file=sys.stderr, flush=True)

    with RssSampler() as mem, Timer() as t:
        report = engine.ingest([SEEDS, corpus], progress=progress)
    run = {"finished": time.strftime("%Y-%m-%d %H:%M:%S"), "seconds": t.s, "chunks_written": report.chunks_written,
           "added": len(report.added), "updated": len(report.updated), "unchanged": len(report.unchanged),
           "skipped": len(report.skipped), "duplicates": len(report.duplicates),
           "chunks_per_s": report.chunks_written / t.s if t.s else 0.0, "load_before": load_before, "load_after": _load(),
           "rss_base_mb": base, "peak_rss_mb": mem.peak_self, "rss_after_mb": rss_mb(), "machine": machine_line()}
    runs_path = work / "ingest_runs.json"
    runs = json.loads(runs_path.read_text()) if runs_path.exists() else []
    runs_path.write_text(json.dumps([*runs, run], indent=2))
    print(f"ingest: {report.summary()}", file=sys.stderr, flush=True)
    return ingest_log(work)


def ingest_log(work: Path) -> dict[str, Any] | None:
    """Every ingest run into the archive so far, and the totals of those that wrote chunks (a killed run is absent)."""
    runs_path = work / "ingest_runs.json"
    if not runs_path.exists():
        return None
    runs = json.loads(runs_path.read_text())
    written = [r for r in runs if r["chunks_written"]]
    return {"runs": runs, "ingest_s": sum(r["seconds"] for r in written),
            "chunks_written": sum(r["chunks_written"] for r in written), "ingest_runs_with_writes": len(written),
            "duplicates": sum(r["duplicates"] for r in written), "skipped": max((r["skipped"] for r in runs), default=0)}


def served(work: Path, n_fragments: int, seed: int) -> dict[str, Any]:
    """The same archive behind a real `chroma run` over its Chroma folder: latency and client/server RSS."""
    from rag import Engine, Settings

    settings = Settings(data_dir=work / "data", llm="none")
    with chroma_server(settings.chroma_path) as server:
        engine = Engine(Settings(data_dir=work / "data", llm="none", chroma_host=server.host, chroma_port=server.port))
        engine.refresh(force=True)
        rss_open = rss_mb()
        docs = [s.doc_id for s in engine.sources()]
        timed = _time_queries(engine, docs, n_fragments, seed)
        if engine.lexical.path:  # this client's BM25 copy is keyed by the server's (random) port: derived data
            shutil.rmtree(engine.lexical.path, ignore_errors=True)
    return {"rss_open_mb": rss_open, **timed, "load_during_queries": _load()}


def _time_queries(engine: Any, docs: list[str], n_fragments: int, seed: int) -> dict[str, Any]:
    """Latency of fragment queries and of the answerable seed questions, and the RSS peaks while answering."""
    fragments = corpus_questions(engine, sorted(d for d in docs if d.startswith("syn_")), n_fragments, seed)
    seeds = [(q.question, q.sources[0] if q.sources else "") for q in seed_questions() if q.answerable]
    with RssSampler() as qmem:
        frag_rows, per_answer = time_answers(engine, fragments)
        seed_rows, _ = time_answers(engine, seeds)
    return {"peak_rss_answering_mb": qmem.peak_self, "server_peak_rss_mb": qmem.peak_children,
            "texts_encoded_per_answer": per_answer, "fragments": latency_figures(frag_rows),
            "seed_questions": latency_figures(seed_rows)}


QUESTION_SETS = [SEED_QUESTIONS.parent / f"{name}.jsonl" for name in ("seeds", "dev", "heldout")]


def query(work: Path, n_fragments: int, seed: int) -> dict[str, Any]:
    """A fresh process opens the archive: RSS, fragment-query and seed-question latency, quality, a small ingest."""
    from eval.dataset import load_questions
    from rag import Engine, Settings

    rss_start = rss_mb()
    engine = Engine(Settings(data_dir=work / "data", llm="none"))
    with Timer() as open_t:
        engine.refresh(force=True)  # opens Chroma, loads the model, reads document records and the BM25 blocks
    rss_open = rss_mb()
    docs = [s.doc_id for s in engine.sources()]
    chunks = engine.store.count_chunks()
    print(f"archive: {len(docs):,} documents, {chunks:,} chunks, opened in {open_t.s:.1f} s", file=sys.stderr, flush=True)
    out: dict[str, Any] = {
        "documents": len(docs), "chunks": chunks, "open_s": open_t.s, "rss_interpreter_mb": rss_start,
        "rss_open_mb": rss_open, **_time_queries(engine, docs, n_fragments, seed),
        "index_mb": dir_size_mb(work / "data"), "chroma_mb": dir_size_mb(work / "data" / "chroma"),
        "lexical_mb": dir_size_mb(work / "data" / "lexical"), "load_during_queries": _load(),
    }
    sets = {path.stem: load_questions(path)[0] for path in QUESTION_SETS}
    out["quality"] = {name: {"archive": evaluate(engine, qs, f"archive {name}")} for name, qs in sets.items()}
    with tempfile.TemporaryDirectory(prefix="rag-bench-archive-") as tmp:
        small = small_ingest(engine, Path(tmp) / "increment", seed)
        engine.remove(small.pop("small_ingest_doc_ids"))  # keep the archive as it was, for the next run
        seeds_only = Engine(Settings(data_dir=Path(tmp) / "seeds", llm="none"), embedder=engine.embedder)
        seeds_only.ingest([SEEDS])
        for name, qs in sets.items():
            out["quality"][name]["seeds_only"] = evaluate(seeds_only, qs, f"seeds only {name}")
    out.update(small)
    return out


def report(b: dict[str, Any] | None, q: dict[str, Any], srv: dict[str, Any] | None) -> None:
    print(f"\narchive: {q['documents']:,} documents, {q['chunks']:,} chunks; index {q['index_mb']:,.0f} MiB on disk "
          f"(Chroma {q['chroma_mb']:,.0f}, BM25 {q['lexical_mb']:,.0f})")
    wrote = [r for r in (b or {}).get("runs", []) if r["chunks_written"]]
    if b and wrote:
        print(f"ingest: {b['chunks_written']:,} chunks in {b['ingest_s']:,.0f} s over {b['ingest_runs_with_writes']} "
              f"run(s) = {b['chunks_written'] / max(b['ingest_s'], 1e-9):.1f} chunks/s; peak RSS "
              f"{max(r['peak_rss_mb'] for r in wrote):,.0f} MiB (model loaded: {wrote[0]['rss_base_mb']:,.0f}); "
              f"{b['duplicates']} near-duplicates not indexed; load {wrote[0]['load_before']} -> {wrote[-1]['load_after']}")
    print(f"a fresh process opens it in {q['open_s']:.1f} s; RSS {q['rss_interpreter_mb']:,.0f} MiB (interpreter) -> "
          f"{q['rss_open_mb']:,.0f} (model + index open) -> peak {q['peak_rss_answering_mb']:,.0f} while answering")
    print(f"{'queries':<37}{'n':>4}{'retr p50':>10}{'retr p95':>10}{'ans p50':>10}{'ans p95':>10}{'src hit':>9}")
    rows = [("10-word fragments of random articles", q["fragments"]), ("seed questions (answerable)", q["seed_questions"])]
    if srv:
        rows += [("fragments, through `chroma run`", srv["fragments"]),
                 ("seed questions, through `chroma run`", srv["seed_questions"])]
    for label, f in rows:
        print(f"{label:<37}{f['questions']:>4}{f['retrieval_p50_ms']:>10.1f}{f['retrieval_p95_ms']:>10.1f}"
              f"{f['answer_p50_ms']:>10.1f}{f['answer_p95_ms']:>10.1f}{f['source_in_context']:>9.0%}")
    if srv:
        print(f"through the server: client RSS {srv['rss_open_mb']:,.0f} MiB open, peak {srv['peak_rss_answering_mb']:,.0f}; "
              f"chroma server peak {srv['server_peak_rss_mb']:,.0f} MiB; load {srv['load_during_queries']}")
    f = q["fragments"]
    print(f"stage p50 ms (fragments): embed {f['embed_p50_ms']:.1f}, retrieve {f['retrieve_p50_ms']:.1f}, rerank "
          f"{f['rerank_p50_ms']:.1f}; texts encoded per answer {q['texts_encoded_per_answer']:.1f}; load {q['load_during_queries']}")
    for metric, goal in GOALS.items():
        got = max(f[metric] for _, f in rows)
        print(f"goal {metric} <= {goal:.0f} ms: {got:.1f} ms {'MET' if got <= goal else 'MISSED'}")
    print(f"+10 articles: {q['small_ingest_s']:.1f} s, {q['small_ingest_chunks']} chunks, BM25 blocks rewritten "
          f"{q['small_ingest_bm25_blocks_rewritten']} of {q['bm25_blocks']}")
    for name, scored in q["quality"].items():
        print(f"\n{name}.jsonl quality, extractive: {'metric':<22}{'seeds only':>12}{'archive':>12}")
        for key in QUALITY:
            a, z = scored["seeds_only"][key], scored["archive"][key]
            print(f"{'':<33}{key:<22}{'-' if a is None else f'{a:.3f}':>12}{'-' if z is None else f'{z:.3f}':>12}")
        print_changes(scored["seeds_only"]["problems"], scored["archive"]["problems"], "the archive")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.archive", description=__doc__)
    ap.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "rag-archive",
                    help="work folder: corpus, index and ingest log persist here between runs")
    ap.add_argument("--articles", type=int, default=ARTICLES)
    ap.add_argument("--fragments", type=int, default=60, help="distinct fragment queries")
    ap.add_argument("--ingest-only", action="store_true", help="build (or resume building) the index, then stop")
    ap.add_argument("--query-only", action="store_true", help="skip the ingest step (the index must exist)")
    ap.add_argument("--server", action="store_true", help="also query the archive through a real `chroma run`")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--torch-threads", type=int, help="torch intra-op threads")
    ap.add_argument("--out", type=Path, default=OUT, help="folder for archive.json")
    args = ap.parse_args(argv)
    quiet_env()
    set_torch_threads(args.torch_threads)
    args.dir.mkdir(parents=True, exist_ok=True)
    print(machine_line())
    built = ingest_log(args.dir) if args.query_only else build(args.dir, args.articles, args.seed)
    if args.ingest_only:
        print(json.dumps(built["runs"][-1], indent=2) if built else "")
        return 0
    queried = query(args.dir, args.fragments, args.seed)
    server = served(args.dir, args.fragments, args.seed) if args.server else None
    report(built, queried, server)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "archive.json").write_text(json.dumps({"build": built, "query": queried, "server": server}, indent=2))
    print(f"wrote {args.out / 'archive.json'}")
    scale_json = args.out / "scale.json"  # add the archive to scale.py's plot, next to its smaller sizes
    earlier = json.loads(scale_json.read_text())["rows"] if scale_json.exists() else []
    plot(earlier + archive_rows(args.out / "archive.json"), args.out / "scale.png")
    print(f"wrote {args.out / 'scale.png'} ({len(earlier)} rows of {scale_json.name} + the archive)")
    print(machine_line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
