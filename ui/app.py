"""The Gradio page: a cited-answer chat and a Sources tab, everything going through the Engine."""

from __future__ import annotations

import errno
import ipaddress
import socket
import sys
from pathlib import Path

import gradio as gr

from rag.engine import Engine
from rag.errors import RagError
from rag.settings import Settings
from ui import render
from ui.examples import examples_for
from ui.handlers import Handlers
from ui.theme import CSS, JS, THEME, header_html

EXIT_REFUSED = 2
SEEDS = Path("seeds")
REFUSAL = (
    "Refusing to start the UI on {host}: it is not a loopback address, so anyone on the network could reach it, "
    "and no login is set.\nSet a login and start again, e.g.\n    RAG_UI_AUTH=user:password rag ui --host {host}\n"
    "or keep the default host 127.0.0.1 (reachable from this machine only)."
)


def is_loopback(host: str) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def port_problem(host: str, port: int) -> str | None:
    """Why the UI cannot listen on ``host:port`` (the port is taken, or the address is not this machine's), or None."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds: TIME_WAIT is free
            probe.bind(address)
    except OSError as exc:
        taken = exc.errno == errno.EADDRINUSE
        why = "is already in use (another `rag ui`, or another program)" if taken else f"cannot be used ({exc})"
        return (f"Cannot start the UI: port {port} on {host} {why}. Nothing was indexed or started. "
                f"Choose another port with `rag ui --port {port + 1}` (or set RAG_UI_PORT), or stop what uses it.")
    return None


def build_app(engine: Engine) -> gr.Blocks:
    """The page for one engine; building it lists the indexed documents (for the examples)."""
    h = Handlers(engine)
    try:
        indexed = engine.sources()
    except RagError:
        indexed = []
    present = [s.doc_id for s in indexed]
    max_mb = engine.settings.upload_max_mb
    with gr.Blocks(title="News Q&A", analytics_enabled=False) as app:
        turns = gr.State([])
        armed = gr.State(None)  # the document a first click on Remove picked; a second click removes it
        gr.HTML(header_html(engine.mode_label), elem_id="header")
        with gr.Tabs():
            with gr.Tab("Chat", id="chat"):
                chat = gr.Chatbot(
                    value=[], elem_id="chat", show_label=False, height=600, sanitize_html=True, allow_tags=False,
                    latex_delimiters=[], buttons=["copy"], feedback_options=None,
                    examples=[{"text": q} for q in examples_for(present)],
                    placeholder="**Ask about the indexed news articles.** Each answer cites verbatim quotes; "
                                "expand a quote to read it in its paragraph.")
                with gr.Row(equal_height=True):
                    msg = gr.Textbox(placeholder="Ask a question about the articles…", show_label=False,
                                     elem_id="question", scale=8, lines=1, max_lines=4)  # focused by JS
                    ask = gr.Button("Ask", variant="primary", scale=1, elem_id="ask")
                with gr.Row():
                    stop = gr.Button("■ Stop", size="sm", scale=0, min_width=110, elem_id="stop")
                    retry = gr.Button("↻ Retry", size="sm", scale=0, min_width=110, elem_id="retry")
                    clear = gr.Button("Clear chat", size="sm", scale=0, min_width=110, elem_id="clear")
                with gr.Accordion("Filters", open=False, elem_id="filters"):
                    with gr.Row():
                        only = gr.Dropdown(choices=render.document_choices(indexed), value=[], multiselect=True,
                                           allow_custom_value=True, label="Only these documents", scale=2,
                                           elem_id="filter-docs")
                        since = gr.Textbox("", label="From (YYYY-MM-DD)", max_lines=1, scale=1, elem_id="filter-from")
                        until = gr.Textbox("", label="To (YYYY-MM-DD)", max_lines=1, scale=1, elem_id="filter-to")
                    gr.Markdown("A date range also keeps the articles that have no date (it cannot place them); "
                                "the answer says which.", elem_classes=["rag-meta"])
            with gr.Tab("Sources", id="sources"):
                listed = gr.HTML(render.render_sources_list(indexed), elem_id="sources-list")  # narrow screens
                table = gr.Dataframe(headers=render.SOURCE_HEADERS, value=[], interactive=False, wrap=True,
                                     label="Indexed articles (click a row to read it)", elem_id="sources",
                                     column_widths=["19%", "36%", "14%", "14%", "10%", "7%"], max_height=360,
                                     latex_delimiters=[], show_search="search")
                with gr.Row():
                    with gr.Column(scale=3):
                        with gr.Row(equal_height=True):
                            pick = gr.Dropdown(choices=render.document_choices(indexed), value=None, label="Document", scale=3,
                                               elem_id="doc-pick", allow_custom_value=True)
                            with gr.Column(scale=1, min_width=160):
                                open_btn = gr.Button("Open", size="sm", elem_id="open-doc")
                                remove_btn = gr.Button("Remove from index", size="sm", variant="stop",
                                                       elem_id="remove-doc")
                                confirm_btn = gr.Button("Confirm remove", size="sm", variant="stop", visible=False,
                                                        elem_id="confirm-remove")
                        viewer = gr.HTML(elem_id="doc-view")
                    with gr.Column(scale=2):
                        files = gr.File(label=f"Upload articles ({' '.join(render.UPLOAD_TYPES)}, up to {max_mb:g} MB)",
                                        file_count="multiple", file_types=list(render.UPLOAD_TYPES), type="filepath",
                                        height=170, elem_id="upload")
                        status = gr.HTML(elem_id="upload-status")
                        started = gr.Button("New upload", visible="hidden", elem_id="upload-started")  # clicked by JS

        outs, filters = [chat, turns, msg], [only, since, until]
        runs = [
            msg.submit(h.respond, [msg, turns, *filters], outs, api_name="chat"),
            ask.click(h.respond, [msg, turns, *filters], outs, api_visibility="private"),
            retry.click(h.retry, [turns, *filters], outs, api_name="retry"),
            chat.example_select(h.example, [turns, *filters], outs, api_visibility="private"),
        ]
        stop.click(h.stop, [turns], [chat, turns], cancels=runs, api_visibility="private")
        clear.click(lambda: ([], [], ""), None, outs, api_name="clear", queue=False)
        chat.clear(lambda: ([], ""), None, [turns, msg], api_visibility="private", queue=False)
        app.load(h.sources, None, [table, pick], api_name="sources")
        table.select(h.select_row, None, [pick, viewer], api_visibility="private")
        open_btn.click(h.open_document, [pick], [viewer], api_name="document")
        pick.input(h.open_document, [pick], [viewer], api_visibility="private")
        remove_btn.click(h.arm_remove, [pick], [viewer, confirm_btn, armed], api_name="remove")
        confirm_btn.click(h.remove, [pick, armed], [viewer, table, pick, confirm_btn, armed], api_name="confirm_remove")
        files.upload(h.upload, [files], [status, table, pick, files], api_name="upload")
        started.click(lambda: "", None, [status], api_visibility="private", queue=False)  # no stale status
        table.change(h.lists, None, [only, listed], api_visibility="private")
        for other in (pick.input, open_btn.click, table.select, files.upload, msg.submit, ask.click):
            other(h.disarm, None, [confirm_btn, armed], api_visibility="private", queue=False)
    return app


def serve(app: gr.Blocks, host: str, port: int, auth: tuple[str, str] | None = None, *,
          upload_max_mb: float | None = None) -> gr.Blocks:
    """Start the server without blocking (``app.block_thread()`` waits; ``app.close()`` stops)."""
    app.queue(default_concurrency_limit=2)
    app.launch(server_name=host, server_port=port, auth=auth, prevent_thread_lock=True, quiet=True, share=False,
               inbrowser=False, show_error=False, theme=THEME, css=CSS, js=JS, ssr_mode=False,
               max_file_size=int(upload_max_mb * 1024 * 1024) if upload_max_mb else None)
    return app


def _auth(settings: Settings) -> tuple[str, str] | None:
    if settings.ui_auth is None or not settings.ui_auth.get_secret_value():
        return None
    user, sep, password = settings.ui_auth.get_secret_value().partition(":")
    if not sep or not user or not password:
        raise ValueError("RAG_UI_AUTH must look like user:password.")
    return user, password


def _seed_index(engine: Engine) -> None:
    seeds = SEEDS if SEEDS.is_dir() else Path(__file__).resolve().parents[1] / "seeds"
    if not seeds.is_dir():
        print("The index is empty and there is no seeds/ folder; upload articles in the Sources tab.")
        return
    print(f"The index is empty: indexing the seed articles in {seeds} first.")

    def show(done: int, total: int, name: str) -> None:
        print(f"\r  {done}/{total} {name[:50]:<50}", end="", flush=True)

    report = engine.ingest([seeds], progress=show)
    print(f"\n{report.summary()}")


def launch(host: str | None = None, port: int | None = None, *, engine: Engine | None = None) -> int:
    """Start the UI and block until Ctrl+C; return the exit code (2 when refusing an unsafe host)."""
    settings = engine.settings if engine else Settings()
    host = host or settings.ui_host
    port = port or settings.ui_port
    try:
        auth = _auth(settings)
    except ValueError as exc:
        print(f"{exc} For example: RAG_UI_AUTH=alice:some-long-password", file=sys.stderr)
        return EXIT_REFUSED
    if auth is None and not is_loopback(host):
        print(REFUSAL.format(host=host), file=sys.stderr)
        return EXIT_REFUSED
    if problem := port_problem(host, port):  # before the seeds are indexed, which takes a while
        print(problem, file=sys.stderr)
        return 1
    if engine is None:
        from rag import get_engine

        engine = get_engine()
    if engine.is_empty():
        _seed_index(engine)
    app = build_app(engine)
    try:
        serve(app, host, port, auth, upload_max_mb=settings.upload_max_mb)
    except OSError as exc:
        print(f"Could not start the UI on {host}:{port}: {exc}\nPick a free port with --port or RAG_UI_PORT.",
              file=sys.stderr)
        return 1
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else (f"[{host}]" if ":" in host else host)
    print(f"News Q&A is running at http://{shown}:{app.server_port}" + (" (sign in with RAG_UI_AUTH)" if auth else ""))
    print("Press Ctrl+C to stop.")
    try:
        app.block_thread()
    finally:
        app.close()
    return 0


if __name__ == "__main__":
    sys.exit(launch())
