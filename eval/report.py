"""Eval output: the console table, DIR/report.md and DIR/chart.png (ours vs baseline)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rag.settings import Settings

SECRET_FIELDS = {"openai_api_key", "ui_auth"}
TYPE_COLUMNS = ("n", "hit@5", "context_recall", "fact_recall", "citation_precision", "abstained", "crag")
CHART_METRICS = ("fact_recall", "context_recall", "citation_precision")
_USERINFO = re.compile(r"(//)[^/@\s]+@")

Summary = Mapping[str, Any]


def safe_settings(settings: Settings | None = None) -> dict[str, Any]:
    """The settings without the API key or UI credentials (and no user:password inside URLs)."""
    dump = (settings or Settings()).model_dump(mode="json", exclude=SECRET_FIELDS)
    return {k: _USERINFO.sub(r"\1***@", v) if isinstance(v, str) else v for k, v in dump.items()}


def metric_names(summary: Summary) -> list[str]:
    """Metrics of the overall table, in a stable order: per-question means then abstention and judge scores."""
    return [k for k in summary["overall"] if k != "n"]


def fmt(value: Any, name: str = "") -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float) and (name.endswith("_tokens") or name.endswith("ms") or abs(value) >= 100):
        return f"{value:.0f}"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def overall_rows(ours: Summary, baseline: Summary | None) -> list[tuple[str, str, str]]:
    """(metric, ours, baseline) for every overall metric, then latency p50/p95 per stage."""
    rows = [("questions", str(ours["overall"]["n"]), str(baseline["overall"]["n"]) if baseline else "")]
    names = list(dict.fromkeys(metric_names(ours) + (metric_names(baseline) if baseline else [])))
    for name in names:
        b = fmt(baseline["overall"].get(name), name) if baseline else ""
        rows.append((name, fmt(ours["overall"].get(name), name), b))
    rows.append(("errors", str(ours["errors"]), str(baseline["errors"]) if baseline else ""))
    for stage in ours["latency"]:
        for q in ("p50", "p95"):
            b = fmt(baseline["latency"].get(stage, {}).get(q), "ms") if baseline else ""
            rows.append((f"latency {stage} {q} ms", fmt(ours["latency"][stage][q], "ms"), b))
    if baseline:
        for stage in baseline["latency"]:
            if stage not in ours["latency"]:
                for q in ("p50", "p95"):
                    rows.append((f"latency {stage} {q} ms", "", fmt(baseline["latency"][stage][q], "ms")))
    return rows


def type_rows(ours: Summary, baseline: Summary | None) -> list[list[str]]:
    """One row per question type: TYPE_COLUMNS for ours, and 'ours/baseline' pairs when there is a baseline."""
    out = []
    for qtype, means in ours["by_type"].items():
        other = baseline["by_type"].get(qtype, {}) if baseline else None
        cells = [qtype]
        for col in TYPE_COLUMNS:
            mine = fmt(means.get(col), col)
            cells.append(mine if other is None or col == "n" else f"{mine} / {fmt(other.get(col), col)}")
        out.append(cells)
    return out


def text_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))  # noqa: E731
    return "\n".join([line(header), "  ".join("-" * w for w in widths), *(line(r) for r in rows)])


def md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(str(c) for c in r) + " |" for r in rows])


def console(summary: Summary) -> str:
    """The compact metric | ours | baseline table and the per-type table."""
    ours, base = summary["ours"], summary.get("baseline")
    overall = text_table(["metric", "ours", "baseline" if base else ""], overall_rows(ours, base))
    head = ["type", *TYPE_COLUMNS]
    per_type = text_table(head, type_rows(ours, base))
    note = "per type: ours / baseline" if base else "per type"
    return f"{overall}\n\n{note}\n{per_type}"


def write_report(directory: Path, summary: Summary, rows: Mapping[str, Sequence[Mapping[str, Any]]]) -> Path:
    """Write DIR/report.md and DIR/chart.png; return the report path."""
    directory.mkdir(parents=True, exist_ok=True)
    ours, base = summary["ours"], summary.get("baseline")
    failing = [r for r in rows.get("ours", []) if r.get("problem")]
    parts = [
        "# Evaluation report", "",
        f"Question set: `{summary['file']}` ({ours['overall']['n']} questions). "
        f"Judge: {summary.get('judge', {}).get('model') or summary.get('judge', {}).get('skipped', 'n/a')}.", "",
        "## Overall: ours vs baseline", "",
        md_table(["metric", "ours", "baseline"], overall_rows(ours, base)), "",
        "## Per question type" + (" (ours / baseline)" if base else ""), "",
        md_table(["type", *TYPE_COLUMNS], type_rows(ours, base)), "",
        "![per-type chart](chart.png)", "",
        "## Questions with a problem (ours)", "",
        md_table(["id", "type", "problem", "question"],
                 [[r["id"], r["type"], r.get("problem", ""), r["question"].replace("|", "\\|")] for r in failing])
        if failing else "None.", "",
        "## Settings", "",
        "```json", json.dumps(summary.get("settings", {}), indent=2, ensure_ascii=False, default=str), "```", "",
    ]
    path = directory / "report.md"
    path.write_text("\n".join(parts), encoding="utf-8")
    write_chart(directory / "chart.png", summary)
    return path


def write_chart(path: Path, summary: Summary) -> None:
    """Grouped bars per question type for CHART_METRICS: ours vs baseline."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ours, base = summary["ours"]["by_type"], (summary.get("baseline") or {}).get("by_type")
    types = [t for t in ours if any(ours[t].get(k) is not None for k in CHART_METRICS)]
    nan = float("nan")
    fig, axes = plt.subplots(1, len(CHART_METRICS), figsize=(5 * len(CHART_METRICS), 4), sharey=True)
    width = 0.4 if base else 0.7
    for ax, metric in zip(axes, CHART_METRICS, strict=True):
        xs = range(len(types))
        mine = [_or(ours[t].get(metric), nan) for t in types]
        ax.bar([x - (width / 2 if base else 0) for x in xs], mine, width, label="ours")
        if base:
            theirs = [_or(base.get(t, {}).get(metric), nan) for t in types]
            ax.bar([x + width / 2 for x in xs], theirs, width, label="baseline")
        ax.set_title(metric)
        ax.set_xticks(list(xs), types, rotation=35, ha="right")
        ax.set_ylim(0, 1.05)
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _or(value: float | None, default: float) -> float:
    return default if value is None else float(value)
