"""Unit tests of ui.render: escaping, linked markers, cited sources only, abstention, highlights, upload names."""

from __future__ import annotations

import re

import pytest

from rag.types import Answer, Citation, DocMeta, Document, IngestReport, SentenceCheck, SourceInfo
from ui.render import (
    document_choices,
    highlight,
    paragraph_for,
    render_answer,
    render_document,
    render_error,
    render_question,
    render_remove_prompt,
    render_sources_list,
    render_sources_table,
    render_streaming,
    render_upload_report,
    safe_upload_name,
    surrounding_paragraph,
    upload_problem,
)

EVIL_TITLE = 'Accord <img src=x onerror="window.__pwned=1">'
DOC_TEXT = (
    "Headline\n\nFirst paragraph about something else.\n\n"
    "The accord was signed in Tallinn on 3 March. It covers lithium. <script>alert(1)</script>\n\n"
    "Last paragraph."
)


def _cite(n: int, quote: str, doc_id: str = "doc_a", title: str = "A title", **kw: object) -> Citation:
    start = DOC_TEXT.find(quote)
    fields: dict[str, object] = {"outlet": "Outlet", "author": "Ann Author", "date": "2025-03-04", **kw}
    return Citation(n=n, doc_id=doc_id, title=title, quote=quote, start=max(start, 0),
                    end=max(start, 0) + len(quote), **fields)


def _answer(text: str, citations: list[Citation], **kw: object) -> Answer:
    return Answer(question="Where was the accord signed?", text=text, citations=citations, **kw)


def _no_raw_tags(html: str) -> None:
    assert "<script" not in html and "<img" not in html and "onerror=\"" not in html


def test_markers_link_to_sources_of_this_answer() -> None:
    a = _answer("It was signed in Tallinn. [1] It covers lithium. [2]",
                [_cite(1, "The accord was signed in Tallinn on 3 March."), _cite(2, "It covers lithium.")])
    html = render_answer(a, anchor="t3")
    assert '<a class="rag-ref" href="#t3-src-1"' in html and 'href="#t3-src-2"' in html
    assert 'id="t3-src-1"' in html and 'id="t3-src-2"' in html
    assert "Sources" in html and "A title" in html and "Outlet" in html and "Ann Author" in html and "2025-03-04" in html
    assert "“The accord was signed in Tallinn on 3 March.”" in html
    assert "\n" not in html  # one HTML block for the chat's markdown renderer


def test_grouped_markers_and_unknown_numbers() -> None:
    a = _answer("Signed in Tallinn. [1, 2] See [9].", [_cite(1, "It covers lithium."), _cite(2, "Last paragraph.")])
    html = render_answer(a)
    assert 'href="#a-src-1"' in html and 'href="#a-src-2"' in html
    assert "[9]" in html and "#a-src-9" not in html


def test_only_cited_sources_are_listed() -> None:
    a = _answer("Signed in Tallinn. [2]", [_cite(1, "It covers lithium.", doc_id="uncited_doc", title="Uncited"),
                                            _cite(2, "Last paragraph.", doc_id="cited_doc", title="Cited")])
    html = render_answer(a)
    assert "cited_doc" in html and "Cited" in html
    assert "uncited_doc" not in html and "Uncited" not in html


def test_document_and_user_text_is_escaped() -> None:
    quote = "It covers lithium. <script>alert(1)</script>"
    a = _answer(f"{EVIL_TITLE} [1]", [_cite(1, quote, title=EVIL_TITLE, outlet="<b>O</b>")],
                notice="<img src=y onerror=alert(2)>", unsupported=["<script>x()</script>"])
    html = render_answer(a, {1: paragraph_for(a.citations[0], DOC_TEXT)})
    _no_raw_tags(html)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=&quot;window.__pwned=1&quot;&gt;" in html
    assert "&lt;b&gt;O&lt;/b&gt;" in html
    for rendered in (render_question('<img src=x onerror="alert(1)">'), render_streaming("<script>x</script>"),
                     render_error("<script>x</script>")):
        _no_raw_tags(rendered)
        assert "&lt;" in rendered


def test_abstained_answer_is_a_callout() -> None:
    a = _answer("The articles do not say.", [], abstained=True)
    html = render_answer(a)
    assert 'class="rag-abstain"' in html and "Not in the articles" in html
    assert "The articles do not say." in html and "rag-sources" not in html


def test_unsupported_sentences_are_marked() -> None:
    a = _answer("Signed in Tallinn. [1] Made of cheese.", [_cite(1, "The accord was signed in Tallinn on 3 March.")],
                mode="openai", unsupported=["It was signed on the Moon."],
                sentences=[SentenceCheck(text="Signed in Tallinn. [1]", citations=[1], support=0.9),
                           SentenceCheck(text="Made of cheese.", support=0.1, supported=False)])
    html = render_answer(a)
    assert "Removed: not supported by the sources" in html and "<s>It was signed on the Moon.</s>" in html
    assert '<span class="rag-flag"' in html and "Made of cheese.</span>" in html and "unsupported" in html


