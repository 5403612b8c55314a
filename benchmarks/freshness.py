"""Freshness across processes: how soon a running engine answers from articles another process ingests or removes.

    python -m benchmarks.freshness [--rounds 10] [--server]

A writer process (``python -m benchmarks.freshness writer``, driven over stdin) ingests one new article per round
into the index a reader process (this one, a warm engine) keeps answering from; the reader asks about it every
50 ms until an answer cites it, then the writer removes it and the reader asks until nothing cites it. Reported:
the delay from the writer's return to the first answer from (or without) the article, the errors raised, and what
the reader's refresh check costs on an answer when nothing changed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
_POLL_S = 0.05
_TOWNS = ["Strelsau", "Zenda", "Tarlenheim", "Hentzau", "Ostrau", "Modenstein", "Dresdel", "Kalmbach", "Luzern",
          "Brennau", "Falkheim", "Grunwald"]


def article(i: int) -> tuple[str, str, str]:
    """(file text, question, the figure the answer must give) for round ``i``: a made-up, checkable fact."""
    town = _TOWNS[i % len(_TOWNS)]
    count = 1000 + 37 * i
    text = (f"Lighthouse Keepers Guild Reports Record Year in {town}\n\n"
            f"The Lighthouse Keepers Guild of {town} said on Tuesday that its members logged {count:,} night "
            f"watches in 2024, a record for the guild. The guild's warden, Ottilie Brandauer-{i}, said the "
            f"figure reflected a stormy autumn on the {town} coast. The guild expects fewer watches next year.\n")
    return text, f"How many night watches did the Lighthouse Keepers Guild of {town} log in 2024?", f"{count:,}"


class Writer:
    """Another OS process with its own engine on the same index; ``ingest``/``remove`` return when it is done."""

    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "benchmarks.freshness", "writer"], cwd=ROOT,
                                     env={**os.environ, **env}, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, bufsize=1)
        assert self.proc.stdout is not None
        if not self.proc.stdout.readline():  # {"ready": ...} once its engine is open
            raise RuntimeError(f"the writer process failed to start (code {self.proc.wait()})")

    def _call(self, **command: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the writer process exited (code {self.proc.wait()})")
        reply = json.loads(line)
        if "error" in reply:
            raise RuntimeError(f"the writer failed: {reply['error']}")
        return reply

    def ingest(self, paths: list[Path]) -> dict[str, Any]:
        return self._call(op="ingest", paths=[str(p) for p in paths])

    def remove(self, doc_ids: list[str]) -> dict[str, Any]:
        return self._call(op="remove", ids=doc_ids)

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def serve_writer() -> int:
    """The writer's loop: one JSON command a line on stdin, one JSON reply a line on stdout."""
    from rag import Engine, RagError

    engine = Engine()
    engine.refresh(force=True)
    print(json.dumps({"ready": time.time()}), flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        try:
            if command["op"] == "ingest":
                report = engine.ingest(command["paths"])
                reply: dict[str, Any] = {"t": time.time(), "added": report.added, "updated": report.updated}
            else:
                engine.remove(command["ids"])
                reply = {"t": time.time()}
        except RagError as exc:
            reply = {"error": str(exc)}
        print(json.dumps(reply), flush=True)
    return 0


@dataclass
class Freshness:
    """What the reader saw: delays in seconds after the writer returned, and every error it raised."""

    added_s: list[float] = field(default_factory=list)
    removed_s: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)  # rounds whose change was not seen within the deadline

    def summary(self) -> str:
        def dist(xs: list[float]) -> str:
            if not xs:
                return "none"
            q = statistics.quantiles(xs, n=20) if len(xs) > 1 else [xs[0]] * 19
            return f"min {min(xs):.2f} p50 {statistics.median(xs):.2f} p95 {q[18]:.2f} max {max(xs):.2f} s"

        return (f"new article answered after: {dist(self.added_s)}; removed article gone after: "
                f"{dist(self.removed_s)}; errors {len(self.errors)}; missed {len(self.missed)}")


