"""Cold start without a training framework: ``python -m benchmarks.coldstart``.

In one run, on an index built from ``seeds/``: import times of the heavy libraries (each in a fresh interpreter, the
reference being ``python -c "import sentence_transformers"``), a fresh ``rag ask`` from process start to the printed
answer and which heavy modules it loaded, the UI from process start to its first answer (through gradio_client),
warm answer latency with the question embedded on onnxruntime vs on torch (sentence-transformers), and the raw
encoder's throughput both ways on generated chunks and sentences.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from benchmarks._util import REPO, SEEDS, Timer, machine_line, p50_p95, quiet_env, seed_questions

GOAL_COLD_ASK_S = 4.0
IMPORTS = {
    "sentence_transformers": "import sentence_transformers",
    "torch": "import torch",
    "llama_index.core": "import llama_index.core",
    "gradio": "import gradio",
    "chromadb": "import chromadb",
    "onnxruntime + tokenizers": "import onnxruntime, tokenizers",
    "rag (from rag import answer)": "from rag import answer",
}
HEAVY = ("torch", "sentence_transformers", "transformers", "llama_index.core", "gradio", "matplotlib", "tiktoken")
QUESTION = "Who did Putin meet in Hanoi?"
_PROBE = """
import sys, time
t0 = time.perf_counter()
from rag_cli import main
code = main(["ask", sys.argv[1]])
sys.stdout.flush()
print("HEAVY=" + ",".join(m for m in {heavy!r} if m in sys.modules), file=sys.stderr)
sys.exit(code)
"""


def _env(data_dir: Path) -> dict[str, str]:
    return {**os.environ, "RAG_DATA_DIR": str(data_dir), "RAG_LLM": "none"}


def import_time(statement: str) -> float:
    """Seconds for a fresh interpreter to run ``statement`` and exit, minus a bare interpreter's start."""
    def run(code: str) -> float:
        with Timer() as t:
            subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, capture_output=True)
        return t.s

    return max(0.0, run(statement) - run("pass"))


