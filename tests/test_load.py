"""Loading files: supported formats, encodings, metadata from HTML/Markdown, and clear rejections."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import pytest

from rag.errors import InputError
from rag.ingestion.load import SUPPORTED, iter_files, load_file

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
MB = 1024 * 1024


def _pdf_with_text(lines: list[str]) -> bytes:
    """A minimal one-page PDF whose text layer holds ``lines`` (Helvetica, ASCII)."""
    content = "BT /F1 12 Tf 72 720 Td 14 TL " + " ".join(f"({line}) '" for line in lines) + " ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        f"<< /Length {len(content)} >>\nstream\n{content}\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, obj in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n{obj}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


ARTICLE_HTML = """<!DOCTYPE html><html><head><meta charset="utf-8">
<title>Putin visits Hanoi | The Daily Example</title>
<meta name="author" content="Jane Reporter"><meta property="og:site_name" content="The Daily Example">
<meta property="article:published_time" content="2024-06-20T10:00:00Z">
<script>var tracking = "SCRIPTTEXT";</script><style>.x { color: red }</style></head>
<body><nav><ul><li><a href="/">Home</a></li><li><a href="/world">World NAVTEXT</a></li><li><a href="/s">Sport</a></li></ul></nav>
<header><div class="menu">Subscribe now MENUTEXT</div></header>
<article><h1>Putin visits Hanoi</h1>
<p>Russian President Vladimir Putin arrived in Hanoi on Thursday for a state visit, the second leg of an Asia tour that began in Pyongyang.</p>
<p>Vietnamese President To Lam welcomed him at the Presidential Palace, and the two leaders signed eleven cooperation agreements covering education, science and energy.</p>
<p>Analysts said the visit showed that Hanoi intends to keep its options open while deepening ties with Washington and Beijing.</p>
</article>
<footer><ul><li>About us FOOTERTEXT</li><li>Privacy policy</li><li>Contact</li></ul></footer>
</body></html>"""


def _write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    p = tmp_path / name
    if isinstance(data, str):
        p.write_text(data, encoding="utf-8")
    else:
        p.write_bytes(data)
    return p


def test_seed_files_load_with_stem_as_doc_id() -> None:
    for path in sorted(SEEDS.glob("*.txt")):
        doc = load_file(path, 20 * MB)
        assert doc.doc_id == path.stem
        assert doc.source == str(path)
        assert doc.text == path.read_text(encoding="utf-8")


def test_iter_files_walks_folders_sorted_skips_hidden_and_reports_unsupported(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / ".hidden_dir").mkdir()
    for name in ["b/z.txt", "b/a.md", "c.html", "d.PDF", ".secret.txt", ".hidden_dir/x.txt", "notes.docx"]:
        _write(tmp_path, name, "text")
    missing = tmp_path / "nope.txt"
    files, skipped = iter_files([tmp_path, missing])
    assert files == [tmp_path / "b" / "a.md", tmp_path / "b" / "z.txt", tmp_path / "c.html", tmp_path / "d.PDF"]
    assert "unsupported" in skipped[str(tmp_path / "notes.docx")]
    assert "no such file" in skipped[str(missing)]
    assert not any(".secret" in k or ".hidden_dir" in k for k in skipped)
    assert SUPPORTED == {".txt", ".md", ".html", ".htm", ".pdf"}


def test_iter_files_lists_an_explicit_file_once(tmp_path: Path) -> None:
    p = _write(tmp_path, "a.txt", "Some text.")
    files, skipped = iter_files([p, tmp_path, p])
    assert files == [p] and skipped == {}


@pytest.mark.parametrize(
    ("name", "data", "needle"),
    [
        ("empty.txt", b"", "empty"),
        ("blank.txt", b"  \n\t\r\n   \n", "only whitespace"),
        ("blob.txt", bytes(range(256)) * 20, "binary"),
        ("random.md", os.urandom(4000) + b"\x00\x00", "binary"),
        ("fake.pdf", b"just some text pretending", "not a PDF"),
        ("data.csv", b"a,b\n1,2\n", "not supported"),
    ],
)
def test_bad_files_are_rejected_with_the_file_and_reason(tmp_path: Path, name: str, data: bytes, needle: str) -> None:
    p = _write(tmp_path, name, data)
    with pytest.raises(InputError) as exc:
        load_file(p, MB)
    assert str(p) in str(exc.value)
    assert needle in str(exc.value)


def test_missing_file_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        load_file(tmp_path / "absent.txt", MB)


def test_too_large_file_names_size_limit_and_setting(tmp_path: Path) -> None:
    p = _write(tmp_path, "big.txt", "word " * 300_000)
    with pytest.raises(InputError) as exc:
        load_file(p, MB)
    msg = str(exc.value)
    assert "1.4 MB" in msg and "1.0 MB" in msg and "RAG_MAX_FILE_MB" in msg and str(p) in msg


def test_cp1252_text_with_accents_decodes(tmp_path: Path) -> None:
    text = "El niño comió piñata en el año pasado.\nCafé à Paris — “quoted” naïve résumé.\n"
    p = _write(tmp_path, "latin.txt", text.encode("cp1252"))
    assert load_file(p, MB).text == text


def test_latin1_text_decodes(tmp_path: Path) -> None:
    text = "Grüße aus München, sagte Björn Öztürk über das Abkommen.\n"
    p = _write(tmp_path, "latin1.txt", text.encode("latin-1"))
    assert load_file(p, MB).text == text


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-8-sig", "utf-32"])
def test_unicode_with_or_without_bom_decodes(tmp_path: Path, encoding: str) -> None:
    text = "Putin met Tô Lâm in Hanoi. 클릭시 원문으로 이동\n"
    p = _write(tmp_path, f"u_{encoding}.txt", text.encode(encoding))
    assert load_file(p, MB).text == text


def test_odd_encoding_never_crashes(tmp_path: Path) -> None:
    p = _write(tmp_path, "odd.txt", "Привет, как дела? Это тест.".encode("koi8-r") + b"\xff\xfe\x81")
    doc = load_file(p, MB)
    assert doc.text.strip()


def test_html_keeps_article_text_drops_menus_and_reads_metadata(tmp_path: Path) -> None:
    doc = load_file(_write(tmp_path, "page.html", ARTICLE_HTML), MB)
    assert "Putin arrived in Hanoi on Thursday" in doc.text
    assert "signed eleven cooperation agreements" in doc.text
    for junk in ["SCRIPTTEXT", "NAVTEXT", "MENUTEXT", "FOOTERTEXT", "color: red", "Privacy policy"]:
        assert junk not in doc.text
    assert doc.meta.title == "Putin visits Hanoi"
    assert doc.meta.author == "Jane Reporter"
    assert doc.meta.outlet == "The Daily Example"
    assert doc.meta.date == "2024-06-20"
    assert doc.text.startswith("Putin visits Hanoi")


def test_html_without_article_text_is_rejected(tmp_path: Path) -> None:
    html = "<html><head><script>var a = 1;</script></head><body><nav><a href='/'>Home</a></nav></body></html>"
    p = _write(tmp_path, "empty.htm", html)
    with pytest.raises(InputError, match="no article text"):
        load_file(p, MB)


def test_absurdly_nested_html_is_rejected_quickly(tmp_path: Path) -> None:
    html = "<html><body>" + "<div>" * 50_000 + "deep" + "</div>" * 50_000 + "</body></html>"
    p = _write(tmp_path, "deep.html", html)
    t0 = time.perf_counter()
    with pytest.raises(InputError, match="levels deep"):
        load_file(p, 10 * MB)
    assert time.perf_counter() - t0 < 5


def test_markdown_markup_is_stripped_and_front_matter_read(tmp_path: Path) -> None:
    md = (
        "---\ntitle: \"Sanctions and Allies\"\nauthor: Jane Doe\ndate: 2024-06-25\n---\n"
        "# Sanctions and Allies\n\nPutin's **visit** to *Hanoi* was covered by [Reuters](https://reuters.com/x).\n\n"
        "![photo](img.png)\n\n- First point with `code`.\n> A quoted line.\n\n[ref]: https://example.com\n"
    )
    doc = load_file(_write(tmp_path, "note.md", md), MB)
    assert doc.text.splitlines()[0] == "Sanctions and Allies"
    assert "Putin's visit to Hanoi was covered by Reuters." in doc.text
    assert "First point with code." in doc.text and "A quoted line." in doc.text
    for junk in ["**", "](", "https://", "img.png", "#", "---", "title:"]:
        assert junk not in doc.text
    assert (doc.meta.title, doc.meta.author, doc.meta.date) == ("Sanctions and Allies", "Jane Doe", "2024-06-25")


def test_pdf_text_layer_is_extracted(tmp_path: Path) -> None:
    p = _write(tmp_path, "article.pdf", _pdf_with_text(["Putin visited Hanoi on Thursday.", "He signed eleven agreements."]))
    doc = load_file(p, MB)
    assert "Putin visited Hanoi on Thursday." in doc.text
    assert "He signed eleven agreements." in doc.text
    assert doc.doc_id == "article"


def test_pdf_without_text_layer_is_rejected(tmp_path: Path) -> None:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(612, 792)
    buf = io.BytesIO()
    writer.write(buf)
    p = _write(tmp_path, "scan.pdf", buf.getvalue())
    with pytest.raises(InputError, match="no text layer"):
        load_file(p, MB)


def test_damaged_pdf_is_rejected(tmp_path: Path) -> None:
    p = _write(tmp_path, "broken.pdf", b"%PDF-1.4\n" + os.urandom(2000))
    with pytest.raises(InputError, match=str(p)):
        load_file(p, MB)


def test_pdf_hard_wrapped_lines_are_rejoined_into_paragraphs(tmp_path: Path) -> None:
    lines = [
        "Putin in Hanoi",
        "Russian President Vladimir Putin arrived in Hanoi on Thursday for a",
        "state visit, the second leg of an Asia tour that began in Pyongyang,",
        "where he signed a treaty. The two leaders signed eleven cooperation",
        "agreements covering education, science and energy.",
        "Analysts said the visit showed that Hanoi intends to keep its options",
        "open.",
    ]
    doc = load_file(_write(tmp_path, "wrapped.pdf", _pdf_with_text(lines)), MB)
    assert doc.text.splitlines() == [
        "Putin in Hanoi",
        "Russian President Vladimir Putin arrived in Hanoi on Thursday for a state visit, the second leg of an Asia "
        "tour that began in Pyongyang, where he signed a treaty. The two leaders signed eleven cooperation agreements "
        "covering education, science and energy.",
        "Analysts said the visit showed that Hanoi intends to keep its options open.",
    ]
