"""Find article files and read them (.txt, .md, .html, .pdf) into Documents, rejecting bad input with a clear message."""

from __future__ import annotations

import codecs
import io
import os
import re
import unicodedata
from pathlib import Path

from rag.errors import InputError
from rag.ingestion.clean import is_boilerplate
from rag.ingestion.metadata import parse_date
from rag.types import DocMeta, Document

SUPPORTED = {".txt", ".md", ".html", ".htm", ".pdf"}
MAX_HTML_DEPTH = 1000

_BOMS = ((codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"), (codecs.BOM_UTF8, "utf-8"))
_BOMS += ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))  # after UTF-32: shared prefix
_WESTERN = {"cp1252", "windows-1252", "latin_1", "iso8859_1", "iso8859_15", "ascii"}
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-]+)""", re.I)
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9:\-]*)(?:\s[^<>]*?)?(/?)>")
_SKIP_CONTAINERS = re.compile(r"<(script|style|textarea)\b.*?</\1\s*>|<!--.*?-->", re.I | re.S)
_VOID = frozenset(
    "area base br col embed hr img input link meta param source track wbr keygen command basefont frame isindex".split()
)
# Elements whose end tag is optional: browsers close them implicitly, so they do not nest.
_OPTIONAL_END = frozenset("p li dt dd tr td th option optgroup thead tbody tfoot colgroup rb rt rp html head body".split())


def _reject(path: Path, reason: str, fix: str) -> InputError:
    return InputError(f"Cannot ingest {path}: {reason}. {fix}")


def iter_files(paths: list[Path]) -> tuple[list[Path], dict[str, str]]:
    """Supported files under ``paths`` (folders walked recursively, sorted, hidden entries skipped),
    and ``{path: reason}`` for every given or found path that cannot be ingested."""
    found: list[Path] = []
    skipped: dict[str, str] = {}
    seen: set[Path] = set()

    def consider(p: Path) -> None:
        if p.suffix.lower() not in SUPPORTED:
            skipped[str(p)] = f"unsupported file type '{p.suffix or '(none)'}' (supported: {', '.join(sorted(SUPPORTED))})"
            return
        if not os.access(p, os.R_OK):
            skipped[str(p)] = "not readable (permission denied); fix its permissions"
            return
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            found.append(p)

    for given in paths:
        p = Path(given)
        if not p.exists():
            skipped[str(p)] = "no such file or folder; check the path"
        elif p.is_dir():
            batch: list[Path] = []
            errors: list[OSError] = []
            for root, dirs, files in os.walk(p, onerror=errors.append):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                batch.extend(Path(root) / f for f in files if not f.startswith("."))
            for f in sorted(batch):
                if f.is_file():
                    consider(f)
            skipped.update({str(e.filename): f"cannot read folder ({e.strerror})" for e in errors})
        elif p.is_file():
            consider(p)
        else:
            skipped[str(p)] = "not a regular file"
    return found, skipped


def _looks_binary(text: str) -> bool:
    """True when more than 5% of the characters are control characters or decoding failures."""
    if not text:
        return False
    sample = text[:200_000]
    bad = sum(1 for ch in sample if (unicodedata.category(ch) == "Cc" and ch not in "\t\n\r\f\v") or ch == "\ufffd")
    return bad > 0.05 * len(sample)


def decode_bytes(data: bytes, declared: str | None = None) -> str:
    """Decode text of unknown encoding (see ``decode``); only the text."""
    return decode(data, declared)[0]


def decode(data: bytes, declared: str | None = None) -> tuple[str, str, int]:
    """Decode text of unknown encoding: ``(text, encoding, invalid UTF-8 sequences replaced)``.

    BOM first; then UTF-8, strictly or, when the text is UTF-8 with a few invalid bytes, with those bytes replaced
    (never re-read whole in another encoding, which would garble every other non-ASCII character); only text that
    is not UTF-8 at all goes to a declared charset, then charset-normalizer, then cp1252."""
    for bom, enc in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(enc, errors="replace"), enc, 0
    if b"\x00" in data[:4096]:
        even, odd = data[0:4096:2], data[1:4096:2]
        if odd.count(0) > 0.4 * len(odd) and even.count(0) < 0.05 * len(even):
            return data.decode("utf-16-le", errors="replace"), "utf-16-le", 0
        if even.count(0) > 0.4 * len(even) and odd.count(0) < 0.05 * len(odd):
            return data.decode("utf-16-be", errors="replace"), "utf-16-be", 0
    try:
        return data.decode("utf-8"), "utf-8", 0
    except UnicodeDecodeError:
        pass
    if (damaged := _mostly_utf8(data)) is not None:
        return damaged[0], "utf-8", damaged[1]
    if declared:
        try:
            return data.decode(declared), declared.lower(), 0
        except (LookupError, UnicodeDecodeError):
            pass
    try:
        from charset_normalizer import from_bytes

        matches = list(from_bytes(data[:1_000_000]))
    except Exception:  # noqa: BLE001 - a detector failure must not stop ingestion
        matches = []
    if matches:
        best = min(matches, key=lambda m: m.chaos)
        western = [m for m in matches if m.encoding.lower() in _WESTERN and m.chaos <= best.chaos + 0.02]
        encoding = "cp1252" if western else best.encoding
        try:
            return data.decode(encoding, errors="replace"), encoding, 0
        except LookupError:
            pass
    return data.decode("cp1252", errors="replace"), "cp1252", 0


def _mostly_utf8(data: bytes) -> tuple[str, int] | None:
    """``(text, invalid sequences replaced)`` when ``data`` is UTF-8 with a few bad bytes, else None.

    Text in a legacy 8-bit encoding almost never forms a valid multi-byte UTF-8 sequence, so valid multi-byte
    characters that clearly outnumber the invalid bytes mean UTF-8 damaged here and there, not another encoding."""
    text = data.decode("utf-8", errors="replace")
    invalid = text.count("\ufffd") - data.count("\ufffd".encode())
    multibyte = sum(1 for ch in text if ord(ch) > 0x7F and ch != "\ufffd")
    return (text, invalid) if multibyte >= 2 * invalid else None


def _html_depth(html: str) -> int:
    """Deepest element nesting of ``html``, counted on its tags without building a tree."""
    depth = deepest = 0
    for m in _TAG.finditer(_SKIP_CONTAINERS.sub(" ", html)):
        name = m.group(2).lower()
        if name in _VOID or name in _OPTIONAL_END or m.group(3):
            continue
        if m.group(1):
            depth = max(0, depth - 1)
        else:
            depth += 1
            deepest = max(deepest, depth)
    return deepest


def _load_html(path: Path, html: str) -> tuple[str, DocMeta]:
    if _html_depth(html) > MAX_HTML_DEPTH:
        reason = f"its HTML nests elements more than {MAX_HTML_DEPTH} levels deep"
        raise _reject(path, reason, "It is malformed or hostile; save the article as plain text instead")
    import trafilatura

    common = {
        "with_metadata": True,
        "include_comments": False,
        "include_tables": True,
        "date_extraction_params": {"extensive_search": False, "original_date": True},
    }
    result = None
    for extra in ({}, {"favor_recall": True}):
        try:
            result = trafilatura.bare_extraction(html, **common, **extra)
        except (ValueError, RecursionError, TypeError) as exc:
            raise _reject(path, f"its HTML could not be parsed ({exc})", "Save the article as plain text") from exc
        if result is not None and (getattr(result, "text", "") or "").strip():
            break
    text = (getattr(result, "text", "") or "").strip() if result is not None else ""
    if not any(len(ln.split()) >= 5 and not is_boilerplate(ln) for ln in text.splitlines()):  # e.g. only "Home"
        why = "it may be a menu, an index page or rendered by script"
        if (depth := _html_depth(html)) > 250:
            why = f"its elements nest {depth} levels deep, more than the HTML parser reads"
        raise _reject(path, f"no article text could be extracted from the HTML ({why})", "Save the article body as a .txt file")
    meta = DocMeta(
        title=(result.title or "").strip(),
        author=(result.author or "").strip(),
        outlet=(result.sitename or "").strip(),
        date=parse_date(result.date or ""),
    )
    if meta.title and not text.startswith(meta.title):
        text = f"{meta.title}\n\n{text}"
    return text, meta


def _reflow_pdf_page(page: str) -> str:
    """Join hard-wrapped lines of a PDF page back into paragraphs (newlines end sentences downstream)."""
    lines = [ln.rstrip() for ln in page.splitlines()]
    lengths = sorted(len(ln) for ln in lines if ln.strip())
    wide = lengths[int(0.9 * (len(lengths) - 1))] * 0.75 if len(lengths) >= 5 else float("inf")
    out: list[str] = []
    last = ""  # the previous physical line
    for ln in lines:
        stripped = ln.strip()
        if out and out[-1] and stripped:
            prev = out[-1]
            if prev.endswith("-") and prev[-2:-1].isalpha() and stripped[0].islower():
                out[-1], last = prev[:-1] + stripped, stripped
                continue
            if len(last) >= wide or stripped[0].islower():
                out[-1], last = f"{prev} {stripped}", stripped
                continue
        out.append(stripped)
        last = stripped
    return "\n".join(out)


def _load_pdf(path: Path, data: bytes) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise _reject(path, "the PDF is password-protected", "Remove the password and try again")
        pages = [_reflow_pdf_page(page.extract_text() or "") for page in reader.pages]
    except InputError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError, RecursionError) as exc:
        raise _reject(path, f"it is not a readable PDF ({type(exc).__name__}: {exc})", "Re-export it as PDF or text") from exc
    except Exception as exc:  # noqa: BLE001 - pypdf raises many types on damaged files
        raise _reject(path, f"the PDF could not be read ({type(exc).__name__})", "Re-export it as PDF or text") from exc
    text = "\n\n".join(p.strip() for p in pages if p.strip())
    if not text.strip():
        fix = "Run OCR on it first (e.g. `ocrmypdf in.pdf out.pdf`) or supply the text"
        raise _reject(path, "the PDF has no text layer (it is probably a scan)", fix)
    return text


_MD_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"<!--.*?-->", re.S), ""),
    (re.compile(r"^\s{0,3}(?:```|~~~).*$", re.M), ""),  # code fences (the code itself is kept)
    (re.compile(r"^\s{0,3}\[[^\]]+\]:\s+\S+.*$", re.M), ""),  # reference-link definitions
    (re.compile(r"^\s{0,3}(?:[-*_]\s*){3,}$", re.M), ""),  # horizontal rules
    (re.compile(r"^\s{0,3}(?:=+|-+)\s*$", re.M), ""),  # setext heading underlines
    (re.compile(r"^\s{0,3}\|?\s*:?-+:?\s*(?:\|\s*:?-+:?\s*)+\|?\s*$", re.M), ""),  # table rules
    (re.compile(r"^\s{0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$", re.M), r"\1"),  # ATX headings
    (re.compile(r"^\s{0,3}(?:>\s?)+", re.M), ""),  # block quotes
    (re.compile(r"^(\s*)[-*+]\s+(?:\[[ xX]\]\s+)?", re.M), r"\1"),  # bullets and task boxes
    (re.compile(r"!\[([^\]]*)\]\((?:[^()\s]|\([^()]*\))*(?:\s+\"[^\"]*\")?\)"), ""),  # images
    (re.compile(r"\[([^\]]+)\]\((?:[^()\s]|\([^()]*\))*(?:\s+\"[^\"]*\")?\)"), r"\1"),  # inline links
    (re.compile(r"\[([^\]]+)\]\[[^\]]*\]"), r"\1"),  # reference links
    (re.compile(r"<(https?://[^>\s]+)>"), r"\1"),  # autolinks
    (re.compile(r"</?[A-Za-z][^<>]*>"), ""),  # inline HTML tags
    (re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), r"\2"),  # strong
    (re.compile(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])"), r"\1"),  # *emphasis*
    (re.compile(r"(?<!\w)_(?=\S)(.+?)(?<=\S)_(?!\w)"), r"\1"),  # _emphasis_
    (re.compile(r"~~(?=\S)(.+?)(?<=\S)~~"), r"\1"),  # strikethrough
    (re.compile(r"`([^`\n]+)`"), r"\1"),  # inline code
    (re.compile(r"\\([\\`*_{}\[\]()#+\-.!>|])"), r"\1"),  # backslash escapes
]
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S)


def strip_markdown(text: str) -> tuple[str, DocMeta]:
    """Markdown to plain text (headings, emphasis, links and images unwrapped) and YAML front-matter metadata."""
    meta = DocMeta()
    fm = _FRONT_MATTER.match(text)
    if fm:
        fields: dict[str, str] = {}
        for line in fm.group(1).splitlines():
            key, sep, value = line.partition(":")
            if sep and key.strip() and not key.startswith((" ", "\t", "-")):
                fields[key.strip().lower()] = value.strip().strip("\"'")
        meta = DocMeta(
            title=fields.get("title", ""),
            author=fields.get("author", "") or fields.get("authors", ""),
            outlet=fields.get("outlet", "") or fields.get("publisher", "") or fields.get("source", "") or fields.get("site", ""),
            date=parse_date(fields.get("date", "") or fields.get("published", "")),
        )
        text = text[fm.end() :]
    for rx, repl in _MD_RULES:
        text = rx.sub(repl, text)
    return text.strip("\n"), meta


def load_file(path: Path, max_bytes: int) -> Document:
    """Read one file into a Document (raw text plus any metadata the format carries); ``doc_id`` is the file stem."""
    path = Path(path)
    try:
        if not path.exists():
            raise _reject(path, "the file does not exist", "Check the path")
        if not path.is_file():
            raise _reject(path, "it is not a regular file", "Pass a file or a folder of articles")
        size = path.stat().st_size
        if size > max_bytes:
            raise _reject(
                path,
                f"the file is {size / 1_048_576:.1f} MB ({size:,} bytes), over the {max_bytes / 1_048_576:.1f} MB "
                f"({max_bytes:,} bytes) limit",
                "Split it into smaller files or raise the limit with RAG_MAX_FILE_MB",
            )
        data = path.read_bytes()
    except OSError as exc:
        raise _reject(path, f"it cannot be read ({exc.strerror or exc})", "Check that it exists and is readable") from exc
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise _reject(path, f"'{suffix or '(none)'}' files are not supported", f"Use one of {', '.join(sorted(SUPPORTED))}")
    if not data:
        raise _reject(path, "the file is empty (0 bytes)", "Add the article text or leave the file out")
    meta = DocMeta()
    if suffix == ".pdf":
        if data.lstrip()[:5] != b"%PDF-":
            raise _reject(path, "it is not a PDF (no %PDF- header)", "Check the file type or rename it")
        return Document(doc_id=path.stem, source=str(path), text=_load_pdf(path, data), meta=meta)
    declared = _META_CHARSET.search(data[:4096]) if suffix in {".html", ".htm"} else None
    text, encoding, replaced = decode(data, declared.group(1).decode("ascii") if declared else None)
    if _looks_binary(text):
        raise _reject(path, "it contains binary data, not text", "Check that it is a text, Markdown, HTML or PDF file")
    if not text.strip():
        raise _reject(path, "the file contains only whitespace", "Add the article text or leave the file out")
    if suffix in {".html", ".htm"}:
        text, meta = _load_html(path, text)
    elif suffix == ".md":
        text, meta = strip_markdown(text)
        if not text.strip():
            raise _reject(path, "the Markdown file has no text once markup is removed", "Add the article text")
    return Document(doc_id=path.stem, source=str(path), text=text, meta=meta, encoding=encoding, replaced=replaced)