def cold_ask(data_dir: Path, question: str) -> tuple[float, float, str]:
    """A fresh ``rag ask``: seconds to the end of the printed answer (the process exit) and to its first line, and the
    heavy modules it imported."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", _PROBE.format(heavy=HEAVY), question], cwd=REPO,
                            env=_env(data_dir), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    first = proc.stdout.readline()
    t_first = time.perf_counter() - t0
    _out, err = proc.communicate(timeout=300)
    t_exit = time.perf_counter() - t0
    if proc.returncode != 0 or not first.strip():
        raise RuntimeError(f"rag ask failed ({proc.returncode}): {err[-2000:]}")
    heavy = next((line[6:] for line in err.splitlines() if line.startswith("HEAVY=")), "?")
    return t_exit, t_first, heavy


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ui_first_answer(data_dir: Path, question: str) -> tuple[float, float]:
    """``rag ui`` from process start: seconds until the page answers HTTP, and until the first chat answer is back."""
    from gradio_client import Client  # imported before the clock starts: it is the user's browser, not the app

    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "rag_cli", "ui", "--port", str(port)], cwd=REPO,
                            env=_env(data_dir), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"rag ui exited with {proc.returncode}")
            try:
                urllib.request.urlopen(url, timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        t_page = time.perf_counter() - t0
        chat, _html = Client(url, verbose=False).predict(question, api_name="/chat")
        t_answer = time.perf_counter() - t0
        if not chat:
            raise RuntimeError("the UI returned no answer")
        return t_page, t_answer
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def warm_latency(data_dir: Path, backend: str, questions: list[str], rounds: int) -> dict[str, float]:
    """p50/p95 of the whole extractive answer and of its embed stage, the query cache cleared before each round."""
    from rag import Engine, Settings
    from rag.providers import LocalEmbedder

    embedder = LocalEmbedder(backend=backend)
    engine = Engine(Settings(data_dir=data_dir, llm="none"), embedder=embedder)
    engine.answer("What is this collection of news articles about?")
    totals, embeds = [], []
    for _ in range(rounds):
        embedder._cache.clear()
        for q in questions:
            tm = engine.answer(q).timings
            totals.append(tm["total"])
            embeds.append(tm.get("embed", 0.0))
    (a50, a95), (e50, e95) = p50_p95(totals), p50_p95(embeds)
    return {"answer_p50": a50, "answer_p95": a95, "embed_p50": e50, "embed_p95": e95}


def throughput(n_chunks: int) -> dict[str, float]:
    """Raw encoder texts/s on ``n_chunks`` generated ~90-word chunks and 4x as many sentences, ONNX vs torch."""
    from benchmarks.corpus import article_text
    from rag.providers import LocalEmbedder

    words: list[str] = []
    sentences: list[str] = []
    i = 0
    while len(words) < 90 * n_chunks or len(sentences) < 4 * n_chunks:
        text = article_text(0, i)
        words += text.split()
        sentences += [s for s in re.split(r"(?<=[.!?])\s+", text) if len(s.split()) > 3]
        i += 1
    chunks = [" ".join(words[j : j + 90]) for j in range(0, 90 * n_chunks, 90)]
    sentences = sentences[: 4 * n_chunks]
    out: dict[str, float] = {}
    encoders = {b: LocalEmbedder(backend=b) for b in ("onnx", "torch")}
    for e in encoders.values():
        e.encode(chunks[:8])
    for name, texts in (("chunks", chunks), ("sentences", sentences)):
        for backend, e in encoders.items():
            with Timer() as t:
                e.encode(texts)
            out[f"{backend}_{name}_per_s"] = len(texts) / t.s
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.coldstart", description=__doc__)
    ap.add_argument("--runs", type=int, default=3, help="fresh processes per import and per cold `rag ask`")
    ap.add_argument("--ui-runs", type=int, default=1, help="UI start-to-first-answer runs (0: skip)")
    ap.add_argument("--questions", type=int, default=40, help="seed questions for the warm latency comparison")
    ap.add_argument("--rounds", type=int, default=2, help="rounds over them per backend (0: skip)")
    ap.add_argument("--chunks", type=int, default=500, help="chunks for the encoder throughput (0: skip)")
    ap.add_argument("--data-dir", type=Path, help="an index already built from seeds/ (default: a temporary one)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 1 run each, no UI, 8 questions, 50 chunks")
    ap.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = ap.parse_args(argv)
    if args.quick:
        args.runs, args.ui_runs, args.questions, args.rounds, args.chunks = 1, 0, 8, 1, 50
    quiet_env()
    print(machine_line())
    figures: dict[str, Any] = {}

    tmp = tempfile.TemporaryDirectory(prefix="rag-bench-cold-")
    data_dir = args.data_dir or Path(tmp.name)
    build = subprocess.run([sys.executable, "-m", "rag_cli", "ingest", str(SEEDS)], cwd=REPO, env=_env(data_dir),
                           capture_output=True, text=True)
    if build.returncode != 0:
        raise RuntimeError(f"rag ingest failed: {build.stderr[-2000:]}")
    print(f"index at {data_dir}: {build.stdout.strip().splitlines()[-1] if build.stdout.strip() else 'built'}")

    imports: dict[str, float] = {}
    for label, statement in IMPORTS.items():
        imports[label] = min(import_time(statement) for _ in range(args.runs))
        print(f"import {label}: {imports[label]:.2f} s (best of {args.runs}, fresh interpreter, start-up subtracted)")
    figures["imports_s"] = imports

    asks = [cold_ask(data_dir, QUESTION) for _ in range(args.runs)]
    exits, firsts = [a[0] for a in asks], [a[1] for a in asks]
    figures.update(cold_ask_s=exits, cold_ask_first_line_s=firsts, cold_ask_heavy_modules=asks[0][2])
    print(f"cold `rag ask`, process start -> answer printed (exit): {', '.join(f'{s:.2f}' for s in exits)} s; "
          f"first line {min(firsts):.2f} s; heavy modules imported: {asks[0][2] or 'none'}")
    ref = imports["sentence_transformers"]
    verdict = "meets" if min(exits) <= GOAL_COLD_ASK_S else "misses"
    print(f"ratio cold rag ask (best) / import sentence_transformers = {min(exits) / ref:.2f}; "
          f"goal cold rag ask <= {GOAL_COLD_ASK_S:.0f} s: {verdict}")

    if args.ui_runs:
        uis = [ui_first_answer(data_dir, QUESTION) for _ in range(args.ui_runs)]
        figures["ui_page_s"], figures["ui_first_answer_s"] = [u[0] for u in uis], [u[1] for u in uis]
        print(f"`rag ui`, process start -> page served {', '.join(f'{u[0]:.2f}' for u in uis)} s, "
              f"-> first answer {', '.join(f'{u[1]:.2f}' for u in uis)} s; import gradio alone {imports['gradio']:.2f} s")

    if args.rounds:
        questions = [q.question for q in seed_questions(args.questions)]
        warm = {b: warm_latency(data_dir, b, questions, args.rounds) for b in ("onnx", "torch")}
        figures["warm"] = warm
        for b, w in warm.items():
            print(f"warm, question embedded on {b}: answer p50 {w['answer_p50']:.1f} ms, p95 {w['answer_p95']:.1f} ms; "
                  f"embed p50 {w['embed_p50']:.1f} ms, p95 {w['embed_p95']:.1f} ms "
                  f"({len(questions)} questions x {args.rounds} rounds)")
        print(f"ratio warm answer p50 onnx / torch = {warm['onnx']['answer_p50'] / warm['torch']['answer_p50']:.2f}")

    if args.chunks:
        tp = throughput(args.chunks)
        figures["throughput"] = tp
        for name in ("chunks", "sentences"):
            print(f"raw encoder, {name}: onnx {tp[f'onnx_{name}_per_s']:.1f}/s, torch {tp[f'torch_{name}_per_s']:.1f}/s, "
                  f"ratio {tp[f'onnx_{name}_per_s'] / tp[f'torch_{name}_per_s']:.2f}")
    print(machine_line())
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2))
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
