"""docs/configuration.md is generated from the settings object and must match it (scripts/config_docs.py)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from rag.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def _config_docs():
    spec = importlib.util.spec_from_file_location("config_docs", ROOT / "scripts" / "config_docs.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


class _Toy(BaseSettings):
    """A settings class shaped like ours, for checking what the page says about a field."""

    model_config = SettingsConfigDict(env_prefix="TOY_")

    # --- storage -------------------------------------------------------------
    depth: int = Field(default=3, ge=1, description="How deep | the pipe is escaped.")
    # --- answering -----------------------------------------------------------
    mode: Literal["fast", "slow"] = Field(default="fast", description="Which mode.")
    cutoff: float | None = Field(default=None, ge=0.0, le=1.0, description="A cutoff.")


def test_configuration_page_matches_the_settings() -> None:
    page = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert page == _config_docs().render(Settings), (
        "docs/configuration.md is out of date with rag/settings.py: run `python -m scripts.config_docs --write`")


def test_every_setting_has_a_row_with_its_variable_and_description() -> None:
    page = _config_docs().render(Settings)
    for name, field in Settings.model_fields.items():
        assert field.description, f"Settings.{name} has no description"
        variable = "OPENAI_API_KEY" if name == "openai_api_key" else f"RAG_{name.upper()}"
        row = next((line for line in page.splitlines() if line.startswith(f"| `{variable}`")), None)
        assert row is not None, f"no row for {variable}"
        assert " ".join(field.description.split())[:40] in row


def test_a_new_field_appears_under_its_section_with_type_bounds_and_default() -> None:
    page = _config_docs().render(_Toy)
    storage, answering = page.index("## Storage"), page.index("## Answering")
    depth = page.index("| `TOY_DEPTH` | integer, ≥ 1 | `3` | How deep \\| the pipe is escaped. |")
    mode = page.index("| `TOY_MODE` | `fast` \\| `slow` | `fast` | Which mode. |")
    cutoff = page.index("| `TOY_CUTOFF` | number, optional, 0.0–1.0 | unset | A cutoff. |")
    assert storage < depth < answering < mode < cutoff
    assert "TOY_DEPTH" not in _config_docs().render(Settings)


def test_check_mode_fails_on_a_stale_page(tmp_path: Path, monkeypatch, capsys) -> None:
    docs = _config_docs()
    stale = tmp_path / "configuration.md"
    stale.write_text(docs.render(Settings).replace("RAG_CHUNK_SIZE", "RAG_CHUNK_SIZ"), encoding="utf-8")
    monkeypatch.setattr(docs, "PAGE", stale)
    monkeypatch.setattr(docs, "ROOT", tmp_path)
    assert docs.main(["--check"]) == 1
    assert "python -m scripts.config_docs --write" in capsys.readouterr().err
    assert docs.main(["--write"]) == 0
    assert docs.main(["--check"]) == 0
