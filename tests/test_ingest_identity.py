"""One document per file, text never garbled, honest exit codes: ids from paths, decoding, and `rag ingest`'s output."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from rag import Engine, Settings
from rag.ingestion.load import decode
from rag.providers import Embedder, build_embedder

ROOT = Path(__file__).resolve().parents[1]
RAG = Path(sys.executable).with_name("rag")
APOSTROPHES = ("Putin’s visit to Pyongyang was the leader’s first in 24 years, and Kim’s government called it a "
               "“new era”. The pact’s fourth article commits both sides to mutual military assistance.\n")


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return build_embedder(Settings())


def _engine(tmp_path: Path, embedder: Embedder) -> Engine:
    return Engine(Settings(data_dir=tmp_path / "data"), embedder=embedder)


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _rag(*args: str, data: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")} | {"RAG_DATA_DIR": str(data)}
    return subprocess.run([str(RAG), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


# --- ids -------------------------------------------------------------------------------------------


def test_same_name_files_in_two_folders_stay_two_documents_across_runs(tmp_path: Path, embedder: Embedder) -> None:
    a = _write(tmp_path / "a" / "article.txt", "Walrus Census\n\nThe walrus census counted 812 walruses in Svalbard.\n")
    b = _write(tmp_path / "b" / "article.txt", "Penguin Census\n\nThe penguin census counted 4,310 penguins at Cape Adare.\n")
    engine = _engine(tmp_path, embedder)
    first = engine.ingest([tmp_path / "a"])
    second = engine.ingest([tmp_path / "b"])
    assert first.added == ["article"] and len(second.added) == 1 and not second.updated
    other = second.added[0]
    assert other != "article" and str(a) in second.warnings[str(b)]  # says why, naming the other file
    assert {s.doc_id: Path(s.source) for s in engine.sources()} == {"article": a.resolve(), other: b.resolve()}
    assert "812" in engine.answer("How many walruses did the walrus census count?").text
    assert "4,310" in engine.answer("How many penguins did the penguin census count?").text
    again = engine.ingest([tmp_path / "b", tmp_path / "a"])  # stable: each file keeps its id
    assert sorted(again.unchanged) == sorted(["article", other]) and not (again.added or again.updated)


def test_files_in_subfolders_get_their_relative_path_as_id(tmp_path: Path, embedder: Embedder) -> None:
    _write(tmp_path / "news" / "2024" / "june.txt", "June Report\n\nThe harbour handled 91 ships in June 2024.\n")
    _write(tmp_path / "news" / "2023" / "june.txt", "June Report\n\nThe harbour handled 57 ships in June 2023.\n")
    report = _engine(tmp_path, embedder).ingest([tmp_path / "news"])
    assert sorted(report.added) == ["2023/june", "2024/june"] and not report.warnings


def test_a_file_ingested_alone_and_then_with_its_folder_is_one_document(tmp_path: Path, embedder: Embedder) -> None:
    seed = ROOT / "seeds" / "000_47bab1ff1479f7a2.txt"
    engine = _engine(tmp_path, embedder)
    assert engine.ingest([seed]).added == [seed.stem]
    report = engine.ingest([ROOT / "seeds"])
    assert seed.stem in report.unchanged and len(report.added) == 4 and not report.warnings


def test_a_file_that_would_take_over_a_vanished_files_document_is_refused_naming_both(
        tmp_path: Path, embedder: Embedder) -> None:
    old = _write(tmp_path / "a" / "article.txt", "Walrus Census\n\nThe walrus census counted 812 walruses.\n")
    engine = _engine(tmp_path, embedder)
    engine.ingest([tmp_path / "a"])
    old.unlink()
    new = _write(tmp_path / "c" / "article.txt", "Penguin Census\n\nThe penguin census counted 4,310 penguins.\n")
    report = engine.ingest([tmp_path / "c"])
    reason = report.skipped[str(new)]
    assert str(old) in reason and "--prune" in reason and not report.added and not report.updated
    assert [s.doc_id for s in engine.sources()] == ["article"]  # nothing replaced


# --- decoding --------------------------------------------------------------------------------------


def test_utf8_with_a_few_invalid_bytes_keeps_every_other_character() -> None:
    data = APOSTROPHES.encode("utf-8").replace(b"first", b"fi\xffrst").replace(b"era", b"e\xfe\xfdra")
    text, encoding, replaced = decode(data)
    assert encoding == "utf-8" and replaced == 3
    assert "Putin’s" in text and "“new e" in text and "‚Äô" not in text and text.count("\ufffd") == 3


def test_text_that_is_not_utf8_at_all_is_detected_and_named() -> None:
    text, encoding, replaced = decode(APOSTROPHES.encode("cp1252"))
    # cp1250 and cp1252 share these characters; the detector may name either, and both read the text right
    assert (text, replaced) == (APOSTROPHES, 0) and encoding in {"cp1252", "cp1250"}


def test_ingest_warns_about_replaced_bytes_and_reports_another_encoding(tmp_path: Path, embedder: Embedder) -> None:
    bad = tmp_path / "in" / "damaged.txt"
    bad.parent.mkdir()
    bad.write_bytes(b"Pact Anniversary\n\n" + APOSTROPHES.encode("utf-8").replace(b"first", b"fi\xffrst"))
    legacy = tmp_path / "in" / "legacy.txt"
    legacy.write_bytes(("Legacy Report\n\nThe ministry’s report counted 66 ships in the port’s harbour in May.\n")
                       .encode("cp1252"))
    engine = _engine(tmp_path, embedder)
    report = engine.ingest([tmp_path / "in"])
    assert sorted(report.added) == ["damaged", "legacy"]
    assert report.warnings[str(bad)].startswith("1 invalid UTF-8 byte sequence replaced")
    encoding = report.encodings[str(legacy)]
    assert list(report.encodings) == [str(legacy)] and f"legacy.txt as {encoding}" in report.summary()
    assert "Putin’s" in engine.document("damaged").text and "ministry’s" in engine.document("legacy").text


def test_a_renamed_id_and_replaced_bytes_are_both_reported(tmp_path: Path, embedder: Embedder) -> None:
    _write(tmp_path / "a" / "article.txt", "Walrus Census\n\nThe walrus census counted 812 walruses in Svalbard.\n")
    damaged = tmp_path / "b" / "article.txt"
    damaged.parent.mkdir()
    damaged.write_bytes(b"Pact Anniversary\n\n" + APOSTROPHES.encode("utf-8").replace(b"first", b"fi\xffrst"))
    engine = _engine(tmp_path, embedder)
    engine.ingest([tmp_path / "a"])
    note = engine.ingest([tmp_path / "b"]).warnings[str(damaged)]
    assert "indexed as 'article~" in note and "1 invalid UTF-8 byte sequence replaced" in note


# --- the command line ------------------------------------------------------------------------------


def test_rag_ingest_exits_non_zero_for_a_missing_path_or_nothing_indexable(tmp_path: Path) -> None:
    data = tmp_path / "data"
    missing = _rag("ingest", str(tmp_path / "does-not-exist"), data=data)
    assert missing.returncode == 1 and "does-not-exist does not exist" in missing.stderr
    (tmp_path / "empty").mkdir()
    empty = _rag("ingest", str(tmp_path / "empty"), data=data)
    assert empty.returncode == 1 and "nothing was indexed" in empty.stderr
    _write(tmp_path / "odd" / "notes.docx", "not an article")
    unsupported = _rag("ingest", str(tmp_path / "odd"), data=data)
    assert unsupported.returncode == 1 and "notes.docx" in unsupported.stderr


def test_rag_ingest_names_each_file_once_in_its_messages(tmp_path: Path) -> None:
    src = (ROOT / "seeds" / "000_47bab1ff1479f7a2.txt").read_text(encoding="utf-8")
    _write(tmp_path / "in" / "original.txt", src)
    _write(tmp_path / "in" / "saved_twice.txt", src.replace("\n\n", "\n\n\n", 1))
    big = tmp_path / "in" / "huge.txt"
    big.write_bytes(b"x" * 300_000)
    env_data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env |= {"RAG_DATA_DIR": str(env_data), "RAG_MAX_FILE_MB": "0.2"}
    run = subprocess.run([str(RAG), "ingest", str(tmp_path / "in")], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    dup_line = next(line for line in run.stderr.splitlines() if "near-duplicate" in line)
    assert str(tmp_path / "in" / "saved_twice.txt") in dup_line and str(tmp_path / "in" / "original.txt") in dup_line
    size_line = next(line for line in run.stderr.splitlines() if "huge.txt" in line)
    assert size_line.count(str(big)) == 1 and "RAG_MAX_FILE_MB" in size_line
