"""Warm answer latency, cold start and a plain llama-index retriever baseline on the seeds: ``python -m benchmarks.answer``."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._util import (
    SEEDS,
    Timer,
    machine_line,
    p50_p95,
    peak_rss_mb,
    quiet_env,
    rss_mb,
    seed_questions,
    set_torch_threads,
)

GOAL_ANSWER_P50_MS = 300.0  # with the answer scorer (issue: p50 <= 300 ms, p95 <= 600 ms warm, one query thread)
GOAL_COLD_S = 4.0
WARM_UP = ("What is this collection of news articles about?", "Who is quoted most often in these reports?")
RETRIEVAL_STAGES = ("embed", "retrieve", "rerank")


def make_adapter(embedder: Any) -> Any:
    """A llama-index BaseEmbedding around the engine's embedder (uncached encode), so nothing falls back to OpenAI."""
    from llama_index.core.embeddings import BaseEmbedding
    from pydantic import PrivateAttr

    class EngineEmbedding(BaseEmbedding):
        _embedder: Any = PrivateAttr()

        def __init__(self, inner: Any) -> None:
            super().__init__(model_name=f"rag:{inner.name}", embed_batch_size=64)
            self._embedder = inner

        def _get_query_embedding(self, query: str) -> list[float]:
            return self._embedder.encode([query])[0].tolist()

        def _get_text_embedding(self, text: str) -> list[float]:
            return self._embedder.encode([text])[0].tolist()

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return self._embedder.encode(texts).tolist()

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

    return EngineEmbedding(embedder)


def build_baseline(engine: Any) -> Any:
    """A plain VectorStoreIndex (in-memory SimpleVectorStore) over the engine's chunks, top_k=5."""
    from llama_index.core import VectorStoreIndex
    from llama_index.core.indices.vector_store.retrievers import VectorIndexRetriever
    from llama_index.core.schema import TextNode

    chunks = engine.store.get_chunks(where=None)
    vectors = engine.embedder.encode([c.text for c in chunks])
    nodes = [TextNode(id_=c.chunk_id, text=c.text, embedding=v.tolist(), metadata={"doc_id": c.doc_id})
             for c, v in zip(chunks, vectors, strict=True)]
    adapter = make_adapter(engine.embedder)
    index = VectorStoreIndex(nodes, embed_model=adapter)
    return VectorIndexRetriever(index, similarity_top_k=5, embed_model=adapter), len(nodes)


def clear_cache(embedder: Any) -> None:
    """Forget cached query vectors so every timed question is encoded as a new one."""
    cache = getattr(embedder, "_cache", None)
    if cache is not None:
        with embedder._lock:
            cache.clear()


def cold_start(data_dir: Path, question: str) -> tuple[float, float]:
    """Fresh ``rag ask`` process on the built index: seconds to the first answer line, and to exit."""
    env = {**os.environ, "RAG_DATA_DIR": str(data_dir), "RAG_LLM": "none"}
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "rag_cli", "ask", question], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    first = proc.stdout.readline()
    t_first = time.perf_counter() - t0
    _out, err = proc.communicate(timeout=300)
    t_exit = time.perf_counter() - t0
    if proc.returncode != 0 or not first.strip():
        raise RuntimeError(f"cold-start process failed ({proc.returncode}): {err[-2000:]}")
    return t_first, t_exit


def summarize(rows: list[dict[str, float]]) -> dict[str, float]:
    out: dict[str, float] = {"n": len(rows)}
    for key in ("retrieval", "answer", "answer_wall", "baseline", *RETRIEVAL_STAGES, "synthesize", "score"):
        vals = [r[key] for r in rows if key in r]
        if vals:
            out[f"{key}_p50"], out[f"{key}_p95"] = p50_p95(vals)
    return out


