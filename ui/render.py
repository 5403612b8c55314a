"""Pure rendering for the UI: answers, sources, documents and upload names to HTML, every text escaped."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from html import escape

from rag.ingestion.metadata import display_title
from rag.text import quoted
from rag.types import Answer, Citation, Document, IngestReport, SourceInfo

UPLOAD_TYPES: tuple[str, ...] = (".txt", ".md", ".html", ".htm", ".pdf")
SOURCE_HEADERS: list[str] = ["id", "title", "outlet", "author", "date", "chunks"]

_MARKERS = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
_STEM_BYTES = 120  # a stored upload's name without its extension, in UTF-8 bytes (file systems allow 255)
_RESERVED = frozenset(["CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))])
_PARAGRAPH_CHARS = 1200
_QUESTION_SHOWN = 200  # characters of a rejected, overlong question shown back in the chat


def _esc(text: str) -> str:
    """Escape text for HTML and keep it on one line (a blank line would end the chat's HTML block)."""
    return escape(text.strip("\n"), quote=True).replace("\r", "").replace("\n", "<br>")


def _basename(path: str) -> str:
    """The last component of a path, whichever separator it uses."""
    return re.split(r"[\\/]", path)[-1]


def _paragraphs(text: str) -> str:
    """Escaped ``<p>`` elements, one per blank-line separated paragraph."""
    parts = [p for p in re.split(r"\n\s*\n", text.replace("\r", "")) if p.strip()]
    return "".join(f"<p>{_esc(p.strip())}</p>" for p in parts)


def cited_numbers(text: str) -> list[int]:
    """The marker numbers that occur in the text, in order of first appearance."""
    seen: list[int] = []
    for group in _MARKERS.findall(text):
        for part in group.split(","):
            n = int(part)
            if n not in seen:
                seen.append(n)
    return seen


def _link_markers(escaped: str, known: set[int], anchor: str) -> str:
    """Turn ``[n]`` (and ``[n, m]``) markers into links to the answer's Sources entries."""

    def link(match: re.Match[str]) -> str:
        nums = [int(p) for p in match.group(1).split(",")]
        if not all(n in known for n in nums):
            return match.group(0)
        return "".join(f'<a class="rag-ref" href="#{anchor}-src-{n}" title="Source {n}">[{n}]</a>' for n in nums)

    return _MARKERS.sub(link, escaped)


def surrounding_paragraph(text: str, start: int, end: int, max_chars: int = _PARAGRAPH_CHARS) -> tuple[str, int, int]:
    """The paragraph (text between newlines) enclosing ``text[start:end]``, with the span's offsets in it.

    A very long paragraph is cut to a window around the span, marked with ellipses.
    """
    n = len(text)
    start = max(0, min(start, n))
    end = max(start, min(end, n))
    ps = text.rfind("\n", 0, start) + 1
    pe = text.find("\n", end)
    pe = n if pe == -1 else pe
    while ps < start and text[ps].isspace():
        ps += 1
    while pe > end and text[pe - 1].isspace():
        pe -= 1
    para, s, e = text[ps:pe], start - ps, end - ps
    if len(para) > max_chars:
        room = max(0, (max_chars - (e - s)) // 2)
        ws, we = max(0, s - room), min(len(para), e + room)
        head, tail = ("…" if ws > 0 else ""), ("…" if we < len(para) else "")
        para = head + para[ws:we] + tail
        s, e = s - ws + len(head), e - ws + len(head)
    return para, s, e


def highlight(paragraph: str, start: int, end: int) -> str:
    """Escaped paragraph with ``paragraph[start:end]`` wrapped in ``<mark>``."""
    return f"{_esc(paragraph[:start])}<mark>{_esc(paragraph[start:end])}</mark>{_esc(paragraph[end:])}"


def paragraph_for(citation: Citation, text: str) -> str:
    """The highlighted paragraph around a citation's quote in its document's cleaned text."""
    para, s, e = surrounding_paragraph(text, citation.start, citation.end)
    return highlight(para, s, e)


def _source_item(c: Citation, anchor: str, paragraph: str | None) -> str:
    meta = " · ".join(escape(x) for x in (c.outlet, c.author, c.date) if x)
    title = escape(display_title(c.title, c.source, c.doc_id))
    meta_html = f' <span class="rag-meta">{meta}</span>' if meta else ""
    head = (f'<div class="rag-src-head"><span class="rag-n">[{c.n}]</span> <strong class="rag-title">{title}</strong>'
            f"{meta_html}"
            f' <code class="rag-doc">{escape(c.doc_id)}</code></div>')
    quote = _quote_html(c)
    if paragraph:
        body = (f'<details class="rag-quote"><summary>{quote}</summary>'
                f'<blockquote class="rag-context">{paragraph}</blockquote></details>')
    else:
        body = f'<blockquote class="rag-quote">{quote}</blockquote>'
    return f'<li id="{anchor}-src-{c.n}" class="rag-src" data-doc="{escape(c.doc_id)}">{head}{body}</li>'


def _short_parts(c: Citation) -> tuple[str, str, str] | None:
    """The stripped quote split around the reader's short answer (before, answer, after), or None."""
    if c.answer_span is None or "\n" in c.quote:
        return None
    text = c.quote.strip()
    shift = len(c.quote) - len(c.quote.lstrip())
    lo, hi = c.answer_span[0] - shift, c.answer_span[1] - shift
    if not 0 <= lo < hi <= len(text):
        return None
    return text[:lo], text[lo:hi], text[hi:]


def _marked(parts: tuple[str, str, str]) -> str:
    before, short, after = parts
    return f'{escape(before)}<mark class="rag-short" title="The short answer">{escape(short)}</mark>{escape(after)}'


def _quote_html(c: Citation) -> str:
    """The citation's quote, escaped, in “…”, with the reader's short answer marked when it located one."""
    parts = _short_parts(c)
    if parts is None:
        return _esc(quoted(c.quote))
    text = c.quote.strip()
    return _marked(parts) if quoted(text) == text else f"“{_marked(parts)}”"


def _mark_short(escaped: str, answer: Answer) -> str:
    """Mark the reader's short answer where the lead's quote appears in the answer text."""
    for c in answer.citations:
        parts = _short_parts(c)
        target = escape(c.quote.strip())
        if parts is not None and target and target in escaped:
            return escaped.replace(target, _marked(parts), 1)
    return escaped


def _mark_unsupported(escaped: str, answer: Answer) -> str:
    """Flag sentences kept in the text that the checker found unsupported."""
    for s in answer.sentences:
        if not s.supported and s.text.strip():
            target = _esc(s.text.strip())
            if target in escaped:
                escaped = escaped.replace(
                    target, f'<span class="rag-flag" title="No cited source supports this sentence">{target}</span>'
                    '<span class="rag-flag-label">unsupported</span>', 1)
    return escaped


def render_answer(answer: Answer, paragraphs: Mapping[int, str] | None = None, anchor: str = "a") -> str:
    """One assistant message: the answer with linked markers, then a Sources block of the cited quotes.

    ``paragraphs`` maps a citation number to its highlighted context (``paragraph_for``); ``anchor``
    keeps element ids unique between the answers of one chat.
    """
    anchor = re.sub(r"[^\w-]", "", anchor) or "a"
    paragraphs = paragraphs or {}
    by_n = {c.n: c for c in answer.citations}
    order = [n for n in cited_numbers(answer.text) if n in by_n]
    out: list[str] = [f'<div class="rag-answer" data-mode="{escape(answer.mode)}">']
    if answer.notice and answer.notice.strip() != answer.text.strip():
        out.append(f'<div class="rag-notice"><strong>Note:</strong> {_esc(answer.notice)}</div>')
    body = _link_markers(_mark_unsupported(_paragraphs(answer.text), answer), set(order), anchor)
    if not answer.abstained:
        body = _mark_short(body, answer)
    if answer.abstained:
        out.append('<div class="rag-abstain" data-abstained="true"><div class="rag-abstain-h">Not in the articles</div>'
                   f"{body or '<p>The indexed articles do not answer this question.</p>'}</div>")
    else:
        out.append(f'<div class="rag-text">{body}</div>')
    if answer.unsupported:
        items = "".join(f"<li><s>{_esc(s)}</s></li>" for s in answer.unsupported)
        out.append('<div class="rag-removed"><div class="rag-removed-h">Removed: not supported by the sources'
                   f"</div><ul>{items}</ul></div>")
    if order:
        items = "".join(_source_item(by_n[n], anchor, paragraphs.get(n)) for n in order)
        out.append(f'<div class="rag-sources"><div class="rag-sources-h">Sources</div><ol>{items}</ol></div>')
    foot = [{"extractive": "Extractive answer", "openai": "LLM answer", "local": "Local model answer"}.get(
        answer.mode, escape(answer.mode))]
    if answer.standalone_question and answer.standalone_question.strip() != answer.question.strip():
        foot.append(f"read as: “{_esc(answer.standalone_question)}”")
    if "total" in answer.timings:
        foot.append(f"{answer.timings['total'] / 1000:.1f} s")
    out.append(f'<div class="rag-foot">{" · ".join(foot)}</div></div>')
    return "".join(out)


def render_streaming(text: str) -> str:
    """The partial answer while it streams: escaped, markers shown as plain text."""
    return f'<div class="rag-answer rag-streaming"><div class="rag-text">{_paragraphs(text) or "<p>…</p>"}</div></div>'


def render_question(text: str, max_chars: int | None = None) -> str:
    """A user's message, escaped so that no markup in it is interpreted; one over ``max_chars`` (rejected as too
    long) is shown by its start and its length, not echoed in full."""
    text = text.strip()
    if max_chars is not None and len(text) > max_chars:
        text = f"{text[:_QUESTION_SHOWN].rstrip()}… ({len(text):,} characters; not shown in full)"
    return f'<div class="rag-q">{_esc(text)}</div>'


def render_error(message: str, title: str = "Could not answer") -> str:
    """A readable error in the chat (never a stack trace)."""
    return f'<div class="rag-error"><div class="rag-error-h">{escape(title)}</div><p>{_esc(message)}</p></div>'


def render_stopped(html: str) -> str:
    """A streamed answer the user stopped."""
    return html + '<div class="rag-foot">Stopped: this partial answer has not been checked or cited.</div>'


def render_sources_table(sources: Iterable[SourceInfo]) -> list[list[str]]:
    """Rows for the Sources table (shown as plain text cells), in SOURCE_HEADERS order."""
    return [[s.doc_id, title_of(s), s.outlet, s.author, s.date, str(s.chunks)] for s in sources]


def render_sources_list(sources: Iterable[SourceInfo]) -> str:
    """The indexed documents as a list for narrow screens: each one's title, then its id, outlet, author and date."""
    items = []
    for s in sources:
        meta = " · ".join(f"<span>{escape(x)}</span>" for x in (s.outlet, s.author, s.date) if x)
        items.append(f'<li class="rag-list-item" data-doc="{escape(s.doc_id)}"><strong>{_esc(title_of(s))}</strong>'
                     f'<div class="rag-meta"><code>{escape(s.doc_id)}</code>{" · " if meta else ""}{meta}</div></li>')
    if not items:
        return '<div class="rag-list rag-meta">No documents are indexed yet: upload articles below.</div>'
    return f'<ol class="rag-list">{"".join(items)}</ol>'


def document_choices(sources: Iterable[SourceInfo]) -> list[tuple[str, str]]:
    """(label, doc id) pairs for the document picker: the title, with the date when it has one."""
    return [(f"{title_of(s)}{f' ({s.date})' if s.date else ''}", s.doc_id) for s in sources]


def render_document(doc: Document) -> str:
    """A document's metadata and cleaned text for the reader pane."""
    m = doc.meta
    meta = " · ".join(escape(x) for x in (m.outlet, m.author, m.date) if x)
    name = _basename(doc.source)
    return (f'<article class="rag-doc-view"><h3>{_esc(display_title(m.title, doc.source, doc.doc_id))}</h3>'
            f'<div class="rag-meta">{meta}{" · " if meta else ""}<code>{escape(doc.doc_id)}</code>'
            f'{f" · {escape(name)}" if name else ""}</div>'
            f'<div class="rag-doc-text">{_paragraphs(doc.text)}</div></article>')


def safe_upload_name(name: str) -> str | None:
    """The name an upload is stored under, derived from any name: the last path component, letters (any script),
    digits, '-' and '.' kept, every other run of characters one ``_``, no leading dot or dash (no hidden file, no
    option), at most ``_STEM_BYTES`` bytes ('My Article (final).txt' -> 'My_Article_final.txt'). None only when the
    extension is not an accepted type."""
    if not isinstance(name, str):
        return None
    base = unicodedata.normalize("NFC", _basename(name.strip()).strip())
    stem, dot, ext = base.rpartition(".")
    if not dot or f".{ext.lower()}" not in UPLOAD_TYPES:
        return None
    stem = re.sub(r"\.{2,}", ".", re.sub(r"[^\w.-]+", "_", stem)).strip("._-") or "upload"
    while len(stem.encode()) > _STEM_BYTES:
        stem = stem[:-1]
    if stem.upper().partition(".")[0] in _RESERVED:
        stem = f"{stem}_file"
    return f"{stem.rstrip('._-') or 'upload'}.{ext.lower()}"


def upload_problem(name: str, size: int, max_mb: float) -> str | None:
    """Why an upload is refused, or None when its type, name and size are acceptable."""
    base = _basename(str(name))
    ext = base.rpartition(".")[2].lower() if "." in base else ""
    if f".{ext}" not in UPLOAD_TYPES:
        return f"{base}: .{ext or '?'} files are not accepted; upload {', '.join(UPLOAD_TYPES)}."
    if size > max_mb * 1024 * 1024:
        return f"{base}: {size / 1024 / 1024:.1f} MB is over the {max_mb:g} MB upload limit (RAG_UPLOAD_MAX_MB)."
    if size == 0:
        return f"{base}: the file is empty."
    return None


def title_of(source: SourceInfo) -> str:
    """What to call an indexed document: its title, else its file name made readable."""
    return display_title(source.title, source.source, source.doc_id)


def render_upload_report(report: IngestReport | None, refused: Sequence[str], indexed: Mapping[str, str],
                         titles: Mapping[str, str] | None = None, notes: Sequence[str] = ()) -> str:
    """The outcome of an upload: what was indexed, what was refused or skipped, and why. ``indexed`` maps each
    stored file name to the name it was uploaded with (a renamed file is reported under both); ``titles`` maps
    document ids to titles, shown beside the ids; ``notes`` are what else the user should know."""
    titles = titles or {}
    lines: list[str] = [f'<div class="rag-ok">Received {escape(original)}, stored as <code>{escape(stored)}</code>.</div>'
                        for stored, original in indexed.items() if stored != original]
    lines += [f'<div class="rag-ok">{_esc(note)}</div>' for note in notes]
    if report is not None:
        new = [*report.added, *report.updated]
        if new:
            ids = ", ".join(f"“{_esc(titles[d])}” (<code>{escape(d)}</code>)" if titles.get(d) else
                            f"<code>{escape(d)}</code>" for d in new)
            lines.append(f'<div class="rag-ok">Indexed {len(new)} document{"s" * (len(new) != 1)}: {ids}. '
                         "You can ask about it in the Chat tab now.</div>")
        for d in report.unchanged:
            lines.append(f'<div class="rag-ok">Already indexed, unchanged: <code>{escape(d)}</code></div>')
        for path, note in report.warnings.items():
            lines.append(f'<div class="rag-warn">{escape(_basename(path))}: {_esc(note)}</div>')
        for path, reason in report.skipped.items():
            lines.append(f'<div class="rag-warn">Skipped {escape(_basename(path))}: {_esc(reason)}</div>')
        for d, twin in report.duplicates.items():
            lines.append(f'<div class="rag-warn">Skipped <code>{escape(d)}</code>: the same story as '
                         f"<code>{escape(twin)}</code>, not indexed twice.</div>")
    for msg in refused:
        lines.append(f'<div class="rag-warn">{_esc(msg)}</div>')
    if not lines:
        lines.append('<div class="rag-warn">Nothing was uploaded.</div>' if not indexed else
                     '<div class="rag-ok">Done.</div>')
    return f'<div class="rag-status">{"".join(lines)}</div>'


def render_remove_prompt(source: SourceInfo) -> str:
    """The question a first click on Remove asks: which document, and that removing it cannot be undone."""
    title = title_of(source)
    return ('<div class="rag-status rag-confirm"><div class="rag-warn">'
            f"Remove “{_esc(title)}” (<code>{escape(source.doc_id)}</code>) from the index? This cannot be undone. "
            "Click <strong>Confirm remove</strong> to remove it; anything else keeps it.</div></div>")


def render_status(message: str, ok: bool = True) -> str:
    """A one-line status message."""
    return f'<div class="rag-status"><div class="{"rag-ok" if ok else "rag-warn"}">{_esc(message)}</div></div>'
