"""Concurrent chat sessions against the real UI through gradio_client: errors, latency, isolation, live ingest."""

from __future__ import annotations

import argparse
import html
import json
import re
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks._util import OUT, SEEDS, p50_p95, quiet_env

quiet_env()

from gradio_client import Client, handle_file  # noqa: E402

from rag.engine import Engine  # noqa: E402
from rag.settings import Settings  # noqa: E402
from ui.app import build_app, serve  # noqa: E402

HOST = "127.0.0.1"
MARKER = re.compile(r"zq\d{3}x")
NEW_DOC = "Velmora_barrage"
NEW_QUESTION = "How much did the Velmora tidal barrage in Port Anselm cost?"
NEW_FACT = "7.3 billion krona"
NEW_ARTICLE = (
    "Velmora tidal barrage opens in Port Anselm\n\nBy Ilse Marrow\n2025-05-12\n\n"
    "The Velmora tidal barrage in Port Anselm cost 7.3 billion krona and was opened on 12 May 2025 by the "
    "regional energy minister.\n\nEngineers said the barrage will supply power to about 90,000 homes along "
    "the northern coast.\n"
)


@dataclass(frozen=True)
class Topic:
    """A chat thread: an opening question and follow-ups that only make sense with its history."""

    name: str
    questions: tuple[str, ...]
    facts: tuple[str | None, ...]  # a text each answer must contain (None: not checked)
    docs: frozenset[str]  # the seed prefixes its answers may cite


TOPICS: tuple[Topic, ...] = (
    Topic("hanoi", ("Who did Putin meet in Hanoi?", "How many agreements did they sign?",
                    "Which naval base might Moscow want to revive there?"),
          ("Hanoi", "11", "Cam Ranh"), frozenset({"000", "002", "004"})),
    Topic("pyongyang", ("What agreement did Putin sign in Pyongyang?", "Which article of it covers military assistance?",
                        "Which earlier treaty did it replace?"),
          ("comprehensive strategic partnership", "Article", "Good Neighborliness"),
          frozenset({"000", "001", "002", "004"})),  # 001 (JadeTimes) also reports the pact signed in Pyongyang
    Topic("drones", ("What did Iran help Russia build, according to the Wall Street Journal?", "Where is it located?",
                     "What does Iran supply to Russia?"),
          ("drones", "Tatarstan", None), frozenset({"000", "003", "004"})),
    Topic("speech", ("What did Putin propose in his June 14 speech?", "Who rejected those terms?",
                     "From how many regions did he demand Ukrainian forces withdraw?"),
          ("June 14", "Zelensky", "four regions"), frozenset({"001"})),
    Topic("jcpoa", ("Which 2015 nuclear agreement are China and Iran both party to?",
                    "Which US president pulled out of it, and in what year?",
                    "Who was the Chinese spokeswoman who said it was at a critical juncture?"),
          ("Joint Comprehensive Plan of Action", "2018", "Hua Chunying"), frozenset({"003"})),
)


@dataclass
class SessionResult:
    """What one chat session saw."""

    session: int
    topic: str
    latencies_s: list[float] = field(default_factory=list)
    finished_at: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    leaks: list[str] = field(default_factory=list)  # another session's history or citations seen
    wrong: list[str] = field(default_factory=list)  # the expected fact missing from an answer


@dataclass
class IngestResult:
    """The upload that ran while the sessions were asking."""

    seconds: float = 0.0
    started_at: float = 0.0
    ended_at: float = 0.0
    status: str = ""
    error: str = ""
    answered_during: int = 0  # questions that finished while the upload was indexing
    new_fact_answered: bool = False
    new_answer: str = ""


@dataclass
class LoadReport:
    """The figures of one run."""

    sessions: int
    turns: int
    questions: int
    errors: int
    leaks: int
    wrong: int
    p50_s: float
    p95_s: float
    max_s: float
    wall_s: float
    per_question_s: float
    ingest: IngestResult | None
    problems: list[str]

    @property
    def ok(self) -> bool:
        ingest_ok = self.ingest is None or (not self.ingest.error and self.ingest.new_fact_answered)
        return not self.errors and not self.leaks and not self.wrong and ingest_ok


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def message_text(message: dict[str, Any]) -> str:
    """The text of a chat message as gradio_client returns it (a string or a list of parts)."""
    content = message["content"]
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content)


def plain(fragment: str) -> str:
    """Visible text of an HTML fragment."""
    return html.unescape(re.sub(r"<[^>]+>", "", fragment)).strip()


def cited_docs(answer_html: str) -> list[str]:
    return re.findall(r'class="rag-src" data-doc="([^"]+)"', answer_html)