def print_summary(label: str, s: dict[str, float]) -> None:
    print(f"{label} ({int(s['n'])} answers): retrieval (embed+retrieve+rerank) p50 {s['retrieval_p50']:.1f} ms, "
          f"p95 {s['retrieval_p95']:.1f} ms; extractive answer p50 {s['answer_p50']:.1f} ms, p95 "
          f"{s['answer_p95']:.1f} ms (wall p50 {s['answer_wall_p50']:.1f} ms); llama-index retrieve p50 "
          f"{s['baseline_p50']:.1f} ms, p95 {s['baseline_p95']:.1f} ms")
    print(f"{label} stage p50 ms: " + ", ".join(f"{k} {s[k + '_p50']:.1f}" for k in (*RETRIEVAL_STAGES, "synthesize")))
    if "score_p50" in s:
        print(f"{label} answer scorer (inside synthesize) p50 {s['score_p50']:.1f} ms, p95 {s['score_p95']:.1f} ms: "
              f"{s['score_p50'] / max(s['answer_p50'], 1e-9):.0%} of the answer's p50")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.answer", description=__doc__)
    ap.add_argument("--questions", type=int, default=40, help="distinct questions from eval/questions/seeds.jsonl")
    ap.add_argument("--rounds", type=int, default=3, help="passes over the questions (query cache cleared each)")
    ap.add_argument("--cold-runs", type=int, default=2, help="fresh `rag ask` processes to time (0: skip)")
    ap.add_argument("--data-dir", type=Path, help="an index already built from seeds/ (default: build one in a temp dir)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 8 questions, 1 round, 1 cold start")
    ap.add_argument("--torch-threads", type=int, help="torch intra-op threads, here and in the cold-start process")
    ap.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = ap.parse_args(argv)
    if args.quick:
        args.questions, args.rounds, args.cold_runs = 8, 1, min(args.cold_runs, 1)

    quiet_env()
    set_torch_threads(args.torch_threads)
    print(machine_line())
    from rag import Engine, Settings

    tmp = tempfile.TemporaryDirectory(prefix="rag-bench-answer-")
    data_dir = args.data_dir or Path(tmp.name)
    engine = Engine(Settings(data_dir=data_dir, llm="none"))
    with Timer() as t:
        report = engine.ingest([SEEDS])
    print(f"index at {data_dir}: {report.summary()} ({t.s:.1f} s including model load; not counted)")
    questions = [q.question for q in seed_questions(args.questions)]
    print(f"{len(questions)} distinct questions from eval/questions/seeds.jsonl, {args.rounds} round(s); the query "
          "vector cache is cleared before each round, so every timed answer encodes its question")

    retriever, n_nodes = build_baseline(engine)
    print(f"baseline: llama-index VectorStoreIndex (SimpleVectorStore) over the same {n_nodes} chunks, top_k=5, "
          "query embeddings from the same embedder")
    rss_before = rss_mb()
    scorer = engine.scorer
    engine.answer(WARM_UP[0])
    figures_scorer = {"name": getattr(scorer, "name", "none"), "rss_before_mb": rss_before, "rss_after_mb": rss_mb()}
    print(f"answer scorer: {figures_scorer['name']}; RSS {rss_before:.0f} -> {figures_scorer['rss_after_mb']:.0f} MiB "
          "once it is loaded and has answered")
    for q in WARM_UP:
        engine.answer(q)
        retriever.retrieve(q)

    rounds: list[list[dict[str, float]]] = []
    for _ in range(args.rounds):
        clear_cache(engine.embedder)
        if scorer is not None and hasattr(scorer, "_cache"):
            scorer._cache.clear()  # every timed answer runs the scorer
        rows = []
        for q in questions:
            with Timer() as wall:
                ans = engine.answer(q)
            with Timer() as base:
                retriever.retrieve(q)
            tm = ans.timings
            row = {k: tm.get(k, 0.0) for k in (*RETRIEVAL_STAGES, "synthesize")}
            if "score" in tm:
                row["score"] = tm["score"]
            row.update(retrieval=sum(tm.get(k, 0.0) for k in RETRIEVAL_STAGES), answer=tm["total"],
                       answer_wall=wall.ms, baseline=base.ms)
            rows.append(row)
        rounds.append(rows)

    figures: dict[str, Any] = {"questions": len(questions), "rounds": args.rounds, "scorer": figures_scorer}
    print()
    figures["round1"] = first = summarize(rounds[0])
    print_summary("warm, round 1", first)
    if len(rounds) > 1:
        figures["later_rounds"] = later = summarize([r for rows in rounds[1:] for r in rows])
        print_summary(f"warm, rounds 2-{len(rounds)}", later)
    overall = summarize([r for rows in rounds for r in rows])
    figures["all_rounds"] = overall
    ratio_r = overall["retrieval_p50"] / overall["baseline_p50"]
    ratio_a = overall["answer_p50"] / overall["baseline_p50"]
    figures.update(ratio_retrieval=ratio_r, ratio_answer=ratio_a)
    print(f"all rounds: retrieval p50 {overall['retrieval_p50']:.1f} ms, p95 {overall['retrieval_p95']:.1f} ms; "
          f"extractive answer p50 {overall['answer_p50']:.1f} ms, p95 {overall['answer_p95']:.1f} ms")
    print(f"ratio engine retrieval p50 / llama-index retrieve p50 = {ratio_r:.2f}; "
          f"ratio engine extractive answer p50 / llama-index retrieve p50 = {ratio_a:.2f}")
    verdict = "meets" if overall["answer_p50"] <= GOAL_ANSWER_P50_MS else "misses"
    print(f"goal extractive answer p50 <= {GOAL_ANSWER_P50_MS:.0f} ms warm: {verdict}")

    from benchmarks.freshness import refresh_cost_ms

    forced, skipped = refresh_cost_ms(engine, questions[0])
    figures["refresh_check_ms"] = {"with": forced, "without": skipped}
    print(f"refresh check for other processes' writes: answer p50 {forced:.1f} ms with it, {skipped:.1f} ms without "
          f"({forced - skipped:+.1f} ms)")

    colds = []
    for i in range(args.cold_runs):
        first_s, exit_s = cold_start(data_dir, questions[i % len(questions)])
        colds.append(first_s)
        print(f"cold start {i + 1}: process start -> first answer line {first_s:.2f} s (exit {exit_s:.2f} s)")
    if colds:
        figures["cold_start_s"] = colds
        verdict = "meets" if min(colds) <= GOAL_COLD_S else "misses"
        print(f"cold start best {min(colds):.2f} s, worst {max(colds):.2f} s: {verdict} the goal <= {GOAL_COLD_S:.0f} s")
    figures["peak_rss_mb"] = peak_rss_mb()
    print(f"peak RSS of this process {figures['peak_rss_mb']:.0f} MiB")
    print(machine_line())
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2))
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