def measure(engine: Any, writer: Writer, folder: Path, rounds: int, deadline_s: float = 10.0) -> Freshness:
    """Run ``rounds`` ingest/remove rounds through ``writer`` while ``engine`` (already warm) keeps answering."""
    out = Freshness()
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(rounds):
        text, question, figure = article(i)
        path = folder / f"guild_{i:03d}.txt"
        path.write_text(text, encoding="utf-8")
        reply = writer.ingest([path])
        doc_id = (reply["added"] + reply["updated"])[0]
        seen = _poll(engine, question, out, deadline_s, reply["t"],
                     lambda a, d=doc_id, f=figure: any(c.doc_id == d for c in a.citations) and f in a.text)
        (out.added_s.append(seen) if seen is not None else out.missed.append(f"round {i}: never answered"))
        reply = writer.remove([doc_id])
        gone = _poll(engine, question, out, deadline_s, reply["t"],
                     lambda a, d=doc_id: all(c.doc_id != d for c in a.citations)
                     and d not in {s.doc_id for s in engine.sources()})
        (out.removed_s.append(gone) if gone is not None else out.missed.append(f"round {i}: still cited"))
        path.unlink()
    return out


def _poll(engine: Any, question: str, out: Freshness, deadline_s: float, since: float, done: Any) -> float | None:
    while time.time() - since < deadline_s:
        try:
            if done(engine.answer(question)):
                return time.time() - since
        except Exception as exc:  # noqa: BLE001 - every error counts against freshness
            out.errors.append(f"{type(exc).__name__}: {exc}"[:300])
        time.sleep(_POLL_S)
    return None


def refresh_cost_ms(engine: Any, question: str, n: int = 30) -> tuple[float, float]:
    """p50 answer time with the refresh check forced on every answer, and with it skipped (throttled), in ms."""
    forced, skipped = [], []
    for _ in range(n):
        for sink, force in ((forced, True), (skipped, False)):
            engine._checked_at = 0.0 if force else time.monotonic()
            t = time.perf_counter()
            engine.answer(question)
            sink.append((time.perf_counter() - t) * 1000)
    return statistics.median(forced), statistics.median(skipped)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("role", nargs="?", default="reader", choices=["reader", "writer"])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--server", action="store_true", help="share a `chroma run` server instead of a folder")
    parser.add_argument("--extra-articles", type=int, default=0,
                        help="also index this many generated articles (benchmarks.corpus), for a larger index")
    args = parser.parse_args(argv)
    if args.role == "writer":
        return serve_writer()
    import tempfile

    from rag import Engine, Settings

    with tempfile.TemporaryDirectory() as tmp:
        env = {"RAG_DATA_DIR": f"{tmp}/data", "ANONYMIZED_TELEMETRY": "False", "HF_HUB_OFFLINE": "1"}
        server = None
        if args.server:
            from tests.servers import ChromaServer

            server = ChromaServer(Path(tmp) / "db")
            server.start()
            env |= server.rag_env()
        os.environ.update(env)
        engine = Engine(Settings())
        folders = [ROOT / "seeds"]
        if args.extra_articles:
            from benchmarks.corpus import generate

            generate(args.extra_articles, Path(tmp) / "generated")
            folders.append(Path(tmp) / "generated")
        report = engine.ingest(folders)
        print(f"reader's index: {report.summary()}; {engine.store.count_chunks():,} chunks")
        seed_q = "Which article of the agreement commits the two sides to military assistance?"
        engine.answer(seed_q)
        writer = Writer({**env, "RAG_DATA_DIR": f"{tmp}/writer" if args.server else f"{tmp}/data"})
        try:
            result = measure(engine, writer, Path(tmp) / "incoming", args.rounds)
            forced, skipped = refresh_cost_ms(engine, seed_q)
        finally:
            writer.close()
            if server is not None:
                server.stop()
        where = "chroma run server" if args.server else "embedded folder"
        print(f"freshness ({where}, {args.rounds} rounds): {result.summary()}")
        print(f"answer p50 with the refresh check {forced:.1f} ms, without {skipped:.1f} ms "
              f"(adds {forced - skipped:+.1f} ms)")
        for problem in result.errors[:5] + result.missed[:5]:
            print("  ", problem)
    return 0 if not (result.errors or result.missed) else 1


if __name__ == "__main__":
    sys.exit(main())