def answer_part(answer_html: str) -> str:
    return answer_html.split('<div class="rag-sources">')[0]


def marker(session: int) -> str:
    return f"zq{session:03d}x"


def session_questions(session: int, turns: int) -> tuple[Topic, list[str]]:
    topic = TOPICS[session % len(TOPICS)]
    return topic, [f"{q} (ticket {marker(session)})" for q in topic.questions[:turns]]


def check_turn(result: SessionResult, asked: list[str], chat: list[dict[str, Any]], topic: Topic, turn: int) -> None:
    """Record leaks (foreign history or citations) and wrong answers seen after ``turn`` (0-based)."""
    me = marker(result.session)
    where = f"session {result.session} turn {turn + 1}"
    if len(chat) != 2 * len(asked):
        result.leaks.append(f"{where}: {len(chat)} messages in the chat, expected {2 * len(asked)}")
    users = [plain(message_text(m)) for m in chat if m.get("role") == "user"]
    if users != asked:
        result.leaks.append(f"{where}: user messages {users!r} are not this session's {asked!r}")
    for m in chat:
        foreign = set(MARKER.findall(message_text(m))) - {me}
        if foreign:
            result.leaks.append(f"{where}: a message carries other sessions' markers {sorted(foreign)}")
    last = message_text(chat[-1]) if chat else ""
    docs = {d[:3] for d in cited_docs(last)}
    if not docs <= topic.docs:
        result.leaks.append(f"{where}: cites {sorted(docs)}, outside this topic's {sorted(topic.docs)}")
    fact = topic.facts[turn]
    if fact is not None and fact.lower() not in plain(answer_part(last)).lower():  # as shown: no mark splits it
        result.wrong.append(f"{where}: {fact!r} missing from {answer_part(last)[:160]!r}")


def run_session(url: str, session: int, turns: int, start: threading.Barrier, t0: float) -> SessionResult:
    """One browser tab: its own Client (its own gradio session), asking a thread of follow-ups."""
    topic, questions = session_questions(session, turns)
    result = SessionResult(session=session, topic=topic.name)
    try:
        client = Client(url, verbose=False)
    except Exception as exc:  # the session could not even connect
        result.errors.append(f"session {session}: connect failed: {type(exc).__name__}: {exc}")
        start.abort()
        return result
    try:
        start.wait(timeout=120)
    except threading.BrokenBarrierError:
        pass
    asked: list[str] = []
    for turn, question in enumerate(questions):
        asked.append(question)
        tick = time.perf_counter()
        try:
            chat, box = client.predict(question, api_name="/chat")
        except Exception as exc:
            result.errors.append(f"session {session} turn {turn + 1}: {type(exc).__name__}: {exc}")
            break
        result.latencies_s.append(time.perf_counter() - tick)
        result.finished_at.append(time.perf_counter() - t0)
        last = message_text(chat[-1]) if chat else ""
        if box != "" or "rag-error" in last:
            result.errors.append(f"session {session} turn {turn + 1}: an error answer {answer_part(last)[:160]!r}")
        check_turn(result, asked, chat, topic, turn)
    client.close()
    return result


def upload_during(url: str, article: Path, after: threading.Event, result: IngestResult, t0: float) -> None:
    """Upload a new article through the UI once the sessions are under way."""
    try:
        client = Client(url, verbose=False)
        after.wait(timeout=120)
        result.started_at = time.perf_counter() - t0
        status, *_ = client.predict([handle_file(str(article))], api_name="/upload")
        result.ended_at = time.perf_counter() - t0
        result.seconds = result.ended_at - result.started_at
        result.status = plain(str(status))
        if "Indexed 1 document" not in result.status:
            result.error = f"upload did not index the article: {result.status[:200]}"
        client.close()
    except Exception as exc:
        result.error = f"{type(exc).__name__}: {exc}"


def start_ui(data_dir: Path) -> tuple[Any, str, Engine]:
    """The real app for a seeded index on a free loopback port (non-blocking)."""
    engine = Engine(Settings(data_dir=data_dir, llm="none"))
    if engine.is_empty():
        engine.ingest([SEEDS])
    app = build_app(engine)
    port = free_port()
    serve(app, HOST, port, upload_max_mb=engine.settings.upload_max_mb)
    return app, f"http://{HOST}:{port}/", engine