def test_notice_is_shown() -> None:
    a = _answer("Signed. [1]", [_cite(1, "Last paragraph.")], notice="The LLM timed out; this is the extractive answer.")
    assert "The LLM timed out; this is the extractive answer." in render_answer(a)


def test_surrounding_paragraph_and_highlight() -> None:
    quote = "It covers lithium."
    start = DOC_TEXT.index(quote)
    para, s, e = surrounding_paragraph(DOC_TEXT, start, start + len(quote))
    assert para.startswith("The accord was signed") and para.endswith("</script>")
    assert para[s:e] == quote
    html = highlight(para, s, e)
    assert "<mark>It covers lithium.</mark>" in html
    assert html.startswith("The accord was signed in Tallinn on 3 March. <mark>")
    _no_raw_tags(html)
    # the expanded quote in an answer shows the same paragraph with the span marked
    c = _cite(1, quote)
    answer_html = render_answer(_answer("Lithium. [1]", [c]), {1: paragraph_for(c, DOC_TEXT)})
    assert re.search(r"<details class=\"rag-quote\"><summary>“It covers lithium.”</summary>"
                     r"<blockquote class=\"rag-context\">The accord was signed.*<mark>It covers lithium.</mark>",
                     answer_html)


def test_surrounding_paragraph_edges() -> None:
    assert surrounding_paragraph("Only line.", 0, 4) == ("Only line.", 0, 4)
    para, s, e = surrounding_paragraph("abc", 10, 20)  # offsets past the end are clamped
    assert (s, e) == (3, 3) and para == "abc"
    long = "x" * 5000 + " NEEDLE " + "y" * 5000
    para, s, e = surrounding_paragraph(long, 5001, 5007, max_chars=200)
    assert para[s:e] == "NEEDLE" and len(para) <= 210 and para.startswith("…") and para.endswith("…")


@pytest.mark.parametrize(("name", "expected"), [
    ("article.txt", "article.txt"),
    ("000_47bab1ff1479f7a2.TXT", "000_47bab1ff1479f7a2.txt"),
    ("My Article v2.pdf", "My_Article_v2.pdf"),
    ("My Article (final).txt", "My_Article_final.txt"),
    ("Straße in Zürich – Bericht.html", "Straße_in_Zürich_Bericht.html"),
    ("日本語の記事.md", "日本語の記事.md"),
    ("../../x.txt", "x.txt"),
    ("..\\..\\windows\\evil.md", "evil.md"),
    ("/etc/passwd.html", "passwd.html"),
    ("report.htm", "report.htm"),
    (".hidden.txt", "hidden.txt"), ("a..b.txt", "a.b.txt"), ("-rf.txt", "rf.txt"), ("semi;colon.txt", "semi_colon.txt"),
    ("quote\".txt", "quote.txt"), ("nul\x00.txt", "nul_file.txt"), ("CON.md", "CON_file.md"), (".txt", "upload.txt"),
    ("(((.txt", "upload.txt"),
    ("..", None), ("evil.exe", None), ("noext", None), ("x.txt/", None), ("", None),
])
def test_any_upload_name_of_an_accepted_type_is_stored_under_a_safe_readable_name(name: str, expected: str | None) -> None:
    assert safe_upload_name(name) == expected


def test_stored_upload_names_are_length_limited_in_bytes() -> None:
    stored = safe_upload_name("ü" * 300 + ".txt")
    assert stored is not None and stored.endswith(".txt") and len(stored.encode()) <= 130


def test_upload_problem_messages() -> None:
    assert upload_problem("a.txt", 100, 10) is None
    assert "not accepted" in (upload_problem("a.exe", 100, 10) or "")
    assert "10 MB upload limit" in (upload_problem("a.pdf", 11 * 1024 * 1024, 10) or "")
    assert "empty" in (upload_problem("a.md", 0, 10) or "")
    assert upload_problem("My Article (final);v2.txt", 10, 10) is None  # an odd name is renamed, not refused


def test_sources_table_and_document_view() -> None:
    rows = render_sources_table([SourceInfo(doc_id="d1", title=EVIL_TITLE, outlet="O", author="A", date="2025-01-02",
                                            chunks=3)])
    assert rows == [["d1", EVIL_TITLE, "O", "A", "2025-01-02", "3"]]  # the table shows cells as plain text
    doc = Document(doc_id="d1", source="/data/uploads/d1.txt", text=DOC_TEXT, meta=DocMeta(title=EVIL_TITLE))
    html = render_document(doc)
    _no_raw_tags(html)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "d1.txt" in html and "/data/uploads" not in html


def test_untitled_documents_are_shown_under_a_readable_name_never_an_id_or_untitled() -> None:
    source = SourceInfo(doc_id="002_fa3c26d2fc650530", source="seeds/002_fa3c26d2fc650530.txt", chunks=1)
    assert render_sources_table([source])[0][1] == "Article 002"
    upload = SourceInfo(doc_id="My_Article_final", source="/d/uploads/My_Article_final.txt", date="2025-01-02")
    assert render_sources_table([upload])[0][1] == "My Article final"
    assert document_choices([upload]) == [("My Article final (2025-01-02)", "My_Article_final")]
    html = render_answer(_answer("Signed. [1]", [_cite(1, "Last paragraph.", doc_id="002_fa3c26d2fc650530", title="")]))
    doc = Document(doc_id="x_3f9a2b7c11d0e4f5", source="/d/x_3f9a2b7c11d0e4f5.txt", text=DOC_TEXT)
    for shown in (html, render_document(doc)):
        assert "Untitled" not in shown
    assert '<strong class="rag-title">Article 002</strong>' in html and "<h3>X</h3>" in render_document(doc)


