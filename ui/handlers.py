"""The event handlers of the page: each calls the Engine and renders what it returns."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import gradio as gr
from gradio.utils import get_upload_folder

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
        self.uploads = engine.uploads_dir
        self.max_chars = engine.settings.max_question_chars

    # --- chat -----------------------------------------------------------------------
    def respond(self, message: str, turns: list[Turn] | None, doc_ids: Sequence[str] | None = None,
                date_from: str = "", date_to: str = "") -> Iterator[ChatOut]:
        """Answer a question (within the filters: documents and a YYYY-MM-DD date range), streaming the answer."""
        turns = [_settle(t) for t in turns or []]
        question = (message or "").strip()
        if not question:
            yield self._messages(turns), turns, ""
            return
        filters = {"doc_ids": list(doc_ids or []), "date_from": date_from or "", "date_to": date_to or ""}
        history = [m for t in turns if t["answer"] for m in (
            {"role": "user", "content": t["question"]}, {"role": "assistant", "content": t["answer"]})]
        turn: Turn = {"question": question, "answer": "", "html": render.render_streaming(""), "done": False}
        turns = [*turns, turn]
        yield self._messages(turns), turns, ""
        streamed = ""
        try:
            for item in self.engine.stream_answer(question, history, **filters):
                if isinstance(item, Answer):
                    html = render.render_answer(item, self._paragraphs(item), anchor=f"t{len(turns)}")
                    turn.update(answer=item.text, html=html, done=True)
                else:
                    streamed += item
                    turn["html"] = render.render_streaming(streamed)
                yield self._messages(turns), turns, ""
        except RagError as exc:
            turn.update(html=render.render_error(str(exc)), done=True)
        except Exception:
            log.exception("answering %r failed", question)
            turn.update(html=render.render_error(CRASH), done=True)
        yield self._messages(turns), turns, ""

    def retry(self, turns: list[Turn] | None, doc_ids: Sequence[str] | None = None, date_from: str = "",
              date_to: str = "") -> Iterator[ChatOut]:
        turns = list(turns or [])
        if not turns:
            yield [], [], ""
            return
        yield from self.respond(turns[-1]["question"], turns[:-1], doc_ids, date_from, date_to)

    def example(self, evt: gr.SelectData, turns: list[Turn] | None, doc_ids: Sequence[str] | None = None,
                date_from: str = "", date_to: str = "") -> Iterator[ChatOut]:
        value = evt.value
        text = value.get("text", "") if isinstance(value, dict) else str(value or "")
        yield from self.respond(text, turns, doc_ids, date_from, date_to)

    def stop(self, turns: list[Turn] | None) -> tuple[list[dict[str, str]], list[Turn]]:
        turns = [_settle(t) for t in turns or []]
        return self._messages(turns), turns

    def _messages(self, turns: list[Turn]) -> list[dict[str, str]]:
        out: list[dict[str, str]] = []
        for t in turns:
            out += [{"role": "user", "content": render.render_question(t["question"], self.max_chars)},
                    {"role": "assistant", "content": t["html"]}]
        return out

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

    def lists(self) -> tuple[dict[str, Any], str]:
        """What follows the Sources table: the filter's document choices and the list shown on narrow screens."""
        try:
            sources = self.engine.sources()
        except RagError as exc:
            return gr.update(), render.render_status(str(exc), ok=False)
        return gr.update(choices=render.document_choices(sources)), render.render_sources_list(sources)

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
                (info,) = self.engine.remove([doc_id])  # an upload's stored file goes with it
                name = f"“{render.title_of(info)}” ({doc_id})"
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
        """Store each acceptable file under uploads/ (a name already taken by another article makes a second
        document, never a replacement), index them, and delete Gradio's temporary copies."""
        paths = [Path(p) for p in ([files] if isinstance(files, str) else list(files or []))]
        refused: list[str] = []
        notes: list[str] = []
        accepted: dict[str, Path] = {}  # stored name -> the uploaded file (its name as the user gave it)
        max_mb = self.engine.settings.upload_max_mb
        try:
            for p in paths:
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
            report = self._index(accepted, refused, notes, progress) if accepted else None
        finally:
            for p in paths:
                _discard(p)  # Gradio's temporary copy: the one under uploads/ is the only one kept
        rows, choices = self.sources()
        titles = {row[0]: row[1] for row in rows}
        stored = {safe: src.name for safe, src in accepted.items()}
        return render.render_upload_report(report, refused, stored, titles, notes), rows, choices, None

    def _index(self, accepted: dict[str, Path], refused: list[str], notes: list[str], progress: gr.Progress
               ) -> Any:
        """Copy the accepted files into uploads/ and index them; ``accepted`` is updated with the names used."""
        try:
            self.uploads.mkdir(parents=True, exist_ok=True)
            home = self.uploads.resolve()
            owners = {Path(s.source).resolve(): s.doc_id for s in self.engine.sources() if s.source}
            targets = []
            for safe, src in list(accepted.items()):
                dest, data = self.uploads / safe, src.read_bytes()
                if dest.resolve().parent != home:
                    refused.append(f"{src.name}: refused.")
                    del accepted[safe]
                    continue
                owner = owners.get(dest.resolve())
                if owner is not None and dest.read_bytes() != data:  # the name is another article's
                    stem, _, ext = safe.rpartition(".")
                    second = f"{stem}~{hashlib.sha1(data).hexdigest()[:8]}.{ext}"
                    notes.append(f"{src.name}: a different file of that name was uploaded before (document {owner}), "
                                 f"so this one is a second document, {second.rpartition('.')[0]}; the first is "
                                 "unchanged.")
                    accepted[second] = accepted.pop(safe)
                    dest = self.uploads / second
                dest.write_bytes(data)
                targets.append(dest)
            progress(0, desc="Indexing…")
            return self.engine.ingest(
                targets, progress=lambda done, total, name: progress((done, total), desc=f"Indexing {name}"))
        except RagError as exc:
            refused.append(str(exc))
        except OSError as exc:
            refused.append(f"Could not store the upload: {exc.strerror or exc}.")
        except Exception:
            log.exception("indexing the upload failed")
            refused.append(FAILED.format(what="Indexing the upload"))
        return None


def _discard(path: Path) -> None:
    """Delete an uploaded file from Gradio's upload folder (and its folder, once empty); nothing outside it."""
    folder = Path(get_upload_folder()).resolve()
    try:
        target = path.resolve()
        if folder not in target.parents:
            return
        target.unlink(missing_ok=True)
        if target.parent != folder and not any(target.parent.iterdir()):
            target.parent.rmdir()
    except OSError:
        log.warning("could not delete the temporary upload %s", path)


def _settle(turn: Turn) -> Turn:
    """Mark an answer whose stream was stopped."""
    return turn if turn.get("done") else {**turn, "html": render.render_stopped(turn["html"]), "done": True}
