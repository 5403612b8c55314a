"""The real page in headless Chromium (Debian's, driven by Playwright): answers, quotes, upload, no script injection."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from gradio_client import Client

from rag.engine import Engine
from rag.settings import Settings
from tests.servers import launched_app

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
BACKGROUND = "el => getComputedStyle(el).backgroundColor"
README_SHOT = Path(__file__).resolve().parents[1] / "docs" / "chat.png"  # linked from README.md
UPDATE_SHOT = "RAG_UPDATE_SCREENSHOT"  # set to 1 to rewrite README_SHOT from this run
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
    with launched_app(engine) as address:
        yield address


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


def save_chat_shot(page: sync_api.Page, path: Path) -> Path:
    """The page from its header to the question box, as a small palette PNG (the README's picture)."""
    from PIL import Image

    page.evaluate("window.scrollTo(0, 0)")
    box = page.locator("#question").bounding_box()
    assert box is not None
    page.screenshot(path=str(path), clip={"x": 0, "y": 0, "width": page.viewport_size["width"],
                                          "height": box["y"] + box["height"] + 70})
    with Image.open(path) as img:
        small = img.convert("RGB").quantize(colors=64, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)
    return path


def test_streamed_answer_shows_sources_and_quote_in_context(page: sync_api.Page, tmp_path: Path) -> None:
    answer = ask(page, SEED_Q)
    assert "Article 4" in answer.locator(".rag-text").inner_text()
    source = answer.locator(".rag-src").filter(has_text="Article 4").first  # its paragraph holds more than the quote
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
    shot = save_chat_shot(page, tmp_path / "readme-chat.png")
    assert 10_000 < shot.stat().st_size < 300_000, shot.stat().st_size
    if os.environ.get(UPDATE_SHOT) == "1":
        README_SHOT.write_bytes(shot.read_bytes())
        print(f"screenshot for the README: {README_SHOT}")
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


NARROW_CELLS = """() => {
  const lines = (cell) => {  // the lines its text takes: distinct tops of the text's line boxes
    const tops = new Set(), walk = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node = walk.nextNode(); node; node = walk.nextNode()) {
      const range = document.createRange();
      range.selectNodeContents(node);
      for (const r of range.getClientRects()) if (r.width > 0) tops.add(Math.round(r.top));
    }
    return Math.max(1, tops.size);
  };
  return [...document.querySelectorAll('#sources-list li strong, #sources-list li .rag-meta')]
    .filter(c => c.getClientRects().length && c.getBoundingClientRect().height > 0)
    .map(c => {
      const probe = document.createElement('span');
      probe.textContent = '0000';
      probe.style.cssText = 'position:absolute; visibility:hidden; white-space:nowrap';
      c.appendChild(probe);
      const four = probe.getBoundingClientRect().width;
      probe.remove();
      const text = c.innerText.trim();
      return {text: text.slice(0, 30), width: c.getBoundingClientRect().width, four, perLine: text.length / lines(c)};
    }).filter(c => c.width < c.four || (c.text.length > 3 && c.perLine < 4));
}"""


def test_a_refused_oversized_upload_clears_the_earlier_status(page: sync_api.Page, tmp_path: Path) -> None:
    page.get_by_role("tab", name="Sources").click()
    note = tmp_path / "kelp.txt"
    note.write_text("Kelp farm opens off Orkney\n\nA kelp farm opened off Orkney, the first in the islands.\n",
                    encoding="utf-8")
    page.set_input_files("#upload input[type=file]", str(note))
    status = page.locator("#upload-status")
    sync_api.expect(status).to_contain_text("Indexed 1 document", timeout=TIMEOUT_MS)
    big = tmp_path / "big.txt"
    big.write_bytes(b"word " * (11 * 1024 * 1024 // 5))  # over the 10 MB limit: Gradio refuses it itself
    page.set_input_files("#upload input[type=file]", str(big))
    sync_api.expect(status).not_to_contain_text("Indexed", timeout=TIMEOUT_MS)  # gone, not left to mislead
    # empty once the clearing call has finished (while it runs Gradio shows its own timer, "0.3s", there); now and
    # then Gradio sends the earlier pick (kelp) to the upload handler again after refusing the big file, which
    # indexes it anew and says so: a known fault of that re-submission, not a stale status
    sync_api.expect(status).to_have_text(re.compile(r"^\s*$|Indexing kelp|\(kelp\)"), timeout=TIMEOUT_MS)
    if "kelp" in status.inner_text():
        pytest.xfail("Gradio re-submitted the earlier upload after refusing the oversized file (known issue)")
    shot = tmp_path / "refused-upload.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"screenshot: {shot}")


def test_sources_tab_and_chat_are_readable_at_phone_width(page: sync_api.Page, tmp_path: Path) -> None:
    phone = page.context.new_page()
    phone.set_viewport_size({"width": 390, "height": 844})
    phone.goto(page.url, wait_until="domcontentloaded")
    phone.wait_for_selector("#question textarea")
    phone.wait_for_timeout(1500)  # the page's script has run, and any focus has scrolled
    sync_api.expect(phone.locator("#header h1")).to_be_in_viewport(ratio=1)  # the title is on screen on load
    assert phone.evaluate("window.scrollY") == 0
    shot = tmp_path / "phone-load.png"
    phone.screenshot(path=str(shot))
    print(f"screenshot: {shot}")

    phone.get_by_role("tab", name="Sources").click()
    sync_api.expect(phone.locator("#sources-list")).to_contain_text(SEED_TITLE, timeout=TIMEOUT_MS)
    sync_api.expect(phone.locator("#sources")).to_be_hidden()  # the wide table gives way to the list
    table, _ = Client(page.url, verbose=False).predict(api_name="/sources")
    assert len(table["data"]) >= 5
    for doc_id, title, outlet, _author, date, _chunks in table["data"]:  # each document: title, id, outlet, date
        item = phone.locator(f'#sources-list li[data-doc="{doc_id}"]')
        sync_api.expect(item).to_be_visible()
        text = item.inner_text()
        assert all(x in text for x in (title, doc_id, outlet, date)), (text, title, outlet, date)
    assert phone.evaluate("el => el.scrollHeight <= el.clientHeight + 1", phone.locator("#sources-list").element_handle())
    shot = tmp_path / "phone-sources.png"
    phone.screenshot(path=str(shot), full_page=True)
    print(f"screenshot: {shot}")
    assert phone.evaluate(NARROW_CELLS) == []  # every line at least four characters wide, none one letter a line
    r, g, b = map(int, re.findall(r"\d+", phone.eval_on_selector("#remove-doc", BACKGROUND))[:3])
    assert r > 150 and g < 100 and b < 100  # the destructive button is red here too
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390  # nothing wider than the screen
    label = phone.locator("#upload label[data-testid=block-label]").bounding_box()
    icon = phone.locator("#upload [data-testid=upload-icon]").bounding_box()
    assert label and icon and label["y"] + label["height"] <= icon["y"]  # the upload label clears its icon

    answer = ask(phone, SEED_Q)
    source = answer.locator(".rag-src").first
    for part in (answer.locator(".rag-text"), source.locator(".rag-title")):
        box = part.bounding_box()
        assert box and box["width"] >= 200 and box["x"] + box["width"] <= 390
    shot = tmp_path / "phone-chat.png"
    phone.screenshot(path=str(shot), full_page=True)
    print(f"screenshot: {shot}")
    phone.close()


def test_removing_a_document_takes_a_confirming_second_click(page: sync_api.Page) -> None:
    page.get_by_role("tab", name="Sources").click()
    page.locator("#sources [role=gridcell]", has_text=SEED_TITLE).first.click()  # opens it in the viewer
    sync_api.expect(page.locator("#doc-view h3")).to_have_text(SEED_TITLE)
    confirm = page.locator("#confirm-remove")
    page.click("#remove-doc")
    sync_api.expect(page.locator("#doc-view")).to_contain_text("cannot be undone")
    sync_api.expect(page.locator("#doc-view")).to_contain_text(SEED_TITLE)
    sync_api.expect(confirm).to_be_visible()
    for button in ("#remove-doc", "#confirm-remove", "#open-doc"):  # destructive ones red, the others not
        r, g, b = map(int, re.findall(r"\d+", page.eval_on_selector(button, BACKGROUND))[:3])
        assert (r > 150 and g < 100 and b < 100) is (button != "#open-doc"), (button, r, g, b)
    page.click("#open-doc")  # any other action disarms
    sync_api.expect(confirm).to_be_hidden()
    sync_api.expect(page.locator("#sources")).to_contain_text(SEED_TITLE)
    page.click("#remove-doc")
    page.click("#confirm-remove")
    sync_api.expect(page.locator("#doc-view")).to_contain_text(f"Removed “{SEED_TITLE}” (000_47bab1ff1479f7a2)")
    sync_api.expect(page.locator("#sources")).not_to_contain_text(SEED_TITLE)
