"""The scale plot: latency and memory against corpus size, for scale.py's sizes and archive.py's 100k-chunk index."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def archive_rows(path: Path) -> list[dict[str, Any]]:
    """benchmarks.archive's 100k-chunk index (archive.json) as points of this plot: fragment queries, like ours."""
    if not path.exists():
        return []
    data = json.loads(path.read_text())
    b, q, srv = data["build"] or {}, data["query"], data.get("server")
    ingest_peak = max((r["peak_rss_mb"] for r in b.get("runs", []) if r["chunks_written"]), default=0.0)
    rows = [{"backend": "embedded", "chunks": q["chunks"], **q["fragments"],
             "peak_rss_mb": max(ingest_peak, q["peak_rss_answering_mb"]), "peak_rss_answer_mb": q["peak_rss_answering_mb"],
             "index_mb": q["index_mb"], "server_peak_rss_mb": None}]
    if srv:
        rows.append({"backend": "server", "chunks": q["chunks"], **srv["fragments"],
                     "peak_rss_mb": srv["peak_rss_answering_mb"], "peak_rss_answer_mb": srv["peak_rss_answering_mb"],
                     "index_mb": q["index_mb"], "server_peak_rss_mb": srv["server_peak_rss_mb"]})
    return rows


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (lat, mem) = plt.subplots(1, 2, figsize=(12, 4.5))
    for backend in sorted({r["backend"] for r in rows}):
        rs = sorted((r for r in rows if r["backend"] == backend), key=lambda r: r["chunks"])
        x = [r["chunks"] for r in rs]
        for key, style in (("retrieval", "o-"), ("answer", "s-")):
            lat.plot(x, [r[f"{key}_p50_ms"] for r in rs], style, label=f"{backend} {key} p50")
            lat.plot(x, [r[f"{key}_p95_ms"] for r in rs], style.replace("-", "--"), alpha=0.6,
                     label=f"{backend} {key} p95")
        mem.plot(x, [r["peak_rss_mb"] for r in rs], "o-", label=f"{backend} peak RSS (client)")
        mem.plot(x, [r["peak_rss_answer_mb"] for r in rs], "^-", label=f"{backend} RSS while answering")
        if backend == "server":
            mem.plot(x, [r["server_peak_rss_mb"] for r in rs], "d-", label="chroma server RSS")
        mem.plot(x, [r["index_mb"] for r in rs], "s--", label=f"{backend} index on disk")
    for ax, title, unit in ((lat, "Latency vs corpus size", "ms"), (mem, "Memory and index size", "MiB")):
        ax.set_xscale("log")
        ax.set_xlabel("chunks in the index")
        ax.set_ylabel(unit)
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
