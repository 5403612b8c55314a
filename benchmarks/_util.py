"""Shared benchmark helpers: timers, percentiles, RSS sampling, directory sizes, question sets and a Chroma server."""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"
SEED_QUESTIONS = REPO / "eval" / "questions" / "seeds.jsonl"
OUT = REPO / "benchmarks" / "out"
MB = 1024 * 1024


def quiet_env() -> None:
    """Offline model loading, no telemetry, no tokenizer thread warnings (set before importing rag)."""
    for key, value in (("HF_HUB_OFFLINE", "1"), ("TRANSFORMERS_OFFLINE", "1"), ("ANONYMIZED_TELEMETRY", "False"),
                       ("TOKENIZERS_PARALLELISM", "false")):
        os.environ.setdefault(key, value)


def set_torch_threads(n: int | None) -> None:
    """Pin torch's intra-op threads (None: leave torch's default, one per core)."""
    if n:
        os.environ["OMP_NUM_THREADS"] = str(n)  # inherited by child processes (cold start, scale sizes)
        import torch

        torch.set_num_threads(n)


def machine_line() -> str:
    """Cores, load average and torch threads: the context every figure needs on a shared machine."""
    import torch

    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"machine: {os.cpu_count()} cores, load average {load} (1/5/15 min), torch {torch.__version__} with "
            f"{torch.get_num_threads()} intra-op threads, Python {sys.version.split()[0]}")


class Timer:
    """``with Timer() as t: ...`` then ``t.s`` (seconds) or ``t.ms``."""

    def __enter__(self) -> Timer:
        self.t0, self.s = time.perf_counter(), 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.s = time.perf_counter() - self.t0

    @property
    def ms(self) -> float:
        return self.s * 1000


def percentile(values: Iterable[float], q: float) -> float:
    """Linear-interpolation percentile (numpy's default); NaN for no values."""
    data = sorted(values)
    if not data:
        return float("nan")
    pos = (len(data) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def p50_p95(values: Iterable[float]) -> tuple[float, float]:
    data = list(values)
    return percentile(data, 50), percentile(data, 95)


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (ru_maxrss: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / MB if sys.platform == "darwin" else peak / 1024


def rss_mb(pid: int | None = None) -> float:
    """Current RSS of a process (this one by default), in MiB."""
    return psutil.Process(pid).memory_info().rss / MB


class RssSampler:
    """Samples RSS of this process (and, separately, of its child processes) in a thread; keeps the maxima."""

    def __init__(self, interval: float = 0.1) -> None:
        self.interval = interval
        self.peak_self = self.peak_children = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        me = psutil.Process()
        self.peak_self = max(self.peak_self, me.memory_info().rss / MB)
        total = 0.0
        for child in me.children(recursive=True):
            try:
                total += child.memory_info().rss / MB
            except psutil.Error:
                pass
        self.peak_children = max(self.peak_children, total)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self) -> RssSampler:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


def dir_size_mb(path: Path) -> float:
    """Bytes of all regular files under ``path``, in MiB (0 if absent)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total / MB


def timed(fn: Callable[..., Any], acc: dict[str, float], key: str, count: Callable[..., int] | None = None
          ) -> Callable[..., Any]:
    """Wrap ``fn`` so each call adds its seconds to ``acc[key]`` (and ``count(*args)`` to ``acc[key + '_n']``)."""
    lock = threading.Lock()

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            with lock:
                acc[key] = acc.get(key, 0.0) + time.perf_counter() - t0
                if count is not None:
                    acc[key + "_n"] = acc.get(key + "_n", 0) + count(*args, **kwargs)

    return wrapper


def seed_questions(limit: int | None = None, *, with_history: bool = False) -> list[Any]:
    """Questions of eval/questions/seeds.jsonl (distinct texts; follow-ups left out unless ``with_history``)."""
    from eval.dataset import load_questions

    questions, errors = load_questions(SEED_QUESTIONS)
    if errors:
        print(f"warning: {len(errors)} bad lines in {SEED_QUESTIONS}", file=sys.stderr)
    seen: set[str] = set()
    out = []
    for q in questions:
        if (q.history and not with_history) or q.question in seen:
            continue
        seen.add(q.question)
        out.append(q)
    return out[:limit] if limit else out


def set_engines(sets: Sequence[str], corpus_of: dict[str, str], extra: Iterable[Sequence[str]], prefix: str,
                **settings: Any) -> tuple[dict[str, Path], dict[str, Any]]:
    """Each named question set's file and an ingested Engine for its corpus (one per distinct corpus, in a temp dir).

    ``sets`` name files in eval/questions/ whose corpus ``corpus_of`` gives relative to the repository; each of
    ``extra`` is (name, questions file, corpus folder) and follows them. Both dicts keep that order."""
    from rag import Engine, Settings

    files = {s: REPO / "eval" / "questions" / f"{s}.jsonl" for s in sets}
    corpora = {s: REPO / corpus_of[s] for s in sets}
    for name, questions_file, corpus in extra:
        files[name], corpora[name] = Path(questions_file), Path(corpus)
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    engines: dict[Path, Any] = {}
    for i, corpus in enumerate(sorted(set(corpora.values()))):
        engines[corpus] = Engine(Settings(data_dir=tmp / f"corpus{i}", **settings))
        engines[corpus].ingest([corpus])
    return files, {s: engines[corpora[s]] for s in files}


@contextmanager
def chroma_server(path: Path) -> Iterator[Any]:
    """A real ``chroma run`` on a free loopback port (tests/servers.py's ChromaServer), stopped on exit."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from tests.servers import ChromaServer

    server = ChromaServer(path, log_path=path.parent / "chroma.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def fmt_row(cells: Iterable[Any], widths: Iterable[int]) -> str:
    out = []
    for cell, w in zip(cells, widths, strict=False):
        text = f"{cell:,.1f}" if isinstance(cell, float) else (f"{cell:,}" if isinstance(cell, int) else str(cell))
        out.append(text.rjust(w))
    return " ".join(out)