def run_load(sessions: int = 20, turns: int = 3, *, ingest: bool = True, data_dir: Path | None = None,
             url: str | None = None) -> LoadReport:
    """Drive ``sessions`` concurrent chats of ``turns`` questions each (and an upload mid-way); measure and check."""
    if sessions < 1 or not 1 <= turns <= 3:
        raise ValueError("sessions must be >= 1 and turns between 1 and 3")
    with tempfile.TemporaryDirectory(prefix="rag-load-") as tmp:
        app = None
        if url is None:
            app, url, _ = start_ui(data_dir or Path(tmp) / "data")
        try:
            return _drive(url, sessions, turns, ingest, Path(tmp))
        finally:
            if app is not None:
                app.close()


def _drive(url: str, sessions: int, turns: int, ingest: bool, tmp: Path) -> LoadReport:
    start = threading.Barrier(sessions)
    results: list[SessionResult | None] = [None] * sessions
    first_answer = threading.Event()
    t0 = time.perf_counter()

    def work(i: int) -> None:
        res = run_session(url, i, turns, start, t0)
        results[i] = res
        if res.latencies_s:
            first_answer.set()

    threads = [threading.Thread(target=work, args=(i,), name=f"session-{i}", daemon=True) for i in range(sessions)]
    up = IngestResult() if ingest else None
    uploader = None
    if up is not None:
        article = tmp / f"{NEW_DOC}.txt"
        article.write_text(NEW_ARTICLE, encoding="utf-8")
        uploader = threading.Thread(target=upload_during, args=(url, article, first_answer, up, t0), daemon=True)
    began = time.perf_counter()
    for t in threads:
        t.start()
    if uploader is not None:
        uploader.start()
    for t in threads:
        t.join(timeout=900)
    if uploader is not None:
        uploader.join(timeout=300)
    wall = time.perf_counter() - began

    done = [r for r in results if r is not None]
    problems = [f"session {i}: did not finish" for i, r in enumerate(results) if r is None]
    latencies = [x for r in done for x in r.latencies_s]
    for r in done:
        problems += r.errors + r.leaks + r.wrong
    if up is not None:
        up.answered_during = sum(up.started_at <= f <= up.ended_at for r in done for f in r.finished_at)
        if not up.error:
            client = Client(url, verbose=False)
            chat, _ = client.predict(NEW_QUESTION, api_name="/chat")
            client.close()
            last = message_text(chat[-1])
            up.new_answer = plain(answer_part(last))[:300]
            up.new_fact_answered = NEW_FACT in html.unescape(answer_part(last)) and NEW_DOC in cited_docs(last)
            if not up.new_fact_answered:
                problems.append(f"after the upload, {NEW_QUESTION!r} was answered {up.new_answer!r}")
        else:
            problems.append(f"upload: {up.error}")
    p50, p95 = p50_p95(latencies)
    return LoadReport(
        sessions=sessions, turns=turns, questions=len(latencies),
        errors=sum(len(r.errors) for r in done) + (sessions - len(done)),
        leaks=sum(len(r.leaks) for r in done), wrong=sum(len(r.wrong) for r in done),
        p50_s=round(p50, 3), p95_s=round(p95, 3), max_s=round(max(latencies, default=float("nan")), 3),
        wall_s=round(wall, 2), per_question_s=round(wall / max(1, len(latencies)), 3), ingest=up, problems=problems,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load", description=__doc__)
    parser.add_argument("--sessions", type=int, default=20, help="concurrent chat sessions (default 20)")
    parser.add_argument("--turns", type=int, default=3, choices=(1, 2, 3), help="questions per session (default 3)")
    parser.add_argument("--no-ingest", action="store_true", help="do not upload an article while the sessions run")
    parser.add_argument("--url", help="drive an already running UI instead of starting one (it must have the seeds)")
    parser.add_argument("--json", type=Path, default=OUT / "load.json", help="where to write the figures")
    args = parser.parse_args(argv)
    report = run_load(args.sessions, args.turns, ingest=not args.no_ingest, url=args.url)
    print(f"{report.sessions} sessions x {report.turns} questions: {report.questions} answered in {report.wall_s:.1f}s "
          f"({report.per_question_s:.2f}s per question overall)")
    print(f"errors {report.errors}  isolation leaks {report.leaks}  wrong answers {report.wrong}")
    print(f"latency per question: p50 {report.p50_s:.2f}s  p95 {report.p95_s:.2f}s  max {report.max_s:.2f}s")
    if report.ingest is not None:
        i = report.ingest
        print(f"upload during load: {i.seconds:.1f}s, {i.answered_during} questions answered meanwhile, "
              f"new fact answerable afterwards: {i.new_fact_answered}" + (f" ({i.error})" if i.error else ""))
    for problem in report.problems[:20]:
        print(f"  problem: {problem}", file=sys.stderr)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(asdict(report), indent=2), encoding="utf-8")
    print(f"wrote {args.json}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
