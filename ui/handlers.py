"""The event handlers of the page: each calls the Engine and renders what it returns."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr

from rag.engine import Engine
from rag.errors import RagError
from rag.types import Answer
from ui import render

log = logging.getLogger(__name__)
Turn = dict[str, Any]  # {"question", "answer" (plain text, "" when none), "html", "done"}
ChatOut = tuple[list[dict[str, str]], list[Turn], str]
_PROGRESS = gr.Progress()  # gradio injects a tracker where a parameter defaults to one
CRASH = "Something went wrong while answering. The details are in the server log; try again or rephrase the question."
FAILED = "{what} failed unexpectedly; the details are in the server log."


class Handlers:
    """The event handlers; each one calls the Engine and renders what it returns."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.uploads = Path(engine.settings.data_dir) / "uploads"

    # --- chat -----------------------------------------------------------------------
    def respond(self, message: str, turns: list[Turn] | None) -> Iterator[ChatOut]:
        turns = [_settle(t) for t in turns or []]
        question = (message or "").strip()
        if not question:
            yield _messages(turns), turns, ""
            return
        history = [m for t in turns if t["answer"] for m in (
            {"role": "user", "content": t["question"]}, {"role": "assistant", "content": t["answer"]})]
        turn: Turn = {"question": question, "answer": "", "html": render.render_streaming(""), "done": False}
        turns = [*turns, turn]
        yield _messages(turns), turns, ""
        streamed = ""
        try:
            for item in self.engine.stream_answer(question, history):
                if isinstance(item, Answer):
                    html = render.render_answer(item, self._paragraphs(item), anchor=f"t{len(turns)}")
                    turn.update(answer=item.text, html=html, done=True)
                else:
                    streamed += item
                    turn["html"] = render.render_streaming(streamed)
                yield _messages(turns), turns, ""
        except RagError as exc:
            turn.update(html=render.render_error(str(exc)), done=True)
        except Exception:
            log.exception("answering %r failed", question)
            turn.update(html=render.render_error(CRASH), done=True)
        yield _messages(turns), turns, ""

    def retry(self, turns: list[Turn] | None) -> Iterator[ChatOut]:
        turns = list(turns or [])
        if not turns:
            yield [], [], ""
            return
        yield from self.respond(turns[-1]["question"], turns[:-1])

    def example(self, evt: gr.SelectData, turns: list[Turn] | None) -> Iterator[ChatOut]:
        value = evt.value
        text = value.get("text", "") if isinstance(value, dict) else str(value or "")
        yield from self.respond(text, turns)

    def stop(self, turns: list[Turn] | None) -> tuple[list[dict[str, str]], list[Turn]]:
        turns = [_settle(t) for t in turns or []]
        return _messages(turns), turns

    def _paragraphs(self, answer: Answer) -> dict[int, str]:
        texts: dict[str, str] = {}
        out: dict[int, str] = {}
        for c in answer.citations:
            try:
                if c.doc_id not in texts:
                    texts[c.doc_id] = self.engine.document(c.doc_id).text
                out[c.n] = render.paragraph_for(c, texts[c.doc_id])
            except RagError:
                continue
        return out

    # --- sources --------------------------------------------------------------------
    def sources(self) -> tuple[list[list[str]], dict[str, Any]]:
        try:
            sources = self.engine.sources()
            rows = render.render_sources_table(sources)
        except RagError as exc:
            raise gr.Error(str(exc)) from exc
        except Exception as exc:
            log.exception("listing sources failed")
            raise gr.Error(FAILED.format(what="Listing the documents")) from exc
        return rows, gr.update(choices=render.document_choices(sources))

    def open_document(self, doc_id: str | None) -> str:
        if not doc_id:
            return render.render_status("Pick a document in the table or the list first.", ok=False)
        try:
            return render.render_document(self.engine.document(doc_id))
        except RagError as exc:
            return render.render_status(str(exc), ok=False)
        except Exception:
            log.exception("opening %r failed", doc_id)
            return render.render_status(FAILED.format(what="Opening the document"), ok=False)

    def select_row(self, evt: gr.SelectData) -> tuple[str, str]:
        row = evt.row_value or []
        doc_id = str(row[0]) if row else ""
        return doc_id, self.open_document(doc_id)

    def arm_remove(self, doc_id: str | None) -> tuple[str, dict[str, Any], str | None]:
        """The first click of a removal: say which document would go and that it cannot be undone, and show the
        Confirm button; nothing is removed yet."""
        if not doc_id:
            return render.render_status("Pick the document to remove first.", ok=False), gr.update(visible=False), None
        try:
            source = next((s for s in self.engine.sources() if s.doc_id == doc_id), None)
        except RagError as exc:
            return render.render_status(str(exc), ok=False), gr.update(visible=False), None
        if source is None:
            return (render.render_status(f"No indexed document has the id {doc_id}.", ok=False),
                    gr.update(visible=False), None)
        return render.render_remove_prompt(source), gr.update(visible=True), doc_id

    def disarm(self) -> tuple[dict[str, Any], None]:
        """Any other action cancels an armed removal."""
        return gr.update(visible=False), None

    def remove(self, doc_id: str | None, armed: str | None
               ) -> tuple[str, list[list[str]], dict[str, Any], dict[str, Any], None]:
        """The second click: remove the document armed by ``arm_remove``, if it is still the one picked."""
        if not doc_id or doc_id != armed:
            message = render.render_status("Nothing was removed: click “Remove from index” first, then confirm.",
                                           ok=False)
        else:
            try:
                info = next((s for s in self.engine.sources() if s.doc_id == doc_id), None)
                source = info.source if info else ""
                self.engine.remove([doc_id])
                if source and Path(source).resolve().parent == self.uploads.resolve():
                    Path(source).unlink(missing_ok=True)
                name = f"“{render.title_of(info)}” ({doc_id})" if info else doc_id
                message = render.render_status(f"Removed {name} from the index.")
            except RagError as exc:
                message = render.render_status(str(exc), ok=False)
            except Exception:
                log.exception("removing %r failed", doc_id)
                message = render.render_status(FAILED.format(what="Removing the document"), ok=False)
        rows, choices = self.sources()
        return message, rows, {**choices, "value": None}, gr.update(visible=False), None

    def upload(self, files: list[str] | str | None, progress: gr.Progress = _PROGRESS
               ) -> tuple[str, list[list[str]], dict[str, Any], None]:
        paths = [files] if isinstance(files, str) else list(files or [])
        refused: list[str] = []
        accepted: dict[str, Path] = {}  # stored name -> the uploaded file (its name as the user gave it)
        max_mb = self.engine.settings.upload_max_mb
        for p in map(Path, paths):
            problem = render.upload_problem(p.name, p.stat().st_size if p.is_file() else 0, max_mb)
            safe = render.safe_upload_name(p.name)
            if problem or safe is None:
                refused.append(problem or f"{p.name}: refused.")
                continue
            stem, _, ext = safe.rpartition(".")
            n = 1
            while safe in accepted:  # two names that read the same once made safe: both kept
                n += 1
                safe = f"{stem}_{n}.{ext}"
            accepted[safe] = p
        report = None
        if accepted:
            try:
                self.uploads.mkdir(parents=True, exist_ok=True)
                targets = []
                for safe, src in accepted.items():
                    dest = self.uploads / safe
                    if dest.resolve().parent != self.uploads.resolve():
                        refused.append(f"{src.name}: refused.")
                        continue
                    shutil.copyfile(src, dest)
                    targets.append(dest)
                progress(0, desc="Indexing…")
                report = self.engine.ingest(
                    targets, progress=lambda done, total, name: progress((done, total), desc=f"Indexing {name}"))
            except RagError as exc:
                refused.append(str(exc))
            except OSError as exc:
                refused.append(f"Could not store the upload: {exc.strerror or exc}.")
            except Exception:
                log.exception("indexing the upload failed")
                refused.append(FAILED.format(what="Indexing the upload"))
        rows, choices = self.sources()
        stored = {safe: src.name for safe, src in accepted.items()}
        titles = {row[0]: row[1] for row in rows}
        return render.render_upload_report(report, refused, stored, titles), rows, choices, None


def _settle(turn: Turn) -> Turn:
    """Mark an answer whose stream was stopped."""
    return turn if turn.get("done") else {**turn, "html": render.render_stopped(turn["html"]), "done": True}


def _messages(turns: list[Turn]) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for t in turns:
        out += [{"role": "user", "content": render.render_question(t["question"])},
                {"role": "assistant", "content": t["html"]}]
    return out
