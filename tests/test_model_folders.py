"""A RAG_SCORER folder that is not a model: the message names the folder, what it must hold and the fix that applies
(that folder for the user's own, reinstalling for the packaged one), never a traceback, also from a real `rag ask`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import rag.scorer
from rag import ConfigError, Engine, Settings
from rag.assets import file_sha256
from rag.providers import build_scorer
from rag.scorer import MANIFEST, PACKAGED, AnswerScorer

ROOT = Path(__file__).resolve().parents[1]
RAG = Path(sys.executable).with_name("rag")


def _copy(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """The user's own exported scorer: a copy of the packaged folder."""
    copy = tmp_path / "my-scorer"
    shutil.copytree(PACKAGED, copy)
    return copy, json.loads((copy / MANIFEST).read_text())


def _replace(folder: Path, manifest: dict[str, str], key: str, data: bytes) -> Path:
    """Write ``data`` as the manifest's ``key`` file, with its sha256 in the manifest: intact, but not a model."""
    path = folder / manifest[key]
    path.write_bytes(data)
    manifest[f"{key}_sha256"] = file_sha256(path)
    (folder / MANIFEST).write_text(json.dumps(manifest))
    return path


def _users_fix(message: str, folder: Path) -> None:
    assert f"The folder {folder} must hold either an exported scorer (manifest.json" in message, message
    assert "config.json" in message and "RAG_SCORER=packaged" in message
    assert "make setup" not in message  # reinstalling cannot fix the user's own folder


def test_a_folder_without_a_model_names_it_what_it_must_hold_and_the_fix(tmp_path: Path) -> None:
    folder = tmp_path / "my-scorer"
    folder.mkdir()
    (folder / "notes.txt").write_text("weights to come")
    with pytest.raises(ConfigError) as err:
        build_scorer(Settings(scorer=str(folder)))
    assert str(err.value).startswith(f"RAG_SCORER names {folder}, which holds no model: it has neither "
                                     "manifest.json nor config.json.")
    _users_fix(str(err.value), folder)


def test_a_cross_encoder_folder_that_does_not_load_names_it(tmp_path: Path) -> None:
    folder = tmp_path / "my-cross-encoder"
    folder.mkdir()
    (folder / "config.json").write_text("{}")  # no model_type, no weights
    with pytest.raises(ConfigError) as err:
        build_scorer(Settings(scorer=str(folder)))
    assert str(err.value).startswith(f"RAG_SCORER names {folder}, which does not load as a cross-encoder (")
    _users_fix(str(err.value), folder)


@pytest.mark.parametrize(("key", "says"), [
    ("model", "is not an ONNX model onnxruntime can load (InvalidProtobuf)"),
    ("tokenizer", "is not a tokenizer.json tokenizers can load"),
])
def test_a_file_whose_sha256_matches_but_is_not_a_model_names_it(tmp_path: Path, key: str, says: str) -> None:
    folder, manifest = _copy(tmp_path)
    path = _replace(folder, manifest, key, b"not a model at all\n" * 50)
    with pytest.raises(ConfigError) as err:
        build_scorer(Settings(scorer=str(folder)))
    assert str(err.value).startswith(f"The answer scorer's file {path} {says}"), str(err.value)
    _users_fix(str(err.value), folder)


def test_a_manifest_without_its_entries_names_the_missing_one(tmp_path: Path) -> None:
    folder, _ = _copy(tmp_path)
    (folder / MANIFEST).write_text(json.dumps({"name": "mine"}))
    with pytest.raises(ConfigError) as err:
        AnswerScorer(folder)
    assert str(err.value).startswith(f"The answer scorer's manifest {folder / MANIFEST} has no 'model' entry.")
    _users_fix(str(err.value), folder)


def test_a_corrupt_file_is_fixed_in_the_users_folder_and_by_reinstalling_the_packaged_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder, manifest = _copy(tmp_path)
    model = folder / manifest["model"]
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model.write_bytes(bytes(data))
    with pytest.raises(ConfigError) as users:
        AnswerScorer(folder)
    assert f"{model} is corrupt" in str(users.value)
    _users_fix(str(users.value), folder)

    monkeypatch.setattr(rag.scorer, "PACKAGED", folder)  # the same damage in the packaged folder
    with pytest.raises(ConfigError) as packaged:
        AnswerScorer(folder)
    assert str(packaged.value).endswith("Reinstall the package (`make setup`).")


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("model-folders") / "data"
    article = data.parent / "kelp.txt"
    article.write_text("Kelp farm opens off Orkney\n\nA kelp farm opened off Orkney on Monday. It will harvest 300 "
                       "tonnes of kelp a year.\n", encoding="utf-8")
    Engine(Settings(data_dir=data, llm="none")).ingest([article])
    return data


def test_rag_ask_with_a_scorer_folder_that_is_not_a_model_says_so_without_a_traceback(
        indexed: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty-folder"
    empty.mkdir()
    folder, manifest = _copy(tmp_path)
    model = _replace(folder, manifest, "model", b"not a model at all\n" * 50)
    for scorer, says in ((empty, f"Error: RAG_SCORER names {empty}, which holds no model"),
                         (folder, f"Error: The answer scorer's file {model} is not an ONNX model")):
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
        env.update(RAG_DATA_DIR=str(indexed), RAG_SCORER=str(scorer))
        done = subprocess.run([str(RAG), "ask", "How much kelp will the farm harvest?"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
        assert done.returncode == 1, done.stdout
        assert done.stderr.startswith(says), done.stderr
        assert f"The folder {scorer} must hold" in done.stderr and "Traceback" not in done.stderr
