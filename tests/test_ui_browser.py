"""The real page in headless Chromium (Debian's, driven by Playwright): answers, quotes, upload, no script injection."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.engine import Engine
from rag.settings import Settings
from ui.app import build_app, serve

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium "
                                                     "(apt-get install -y chromium, or `make browser`)"),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package (pip install -e '.[dev]')")

SEEDS = Path(__file__).resolve().parents[1] / "seeds"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-quic"]
TIMEOUT_MS = 90_000
SEED_Q = "Which article of the Russia–North Korea agreement commits the two sides to military assistance?"
SEED_TITLE = "How sanctions are backfiring to fuel a new Eurasian alliance"
EVIL_IMG = '<img src=x onerror="window.__pwned=1">'
EVIL_SCRIPT = "<script>window.__pwned=1</script>"
ARTICLE = f"""Zorvian lithium accord signed in Tallinn {EVIL_IMG}

By Mara Kask, Baltic Ledger
2025-03-04

The Zorvian lithium accord was signed in Tallinn on 3 March 2025 by the trade ministers of Zorvia and Estonia.

Under the accord, Zorvia will supply 40,000 tonnes of lithium carbonate a year to a new refinery on the outskirts \
of Tallinn. {EVIL_SCRIPT}

Officials said the refinery would open in 2027 and employ about 600 people.
"""


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    engine = Engine(Settings(data_dir=tmp_path_factory.mktemp("rag"), llm="none"))
    engine.ingest([SEEDS])
    app = build_app(engine)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    serve(app, "127.0.0.1", port, upload_max_mb=engine.settings.upload_max_mb)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        app.close()


@pytest.fixture(scope="module")
def page(url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[sync_api.Page]:
    with sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=str(CHROMIUM), args=ARGS,
            headless=True, viewport={"width": 1280, "height": 1100})
        context.set_default_timeout(TIMEOUT_MS)
        pg = context.new_page()
        pg.goto(url, wait_until="domcontentloaded")
        pg.wait_for_selector("#question textarea")
        try:
            yield pg
        finally:
            context.close()


def ask(page: sync_api.Page, question: str) -> sync_api.Locator:
    """Type a question, send it and wait for the finished (cited or abstained) answer; return that answer."""
    before = page.locator("#chat .rag-foot").count()
    page.get_by_role("tab", name="Chat").click()
    page.fill("#question textarea", question)
    page.keyboard.press("Enter")
    page.wait_for_function(f"document.querySelectorAll('#chat .rag-answer .rag-foot').length > {before}")
    return page.locator("#chat .rag-answer").last


def test_streamed_answer_shows_sources_and_quote_in_context(page: sync_api.Page, tmp_path: Path) -> None:
    answer = ask(page, SEED_Q)
    assert "Article 4" in answer.locator(".rag-text").inner_text()
    source = answer.locator(".rag-src").first
    sync_api.expect(source.locator(".rag-title")).to_have_text(SEED_TITLE)
    summary = source.locator("details.rag-quote summary")
    quote = summary.inner_text().strip().strip("“”")
    assert len(quote) > 20
    highlighted = source.locator("blockquote.rag-context mark")
    sync_api.expect(highlighted).to_be_hidden()
    summary.click()
    sync_api.expect(highlighted).to_be_visible()
    assert highlighted.inner_text().strip() == quote
    context = source.locator("blockquote.rag-context").inner_text()
    assert len(context) > len(quote)  # the whole paragraph around the quote
    answer.locator("a.rag-ref").first.click()  # a marker jumps to its source
    assert page.evaluate("location.hash") == "#t1-src-1"
    shot = tmp_path / "chat.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"screenshot: {shot}")


def test_upload_is_indexed_answerable_and_never_executes(page: sync_api.Page, tmp_path: Path) -> None:
    article = tmp_path / "zorvian_accord.txt"
    article.write_text(ARTICLE, encoding="utf-8")
    page.get_by_role("tab", name="Sources").click()
    page.set_input_files("#upload input[type=file]", str(article))
    status = page.locator("#upload-status .rag-ok")
    sync_api.expect(status).to_contain_text("Indexed 1 document")
    sync_api.expect(status).to_contain_text("zorvian_accord")
    table = page.locator("#sources")
    sync_api.expect(table).to_contain_text(EVIL_IMG)  # a title cell shows the markup as text

    page.locator("#doc-pick input").fill("zorvian_accord")
    page.click("#open-doc")
    viewer = page.locator("#doc-view")
    sync_api.expect(viewer).to_contain_text(EVIL_SCRIPT)  # the literal text, not a script
    sync_api.expect(viewer).to_contain_text("40,000 tonnes of lithium carbonate")

    answer = ask(page, "Where was the Zorvian lithium accord signed?")
    assert "Tallinn" in answer.locator(".rag-text").inner_text()
    assert "zorvian_accord" in answer.locator(".rag-sources code.rag-doc").all_inner_texts()

    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.locator("img[src='x']").count() == 0
    assert page.locator("#chat script, #doc-view script").count() == 0
    shot = tmp_path / "upload.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"screenshot: {shot}")
