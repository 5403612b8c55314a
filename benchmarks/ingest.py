"""Ingest throughput vs the raw encoder, memory, index size, time breakdown and re-run: ``python -m benchmarks.ingest``."""

from __future__ import annotations

import argparse
import importlib
import json
import random
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks._util import (
    SEEDS,
    RssSampler,
    Timer,
    dir_size_mb,
    machine_line,
    peak_rss_mb,
    quiet_env,
    set_torch_threads,
    timed,
)

GOAL_RATIO = 0.8


def _instrument(engine: Any, acc: dict[str, float]) -> list[tuple[Any, str, Any]]:
    """Wrap the ingest stages with timers; returns (owner, name, original) to restore."""
    index_mod = importlib.import_module("rag.ingestion.index")  # `rag.ingest` is also a function name

    patches: list[tuple[Any, str, Any]] = [
        (index_mod.Indexer, "_prepare", index_mod.Indexer._prepare),
        (index_mod, "embed_chunks", index_mod.embed_chunks),
    ]
    index_mod.Indexer._prepare = timed(index_mod.Indexer._prepare, acc, "prepare")  # type: ignore[method-assign]
    index_mod.embed_chunks = timed(index_mod.embed_chunks, acc, "embed_chunks")
    store, lexical = engine.store, engine.lexical
    for name in ("put_docs", "delete_doc_chunks", "add_sentences", "add_chunks"):
        patches.append((store, name, getattr(store, name)))
        setattr(store, name, timed(getattr(store, name), acc, "store_write"))
    patches.append((lexical, "add", lexical.add))
    lexical.add = timed(lexical.add, acc, "lexical_add")
    patches.append((lexical, "save", lexical.save))
    lexical.save = timed(lexical.save, acc, "lexical_save")
    return patches


def _restore(patches: list[tuple[Any, str, Any]]) -> None:
    for owner, name, original in reversed(patches):
        setattr(owner, name, original)


def run_one(label: str, paths: list[Path], data_dir: Path, embedder: Any, raw_encode: Any, acc: dict[str, float],
            raw_sample: int) -> dict[str, Any]:
    """Ingest ``paths`` into a fresh ``data_dir``; measure, then the raw encoder on the same chunk texts."""
    from rag import Engine, Settings

    engine = Engine(Settings(data_dir=data_dir, llm="none"), embedder=embedder)
    engine.store  # open the collections outside the timed region  # noqa: B018
    acc.clear()
    patches = _instrument(engine, acc)
    try:
        with RssSampler() as mem, Timer() as t:
            report = engine.ingest(paths)
    finally:
        _restore(patches)
    stages = dict(acc)
    files = len(report.added) + len(report.updated) + len(report.duplicates) + len(report.skipped)
    docs = len(report.added) + len(report.updated)
    chunks = report.chunks_written

    texts = [c.text for c in engine.store.get_chunks(where=None)]
    sampled = texts if not raw_sample or raw_sample >= len(texts) else random.Random(0).sample(texts, raw_sample)
    with Timer() as raw:
        raw_encode(sampled)
    raw_cps = len(sampled) / raw.s if raw.s else float("nan")

    with Timer() as again:
        report2 = engine.ingest(paths)
    chroma_mb, lexical_mb = dir_size_mb(data_dir / "chroma"), dir_size_mb(data_dir / "lexical")
    cps = chunks / t.s
    main_other = t.s - stages.get("prepare", 0.0) - stages.get("embed_chunks", 0.0)
    return {
        "label": label, "files": files, "documents": docs, "duplicates": len(report.duplicates),
        "skipped": len(report.skipped), "chunks": chunks, "seconds": t.s, "docs_per_s": docs / t.s,
        "chunks_per_s": cps, "raw_encoder_chunks": len(sampled), "raw_encoder_s": raw.s,
        "raw_encoder_chunks_per_s": raw_cps, "ratio": cps / raw_cps if raw_cps else float("nan"),
        "sentences_encoded": int(stages.get("encode_n", 0)), "encode_s": stages.get("encode", 0.0),
        "prepare_s": stages.get("prepare", 0.0), "embed_chunks_s": stages.get("embed_chunks", 0.0),
        "store_write_s": stages.get("store_write", 0.0), "lexical_add_s": stages.get("lexical_add", 0.0),
        "lexical_save_s": stages.get("lexical_save", 0.0), "main_other_s": main_other,
        "peak_rss_mb_during_ingest": mem.peak_self, "index_mb": chroma_mb + lexical_mb, "chroma_mb": chroma_mb,
        "lexical_mb": lexical_mb, "rerun_s": again.s, "rerun_chunks_written": report2.chunks_written,
        "rerun_unchanged": len(report2.unchanged),
    }