def test_remove_prompt_names_the_document_and_says_it_cannot_be_undone() -> None:
    html = render_remove_prompt(SourceInfo(doc_id="d1", title=EVIL_TITLE))
    _no_raw_tags(html)
    assert "d1" in html and "Accord" in html and "cannot be undone" in html and "Confirm remove" in html


def test_upload_report_shows_the_name_a_renamed_file_was_uploaded_with() -> None:
    html = render_upload_report(IngestReport(added=["My_Article_final"]), [],
                                {"My_Article_final.txt": "My Article (final).txt"}, {"My_Article_final": "A <b>"})
    assert "Received My Article (final).txt, stored as <code>My_Article_final.txt</code>" in html
    assert "Indexed 1 document: “A &lt;b&gt;” (<code>My_Article_final</code>)" in html


def test_upload_report() -> None:
    report = IngestReport(added=["zorvian"], skipped={"/x/bad.pdf": "no text <b>"}, duplicates={"dup": "orig"})
    html = render_upload_report(report, ["evil.exe: .exe files are not accepted"], {"zorvian.txt": "zorvian.txt"})
    assert "Received" not in html
    assert "Indexed 1 document" in html and "zorvian" in html and "bad.pdf" in html and "/x/" not in html
    assert "&lt;b&gt;" in html and "orig" in html and "evil.exe" in html


def test_a_quote_that_opens_with_a_quotation_mark_gets_no_second_one() -> None:
    quote = "“We expect growth,” he said."
    html = render_answer(_answer("Growth is expected. [1]", [_cite(1, quote)]))
    assert "““" not in html and f"<blockquote class=\"rag-quote\">{quote}</blockquote>" in html
    plain = render_answer(_answer("It covers lithium. [1]", [_cite(1, "It covers lithium.")]))
    assert "“It covers lithium.”" in plain


def test_an_overlong_question_is_shown_by_its_start_and_length_only() -> None:
    question = "Why " + "<b>x</b>" * 10_000
    html = render_question(question, max_chars=2000)
    assert len(html) < 1000 and "80,004 characters; not shown in full" in html and "&lt;b&gt;" in html
    assert render_question("Who signed?", max_chars=2000) == '<div class="rag-q">Who signed?</div>'


def test_sources_list_shows_each_documents_title_id_outlet_author_and_date_escaped() -> None:
    html = render_sources_list([SourceInfo(doc_id="d1", title=EVIL_TITLE, outlet="Lakeside Courier",
                                           author="Marta Oyelaran", date="2025-03-04"),
                                SourceInfo(doc_id="d2", title="", source="/up/kelp_farm.txt")])
    _no_raw_tags(html)
    assert html.count('class="rag-list-item"') == 2
    for part in ("Accord &lt;img", "<code>d1</code>", "Lakeside Courier", "Marta Oyelaran", "2025-03-04",
                 "<code>d2</code>", "Kelp farm"):
        assert part in html, part
    assert "No documents are indexed" in render_sources_list([])


def test_upload_report_shows_the_notes_and_the_warnings_of_the_ingest() -> None:
    report = IngestReport(added=["storm~1a2b3c4d"], warnings={"/data/uploads/storm~1a2b3c4d.txt": "3 bytes <replaced>"})
    html = render_upload_report(report, [], {"storm~1a2b3c4d.txt": "storm.txt"},
                                notes=["storm.txt: a second document, storm~1a2b3c4d"])
    assert "storm.txt: a second document, storm~1a2b3c4d" in html
    assert "storm~1a2b3c4d.txt: 3 bytes &lt;replaced&gt;" in html and "/data/" not in html



def test_the_readers_short_answer_is_marked_in_the_answer_and_its_quote_escaped() -> None:
    quote = "It covers <b>lithium</b> & cobalt."
    lo = quote.index("<b>")
    html = render_answer(_answer(f"{quote} [1]", [_cite(1, quote, answer_span=(lo, lo + len("<b>lithium</b>")))]))
    assert "<b>" not in html  # document text is escaped inside the mark too
    short = '<mark class="rag-short" title="The short answer">&lt;b&gt;lithium&lt;/b&gt;</mark>'
    assert html.count(short) == 2  # in the answer and in its quote under Sources
    assert f"“It covers {short} &amp; cobalt.”" in html
    plain = render_answer(_answer(f"{quote} [1]", [_cite(1, quote)]))
    assert "rag-short" not in plain
    bad = render_answer(_answer(f"{quote} [1]", [_cite(1, quote, answer_span=(3, 999))]))
    assert "rag-short" not in bad  # a span outside the quote marks nothing
