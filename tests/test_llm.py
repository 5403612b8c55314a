"""The LLM path for real: a llama.cpp OpenAI-compatible server on loopback with the packaged SmolLM2."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator

import pytest

from rag import Engine, Settings
from rag.providers import LocalEmbedder

pytestmark = pytest.mark.slow
SECRET = "sk-test-DO-NOT-LEAK-4242"
QUESTIONS = [
    "Which article of the Russia–North Korea agreement commits the two sides to military assistance?",
    "How many agreements did Putin and To Lam sign in Hanoi?",
    "What did Iran help Russia build, according to the Wall Street Journal?",
    "How much was trade between Russia and China last year?",
]


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    return LocalEmbedder()


@pytest.fixture(scope="module")
def seeded_dir(tmp_path_factory: pytest.TempPathFactory, embedder: LocalEmbedder, seeds_dir) -> object:
    data = tmp_path_factory.mktemp("llm")
    Engine(Settings(data_dir=data), embedder=embedder).ingest([seeds_dir])
    return data


def llm_engine(data_dir, embedder, base_url: str, **extra) -> Engine:
    settings = Settings(data_dir=data_dir, llm="openai", llm_base_url=base_url, llm_model="smollm2",
                        openai_api_key=SECRET, llm_max_tokens=160, **extra)
    return Engine(settings, embedder=embedder)


def test_llm_answers_are_validated_in_code(llama_server, seeded_dir, embedder) -> None:
    engine = llm_engine(seeded_dir, embedder, llama_server.base_url)
    flagged = 0
    for q in QUESTIONS:
        a = engine.answer(q)
        assert a.mode in ("openai", "extractive")
        for c in a.citations:  # quotes are verbatim spans of the cleaned document
            assert engine.document(c.doc_id).text[c.start : c.end] == c.quote
        for s in a.sentences:
            if s.supported:
                assert s.citations and s.support >= engine.settings.support_threshold
        kept = {s.text for s in a.sentences if s.supported}
        assert not kept & set(a.unsupported)  # a claim the sources don't support is never kept
        # ...nor shown: checked as whole claims (a 2-word fragment such as "The article" may occur inside a kept one)
        assert all(u not in a.text for u in a.unsupported if len(u.split()) >= 4)
        flagged += len(a.unsupported) + (1 if a.notice else 0)
        assert SECRET not in a.model_dump_json()
    # SmolLM2-135M invents things; the checks must have caught at least one unsupported sentence.
    assert flagged >= 1


def test_no_kept_llm_sentence_names_someone_or_somewhere_its_cited_passage_does_not(
        llama_server, seeded_dir, embedder) -> None:
    from rag.answering.cite import named, unnamed

    engine = llm_engine(seeded_dir, embedder, llama_server.base_url)
    naming = 0
    for q in [*QUESTIONS, "What did the deputy mayor of Beijing say about the Russia–North Korea pact?"]:
        a = engine.answer(q)
        if a.mode != "openai":
            continue
        chunks = {p.chunk.chunk_id: p.chunk.text for p in a.context}
        by_n = {c.n: c for c in a.citations}
        for s in a.sentences:
            naming += bool(named(s.text))
            if s.supported and s.citations:
                for n in s.citations:
                    assert unnamed(s.text, chunks[by_n[n].chunk_id]) == [], (q, s.text, by_n[n].quote)
    assert naming >= 1, "the model's sentences named nobody: nothing was checked"


def test_streaming_over_http_yields_model_deltas(llama_server, seeded_dir, embedder) -> None:
    engine = llm_engine(seeded_dir, embedder, llama_server.base_url)
    items = list(engine.stream_answer(QUESTIONS[0]))
    assert sum(isinstance(i, str) for i in items) >= 2
    assert items[-1].text


def test_unanswerable_question_abstains_without_asking_the_model(llama_server, seeded_dir, embedder) -> None:
    question = "How many goals did Vietnam score in the 2024 AFF Championship final?"  # Vietnam and 2024, no match
    a = llm_engine(seeded_dir, embedder, llama_server.base_url).answer(question)
    assert a.abstained and "synthesize" in a.timings


def test_endpoint_down_falls_back_to_the_extractive_answer(seeded_dir, embedder) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    a = llm_engine(seeded_dir, embedder, f"http://127.0.0.1:{port}/v1").answer(QUESTIONS[0])
    assert a.mode == "extractive" and "could not be reached" in a.notice
    assert "Article 4" in a.text and SECRET not in a.notice


@pytest.fixture
def bad_server(request) -> Iterator[str]:
    behaviour = request.param

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            if behaviour == "slow":
                threading.Event().wait(5)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b"{not json at all")

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


@pytest.mark.parametrize("bad_server", ["slow", "garbage"], indirect=True)
def test_timeouts_and_garbage_give_a_clear_notice_and_the_extractive_answer(bad_server, seeded_dir, embedder) -> None:
    a = llm_engine(seeded_dir, embedder, bad_server, llm_timeout_s=1.0).answer(QUESTIONS[0])
    assert a.mode == "extractive" and a.notice
    assert "Article 4" in a.text
    assert SECRET not in a.notice


def test_local_mode_runs_the_packaged_gguf_in_process(seeded_dir, embedder) -> None:
    pytest.importorskip("llama_cpp")
    engine = Engine(Settings(data_dir=seeded_dir, llm="local", llm_max_tokens=96), embedder=embedder)
    a = engine.answer(QUESTIONS[0])
    assert a.mode in ("local", "extractive")
    for c in a.citations:
        assert engine.document(c.doc_id).text[c.start : c.end] == c.quote


def test_eval_with_an_llm_judges_for_real_and_caches_the_verdicts(llama_server, seeded_dir, tmp_path,
                                                                   monkeypatch, capsys) -> None:
    """`rag eval` with the packaged SmolLM2 served by llama.cpp as the judge: judged metrics in the rows, the judge
    model recorded, verdicts cached; the second run asks the model nothing."""
    import json

    import rag
    from rag_cli import main

    rows = [json.loads(line) for line in open("eval/questions/seeds.jsonl", encoding="utf-8")]
    picked = [r for r in rows if r["answerable"] and "history" not in r][:1]
    questions = tmp_path / "two.jsonl"
    questions.write_text("".join(json.dumps(r) + "\n" for r in picked), encoding="utf-8")
    for key, value in {"RAG_DATA_DIR": str(seeded_dir), "RAG_LLM": "openai", "RAG_LLM_MODEL": "smollm2",
                       "RAG_LLM_BASE_URL": llama_server.base_url, "RAG_OPENAI_API_KEY": SECRET,
                       "RAG_LLM_MAX_TOKENS": "120"}.items():
        monkeypatch.setenv(key, value)
    report = tmp_path / "report"
    runs = []
    for n in (1, 2):
        rag._engine = None
        out = tmp_path / f"run{n}.json"
        assert main(["eval", str(questions), "--json", str(out), "--report", str(report)]) == 0
        runs.append(json.loads(out.read_text(encoding="utf-8")))
    first, second = runs
    assert first["summary"]["judge"]["model"] == "smollm2" and first["summary"]["judge"]["calls"] > 0
    judged = [r for r in first["rows"]["ours"] if not r["abstained"]]
    assert judged, "the question is answerable from the seeds"
    for row in judged:
        assert row.get("alce_citation_recall") is not None or row.get("judge_error")
        assert "faithfulness" in row and "correctness" in row
    assert (report / "judge_cache.json").is_file()
    assert second["summary"]["judge"]["calls"] == 0 and second["summary"]["judge"]["cache_hits"] > 0
    assert [r.get("alce_citation_recall") for r in second["rows"]["ours"]] == \
        [r.get("alce_citation_recall") for r in first["rows"]["ours"]]
    produced = capsys.readouterr()
    assert SECRET not in produced.out + produced.err
    assert SECRET not in (report / "report.md").read_text(encoding="utf-8")
    rag._engine = None