def print_result(r: dict[str, Any]) -> None:
    label = r["label"]
    print(f"\n== {label}: {r['files']:,} files -> {r['documents']:,} documents indexed "
          f"({r['duplicates']} near-duplicates, {r['skipped']} skipped), {r['chunks']:,} chunks")
    print(f"{label}: ingest {r['seconds']:.1f} s = {r['docs_per_s']:.2f} documents/s, {r['chunks_per_s']:.2f} chunks/s")
    print(f"{label}: raw encoder (encode, batch 64) on {r['raw_encoder_chunks']:,} of the same chunk texts: "
          f"{r['raw_encoder_s']:.1f} s = {r['raw_encoder_chunks_per_s']:.2f} chunks/s")
    verdict = "meets" if r["ratio"] >= GOAL_RATIO else "misses"
    print(f"{label}: ratio ingest_chunks_per_s / raw_encoder_chunks_per_s = {r['ratio']:.2f} "
          f"({verdict} the goal >= {GOAL_RATIO})")
    enc, total = r["encode_s"], r["seconds"]
    n_sent = r["sentences_encoded"]
    print(f"{label}: breakdown (main thread): load+clean+chunk+minhash {r['prepare_s']:.1f} s "
          f"({100 * r['prepare_s'] / total:.0f}%), encode {enc:.1f} s ({100 * enc / total:.0f}%; {n_sent:,} distinct "
          f"sentences, {n_sent / enc if enc else 0:.1f}/s), sentence split+pool "
          f"{r['embed_chunks_s'] - enc:.1f} s, other (records, dedupe, waiting on writes, BM25 save) "
          f"{r['main_other_s']:.1f} s")
    print(f"{label}: writer thread (overlaps the next batch's encode): Chroma writes {r['store_write_s']:.1f} s, "
          f"BM25 add {r['lexical_add_s']:.1f} s; BM25 save {r['lexical_save_s']:.2f} s")
    print(f"{label}: peak RSS during ingest {r['peak_rss_mb_during_ingest']:.0f} MiB; index on disk "
          f"{r['index_mb']:.1f} MiB (Chroma {r['chroma_mb']:.1f}, BM25 {r['lexical_mb']:.1f})")
    print(f"{label}: re-run on the unchanged folder: {r['rerun_s']:.2f} s, {r['rerun_chunks_written']} chunks written, "
          f"{r['rerun_unchanged']:,} unchanged")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.ingest", description=__doc__)
    ap.add_argument("--articles", type=int, help="synthetic articles to generate (default 2000; 50 with --quick)")
    ap.add_argument("--quick", action="store_true", help="smoke run: seeds + 50 articles (or --articles)")
    ap.add_argument("--seed", type=int, default=0, help="corpus seed")
    ap.add_argument("--raw-sample", type=int, default=0,
                    help="encode only this many chunk texts for the raw-encoder figure (0: all of them)")
    ap.add_argument("--no-seeds", action="store_true", help="skip the seeds run")
    ap.add_argument("--torch-threads", type=int, help="torch intra-op threads (default: torch's choice)")
    ap.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = ap.parse_args(argv)
    n_articles = args.articles or (50 if args.quick else 2000)

    quiet_env()
    set_torch_threads(args.torch_threads)
    print(machine_line())
    from benchmarks.corpus import generate
    from rag import Settings
    from rag.providers import build_embedder

    with Timer() as load:
        embedder = build_embedder(Settings(llm="none"))
    print(f"embedding model {embedder.name} loaded in {load.s:.1f} s (not counted in ingest time); "
          f"batch {getattr(embedder, 'batch_size', '?')}")
    acc: dict[str, float] = {}
    raw_encode = embedder.encode
    embedder.encode = timed(raw_encode, acc, "encode", count=lambda texts: len(texts))  # type: ignore[method-assign]
    embedder.encode(["warm-up sentence so the first batch does not pay one-time costs"])

    results = []
    with tempfile.TemporaryDirectory(prefix="rag-bench-ingest-") as tmp_name:
        tmp = Path(tmp_name)
        if not args.no_seeds:
            results.append(run_one("seeds", [SEEDS], tmp / "seeds", embedder, raw_encode, acc, 0))
            print_result(results[-1])
        with Timer() as gen:
            generate(n_articles, tmp / "corpus", args.seed)
        size = dir_size_mb(tmp / "corpus")
        print(f"\ngenerated {n_articles:,} synthetic articles ({size:.1f} MiB) in {gen.s:.1f} s (not counted)")
        results.append(run_one(f"synthetic-{n_articles}", [tmp / "corpus"], tmp / "synthetic", embedder, raw_encode,
                               acc, args.raw_sample))
        print_result(results[-1])
    print(f"\npeak RSS of the whole run (ru_maxrss) {peak_rss_mb():.0f} MiB")
    print(machine_line())
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
