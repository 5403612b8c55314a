"""The `rag` command: ingest | sources | ask | remove | ui | eval. Errors become messages and exit codes here.

It sits above the library and its front ends: it imports `rag`, and `ui` and `eval` for their commands, while
nothing under `rag/` imports it (tests/test_import_graph.py).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from rag.errors import RagError

EXIT_USAGE, EXIT_ERROR = 2, 1
EXIT_PIPE = 141  # 128 + SIGPIPE: what a command killed by a closed pipe returns (`rag sources | head -1`)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command and return its exit code; output to a closed pipe ends it quietly."""
    try:
        try:
            return _run(argv)
        finally:
            sys.stdout.flush()  # here, not at exit, where a closed pipe would print "Exception ignored"
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # the interpreter's last flush writes nowhere
        return EXIT_PIPE


def _run(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args) or 0)
    except RagError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("Interrupted; the index is consistent and the next run resumes.", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rag", description="Grounded Q&A over news articles.")
    sub = parser.add_subparsers(title="commands")

    p = sub.add_parser("ingest", help="index files and folders (incremental)")
    p.add_argument("paths", nargs="*", type=Path, default=[Path("seeds")], help="files or folders (default: seeds/)")
    p.add_argument("--prune", action="store_true", help="remove documents whose file is gone from these folders")
    p.add_argument("--rebuild", action="store_true", help="drop the index first (e.g. after changing the model)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("sources", help="list indexed documents")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_sources)

    p = sub.add_parser("ask", help="answer a question from the indexed articles")
    p.add_argument("question")
    p.add_argument("--json", action="store_true", help="print the Answer as JSON")
    p.add_argument("--doc", action="append", dest="doc_ids", help="only this document id (repeatable)")
    p.add_argument("--from", dest="date_from", help="only articles dated on or after YYYY-MM-DD")
    p.add_argument("--to", dest="date_to", help="only articles dated on or before YYYY-MM-DD")
    p.add_argument("--extractive", action="store_true", help="use the extractive answerer even if an LLM is set")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("remove", help="remove documents from the index (an upload's stored file too)")
    p.add_argument("doc_ids", nargs="+", metavar="ID", help="document ids, as `rag sources` lists them")
    p.add_argument("-y", "--yes", action="store_true", help="remove without asking (for scripts)")
    p.set_defaults(func=cmd_remove)

    p = sub.add_parser("ui", help="start the chat UI")
    p.add_argument("--host", default=None, help="bind address (default RAG_UI_HOST, 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default RAG_UI_PORT, 7860)")
    p.set_defaults(func=cmd_ui)

    try:
        from eval.run import add_arguments, cmd_eval
    except ImportError:  # eval ships with the repository, not with every install
        pass
    else:
        p = sub.add_parser("eval", help="score a question set (JSONL)")
        add_arguments(p)
        p.set_defaults(func=cmd_eval)
    return parser


def cmd_ingest(args: argparse.Namespace) -> int:
    from rag import get_engine

    missing = [p for p in args.paths if not p.exists()]
    engine = get_engine()
    bar = _progress_bar()
    report = engine.ingest(args.paths, prune=args.prune, rebuild=args.rebuild, progress=bar)
    if hasattr(bar, "close"):
        bar.close()
    if args.json:
        print(report.model_dump_json(indent=2))
    else:
        for path, reason in report.skipped.items():
            if Path(path) not in missing:  # said once, in the error below
                print(f"skipped {path}: {reason}", file=sys.stderr)
        for path, twin in report.duplicate_files.items():
            print(f"skipped {path}: near-duplicate of {twin}, which is indexed; not indexed twice", file=sys.stderr)
        for path, note in report.warnings.items():
            print(f"warning {path}: {note}", file=sys.stderr)
        print(report.summary())
    if missing:
        named = ", ".join(str(p) for p in missing)
        rest = " (what else was given was ingested)" if len(missing) < len(args.paths) else ""
        print(f"Error: {named} {'does' if len(missing) == 1 else 'do'} not exist; check the path{rest}.",
              file=sys.stderr)
        return EXIT_ERROR
    if not (report.added or report.updated or report.unchanged or report.removed or report.duplicates):
        print("Error: nothing was indexed: no readable article was found in what was given "
              f"(supported: .txt, .md, .html, .pdf){'; see the lines above' if report.skipped else ''}.",
              file=sys.stderr)
        return EXIT_ERROR
    return 0


def cmd_sources(args: argparse.Namespace) -> int:
    from rag import get_engine

    sources = get_engine().sources()
    if args.json:
        print(json.dumps([s.model_dump() for s in sources], indent=2, ensure_ascii=False))
        return 0
    if not sources:
        print("The index is empty. Add articles with `rag ingest PATH`.")
        return 0
    from rag.ingestion.metadata import display_title

    print(f"{'id':<24} {'date':<10} {'chunks':>6}  {'author':<20} {'outlet':<16} title")
    for s in sources:
        title = display_title(s.title, s.source, s.doc_id)
        print(f"{s.doc_id:<24} {s.date:<10} {s.chunks:>6}  {s.author[:20]:<20} {s.outlet[:16]:<16} {title}")
    print(f"{len(sources)} document{'s' * (len(sources) != 1)}")
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    from rag import get_engine
    from rag.ingestion.metadata import display_title

    engine = get_engine()
    ids = list(dict.fromkeys(args.doc_ids))
    known = {s.doc_id: s for s in engine.sources()}
    engine.check_ids(ids)
    if not args.yes:
        if not sys.stdin.isatty():
            print("Error: nothing was removed: `rag remove` asks before removing, and there is no terminal to ask "
                  "on. Add --yes to remove without asking.", file=sys.stderr)
            return EXIT_USAGE
        print(f"Remove {_count(len(ids), 'document')} from the index? This cannot be undone.")
        for d in ids:
            info = known.get(d)
            print(f"  {d}  {display_title(info.title, info.source, d) if info else '(not fully indexed)'}")
        try:
            reply = input("Remove? [y/N] ")
        except EOFError:
            reply = ""
        if reply.strip().lower() not in ("y", "yes"):
            print("Nothing was removed.")
            return EXIT_ERROR
    gone = engine.remove(ids)
    for info in gone:
        upload = info.source and Path(info.source).parent.resolve() == engine.uploads_dir.resolve()
        print(f"removed {info.doc_id}{f' and its uploaded file {info.source}' if upload else ''}")
    print(f"{_count(len(gone), 'document')} removed.")
    return 0


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' * (n != 1)}"


def cmd_ask(args: argparse.Namespace) -> int:
    from rag import get_engine

    options = {"doc_ids": args.doc_ids, "date_from": args.date_from, "date_to": args.date_to}
    if args.extractive:
        options["mode"] = "extractive"
    answer = get_engine().answer(args.question, **options)
    if args.json:
        print(answer.model_dump_json(indent=2, exclude={"context"}))
        return 0
    print(answer.text)
    if answer.notice and answer.notice != answer.text:
        print(f"\nNote: {answer.notice}")
    if answer.unsupported:
        print("\nRemoved as unsupported by the sources:")
        for s in answer.unsupported:
            print(f"  - {s}")
    if answer.citations:
        from rag.ingestion.metadata import display_title
        from rag.text import quoted

        print("\nSources:")
        for c in answer.citations:
            head = ", ".join(x for x in (display_title(c.title, c.source, c.doc_id), c.outlet, c.date) if x)
            print(f"  [{c.n}] {head} ({c.doc_id})\n      {quoted(c.quote)}")
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    from ui.app import launch

    return launch(host=args.host, port=args.port)


def _progress_bar():
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    bar = tqdm(total=0, unit="file", file=sys.stderr)

    def update(done: int, total: int, name: str) -> None:
        bar.total = total
        bar.n = done
        bar.set_postfix_str(name[:30])
        bar.refresh()

    update.close = bar.close  # type: ignore[attr-defined]
    return update

