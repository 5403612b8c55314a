"""Twenty concurrent chat sessions on the real UI: no errors, no cross-session leaks, an upload mid-way answerable."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.load import TOPICS, SessionResult, check_turn, run_load, session_questions

SESSIONS = 20


@pytest.mark.slow
def test_concurrent_sessions_with_follow_ups_and_a_live_upload(tmp_path: Path) -> None:
    report = run_load(SESSIONS, turns=3, ingest=True, data_dir=tmp_path / "data")
    assert report.sessions == SESSIONS and report.questions == SESSIONS * 3, report.problems
    assert report.errors == 0, report.problems
    assert report.leaks == 0, report.problems  # each session saw only its own history and its topic's citations
    assert report.wrong == 0, report.problems  # follow-ups were resolved with the session's own history
    assert report.ingest is not None and not report.ingest.error, report.ingest
    assert report.ingest.new_fact_answered, report.ingest.new_answer
    assert report.p95_s >= report.p50_s > 0
    print(f"\n{SESSIONS} sessions: p50 {report.p50_s:.2f}s p95 {report.p95_s:.2f}s, "
          f"{report.ingest.answered_during} answered during the upload")


def _chat(questions: list[str], answer_html: str) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for q in questions:
        out += [{"role": "user", "content": f'<div class="rag-q">{q}</div>'}, {"role": "assistant", "content": answer_html}]
    return out


def test_the_isolation_check_catches_foreign_history_and_citations() -> None:
    topic, mine = session_questions(3, 2)  # the June 14 speech: it may cite only 001
    _, theirs = session_questions(4, 1)
    good = '<p>Zelensky rejected them.</p><div class="rag-sources"><li class="rag-src" data-doc="001_a814372e879cbbb1">'
    clean = SessionResult(session=3, topic=topic.name)
    check_turn(clean, mine, _chat(mine, good), topic, 1)
    assert not clean.leaks and not clean.wrong

    foreign_turn = SessionResult(session=3, topic=topic.name)
    check_turn(foreign_turn, mine, _chat([mine[0], theirs[0]], good), topic, 1)
    assert foreign_turn.leaks
    extra_turn = SessionResult(session=3, topic=topic.name)
    check_turn(extra_turn, mine, _chat([*mine, mine[1]], good), topic, 1)
    assert extra_turn.leaks
    foreign_cite = SessionResult(session=3, topic=topic.name)
    check_turn(foreign_cite, mine, _chat(mine, good.replace("001_", "003_")), topic, 1)
    assert foreign_cite.leaks
    wrong = SessionResult(session=3, topic=topic.name)
    check_turn(wrong, mine, _chat(mine, good.replace("Zelensky", "Someone")), topic, 1)
    assert wrong.wrong and not wrong.leaks
    assert len({t.name for t in TOPICS}) == len(TOPICS)
