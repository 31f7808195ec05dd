"""``Sandbox``: a persistent sandbox as an object, in the vocabulary E2B's Python SDK users know:
``Sandbox.create()``, ``sandbox.commands.run()``, ``sandbox.files.read/write/list/exists``,
``sandbox.set_timeout()``, ``sandbox.kill()``, ``with Sandbox.create() as sandbox:``."""

from __future__ import annotations

import queue
import threading
from typing import Any, Callable, Iterator, List, Literal, Mapping, Optional, Sequence, Union, overload

from . import endpoints, file_ops
from .client import Client
from .command_result import OutputCollector, outcome
from .connection import KeySource
from .errors import AirlockError, CommandExitError, ExecutionNotFoundError, FileNotFoundError, SandboxNotFoundError, SandboxNotRunningError, TimeoutError
from .hybrid import hybridmethod
from .ndjson import ExitFrame, OutputChunk
from .types import CommandResult, FileEntry, ProcessInfo, SandboxInfo, WriteInfo
from .watch import WatchHandle, refuse_recursive

#: Receives each piece of output as it arrives, decoded as UTF-8.
OutputListener = Callable[[str], Any]


def _client_of(client: Optional[Client], url: Optional[str], key: KeySource, request_timeout: Optional[float] = None) -> "tuple[Client, bool]":
    """The client to use, and whether it was made here (and is closed with the sandbox)."""
    if client is not None:
        if url is not None or key is not None or request_timeout is not None:
            raise AirlockError("give either client or url/key/request_timeout, not both", code="invalid_argument")
        return client, False
    if request_timeout is None:
        return Client(url, key), True
    return Client(url, key, request_timeout=request_timeout), True


class CommandHandle:
    """A command running in a sandbox (``commands.run(..., background=True)``): iterate it for its
    output as it arrives, ``wait()`` for the result, ``kill()`` to stop it."""

    def __init__(
        self,
        client: Client,
        sandbox_id: str,
        body: Mapping[str, Any],
        *,
        on_stdout: Optional[OutputListener] = None,
        on_stderr: Optional[OutputListener] = None,
        timeout: Optional[float] = None,
        approval_id: Optional[str] = None,
        background: bool = True,
    ) -> None:
        self._client, self._sandbox_id, self._body = client, sandbox_id, dict(body)
        self._listeners = {"stdout": on_stdout, "stderr": on_stderr}
        self._timeout, self._approval_id = timeout, approval_id
        self._output = OutputCollector()
        # Why only in the background: a foreground run is never iterated, and would hold its output twice.
        self._chunks: "Optional[queue.Queue[Optional[OutputChunk]]]" = queue.Queue() if background else None
        self._killed = threading.Event()
        self._started = threading.Event()
        self._done = threading.Event()
        self._response_lock = threading.Lock()
        self._close: Optional[Callable[[], None]] = None
        self._result: Optional[CommandResult] = None
        self._error: Optional[BaseException] = None
        self._thread: Optional[threading.Thread] = None
        if background:
            self._thread = threading.Thread(target=self._run, name=f"airlock-exec-{sandbox_id}", daemon=True)
            self._thread.start()
            # Why wait for the start: the handle's pid is what commands.list() and commands.kill() know,
            # and a refused command (ended sandbox, policy) raises here, as E2B's run does.
            self._started.wait()
            if self._error is not None:
                raise self._error
        else:
            self._run()

    @property
    def exec_id(self) -> str:
        """Server-side id of the exec; "" until the server has accepted it."""
        return self._output.exec_id

    @property
    def pid(self) -> str:
        """E2B's name for the command's id: here the exec id (a string), which ``commands.kill`` takes."""
        return self._output.exec_id

    @property
    def stdout(self) -> str:
        """Output so far (all of it once the command has ended)."""
        return self._output.stdout

    @property
    def stderr(self) -> str:
        """Error output so far."""
        return self._output.stderr

    def __iter__(self) -> Iterator[OutputChunk]:
        """The output chunks as they arrive (``chunk.stream``, ``chunk.text``, ``chunk.data``), until the command ends."""
        if self._chunks is None:
            raise AirlockError("only a background command's output can be iterated", code="invalid_argument")
        while True:
            chunk = self._chunks.get()
            if chunk is None:
                self._chunks.put(None)
                return
            yield chunk

    def wait(self) -> CommandResult:
        """Waits for the command to end. Returns the result on exit code 0; raises ``CommandExitError``
        (non-zero exit, signal, kill, limit) or ``TimeoutError`` (its ``timeout``), both carrying the
        result, or the error that broke the stream."""
        self._done.wait()
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return outcome(self._result, self._timeout)

    def kill(self) -> bool:
        """Kills the command: its connection is closed and the server kills it. True if it was still
        running; ``wait()`` then raises ``CommandExitError`` with ``termination_reason`` ``killed``."""
        if self._done.is_set():
            return False
        self._killed.set()
        with self._response_lock:
            if self._close is not None:
                self._close()
        self._done.wait()
        return True

    def _tell(self, stream: str, text: str) -> None:
        listener = self._listeners[stream]
        if listener is not None and text != "":
            listener(text)

    def _run(self) -> None:
        exit_frame: Optional[ExitFrame] = None
        try:
            with self._client.exec_stream(self._sandbox_id, self._body, approval_id=self._approval_id) as stream:
                self._output.exec_id = stream.exec_id
                with self._response_lock:
                    self._close = stream.close
                    if self._killed.is_set() and self._close is not None:
                        self._close()
                self._started.set()
                for frame in stream.frames:
                    if isinstance(frame, ExitFrame):
                        exit_frame = frame
                        break
                    text = self._output.add(frame)
                    if self._chunks is not None:
                        self._chunks.put(frame)
                    self._tell(frame.stream, text)
                for name in ("stdout", "stderr"):
                    self._tell(name, self._output.flush(name))
        except BaseException as err:  # noqa: BLE001 - handed to wait(); a kill's broken stream is expected
            if not self._killed.is_set():
                self._error = err
        finally:
            with self._response_lock:
                self._close = None
            if self._error is None:
                self._result = self._output.result(exit_frame)
            if self._chunks is not None:
                self._chunks.put(None)
            self._done.set()
            self._started.set()


class Commands:
    """Runs commands in one sandbox; reach it as ``sandbox.commands``."""

    def __init__(self, client: Client, sandbox_id: str) -> None:
        self._client, self._sandbox_id = client, sandbox_id

    @overload
    def run(self, cmd: endpoints.Command, *, background: Literal[True], envs: Optional[Mapping[str, str]] = ..., cwd: Optional[str] = ..., on_stdout: Optional[OutputListener] = ..., on_stderr: Optional[OutputListener] = ..., stdin: Union[str, bytes, None] = ..., timeout: Optional[float] = ..., approval_id: Optional[str] = ...) -> CommandHandle: ...

    @overload
    def run(self, cmd: endpoints.Command, *, background: Literal[False] = ..., envs: Optional[Mapping[str, str]] = ..., cwd: Optional[str] = ..., on_stdout: Optional[OutputListener] = ..., on_stderr: Optional[OutputListener] = ..., stdin: Union[str, bytes, None] = ..., timeout: Optional[float] = ..., approval_id: Optional[str] = ...) -> CommandResult: ...

    def run(
        self,
        cmd: endpoints.Command,
        *,
        background: bool = False,
        envs: Optional[Mapping[str, str]] = None,
        cwd: Optional[str] = None,
        on_stdout: Optional[OutputListener] = None,
        on_stderr: Optional[OutputListener] = None,
        stdin: Union[str, bytes, None] = None,
        timeout: Optional[float] = None,
        approval_id: Optional[str] = None,
    ) -> Union[CommandResult, CommandHandle]:
        """Runs ``cmd`` (a string as ``sh -c``, or an argv list), its output streamed to ``on_stdout`` /
        ``on_stderr`` as it happens. ``timeout``: seconds, enforced by the server (default the
        sandbox's per-command limit). Waits and returns the result on exit code 0, raising
        ``CommandExitError`` / ``TimeoutError`` (carrying the result) otherwise; with
        ``background=True`` returns a ``CommandHandle`` at once."""
        body = endpoints.exec_body(cmd, envs=envs, cwd=cwd, timeout=timeout, stdin=stdin)
        handle = CommandHandle(self._client, self._sandbox_id, body, on_stdout=on_stdout, on_stderr=on_stderr, timeout=timeout, approval_id=approval_id, background=background)
        return handle if background else handle.wait()

    def list(self) -> List[ProcessInfo]:  # noqa: A003 - E2B's name
        """The commands running in the sandbox now (started by anyone, streamed or not), oldest first."""
        return self._client.list_execs(self._sandbox_id)

    def kill(self, pid: str) -> bool:
        """Kills the running command ``pid`` (a handle's ``pid``, or one from ``list()``): it ends
        ``killed``, and whoever waits on it gets ``CommandExitError``. True when it was running,
        False when no command of that id runs (as E2B's)."""
        try:
            self._client.kill_exec(self._sandbox_id, pid)
            return True
        except ExecutionNotFoundError:
            return False

    def run_code(
        self,
        code: str,
        *,
        language: str = "python",
        envs: Optional[Mapping[str, str]] = None,
        cwd: Optional[str] = None,
        on_stdout: Optional[OutputListener] = None,
        on_stderr: Optional[OutputListener] = None,
        timeout: Optional[float] = None,
        approval_id: Optional[str] = None,
    ) -> CommandResult:
        """Runs a snippet of ``language`` (``python``, ``javascript``, ``bash``) and returns its result
        whether or not it succeeded (``result.error`` says why not): what a tool handing code from a
        model wants. A refusal or a broken stream still raises."""
        body = endpoints.code_body(code, language=language, envs=envs, cwd=cwd, timeout=timeout)
        handle = CommandHandle(self._client, self._sandbox_id, body, on_stdout=on_stdout, on_stderr=on_stderr, timeout=timeout, approval_id=approval_id, background=False)
        try:
            return handle.wait()
        except (CommandExitError, TimeoutError) as err:
            if err.result is None:
                raise
            return err.result


class Files:
    """Files of one sandbox (absolute paths); reach it as ``sandbox.files``."""

    def __init__(self, client: Client, sandbox_id: str) -> None:
        self._client, self._sandbox_id = client, sandbox_id

    @overload
    def read(self, path: str, format: Literal["text"] = ...) -> str: ...

    @overload
    def read(self, path: str, format: Literal["bytes"]) -> bytes: ...

    @overload
    def read(self, path: str, format: Literal["stream"]) -> Iterator[bytes]: ...

    def read(self, path: str, format: str = "text") -> Union[str, bytes, Iterator[bytes]]:  # noqa: A002 - E2B's name
        """Reads a file: ``text`` (UTF-8, invalid bytes become U+FFFD), ``bytes``, or ``stream`` (an
        iterator of byte chunks; iterate it to the end or close it). ``FileNotFoundError`` when absent."""
        if format not in ("text", "bytes", "stream"):
            raise AirlockError(f'format: "text", "bytes" or "stream", not {format!r}', code="invalid_argument")
        if format == "stream":
            return self._client.read_file_stream(self._sandbox_id, path)
        data = self._client.read_file(self._sandbox_id, path)
        return data if format == "bytes" else data.decode("utf-8", errors="replace")

    @overload
    def write(self, path: str, data: endpoints.WriteData, *, mode: Union[int, str, None] = ...) -> WriteInfo: ...

    @overload
    def write(self, path: Sequence[Mapping[str, Any]]) -> List[WriteInfo]: ...

    def write(self, path: Union[str, Sequence[Mapping[str, Any]]], data: Optional[endpoints.WriteData] = None, *, mode: Union[int, str, None] = None) -> Union[WriteInfo, List[WriteInfo]]:
        """Creates or replaces a file (a string as UTF-8); ``mode`` as 0o644 or "644". Given a list of
        ``{"path": ..., "data": ...}`` (E2B's ``WriteEntry``), writes each in turn and returns their infos."""
        if not isinstance(path, str):
            return [self._client.write_file(self._sandbox_id, path_, data_, mode=None) for path_, data_ in file_ops.write_entries(path, data, mode)]
        if data is None:
            raise AirlockError("files.write: give the data to write", code="invalid_argument")
        return self._client.write_file(self._sandbox_id, path, data, mode=mode)

    def list(self, path: str) -> List[FileEntry]:
        """The entries of a directory."""
        return self._client.list_files(self._sandbox_id, path)

    def get_info(self, path: str) -> Optional[FileEntry]:
        """The entry of ``path`` (from a listing of its parent); None when there is none."""
        parent, name = file_ops.split(file_ops.checked_path("files.get_info", path))
        if name == "":
            return file_ops.ROOT_ENTRY
        try:
            return file_ops.find(self.list(parent), name)
        except FileNotFoundError:
            return None

    def exists(self, path: str) -> bool:
        """Whether ``path`` exists (a file, a folder or a link)."""
        return self.get_info(path) is not None

    def make_dir(self, path: str) -> bool:
        """Creates a folder and its missing parents: True when it was created, False when it existed."""
        argv = file_ops.make_dir_argv(path)
        if self.exists(path):
            return False
        self._run(argv)
        return True

    def rename(self, old_path: str, new_path: str) -> FileEntry:
        """Moves or renames ``old_path`` to ``new_path``; returns the entry at its new place."""
        self._run(file_ops.rename_argv(old_path, new_path))
        entry = self.get_info(new_path)
        if entry is None:
            raise FileNotFoundError(f"files.rename: {new_path} is not there after the move", code="file_not_found")
        return entry

    def remove(self, path: str) -> None:
        """Removes a file, or a folder with everything in it; removing what isn't there is not an error."""
        self._run(file_ops.remove_argv(path))

    def watch_dir(self, path: str, *, recursive: bool = False) -> WatchHandle:
        """Watches a folder: ``handle.get_new_events()`` lists it and returns what changed since the
        last call (``create``, ``write``, ``chmod``, ``remove``), ``handle.stop()`` ends the watch.
        Polling: a change undone between two calls is not seen, a rename reads as remove + create.
        ``FileNotFoundError`` when the folder isn't there."""
        refuse_recursive(recursive)
        folder = file_ops.checked_path("files.watch_dir", path)
        return WatchHandle(lambda: self.list(folder))

    def _run(self, argv: "List[str]") -> None:
        try:
            Commands(self._client, self._sandbox_id).run(argv)
        except CommandExitError as err:
            raise file_ops.command_failed(argv, err) from err


class Sandbox:
    """A persistent sandbox on an airlock server. ``with Sandbox.create() as sandbox:`` kills it on leaving."""

    def __init__(self, sandbox_id: str, client: Client, *, owns_client: bool = False) -> None:
        """Wraps an existing sandbox id without checking it; prefer ``Sandbox.create`` or ``Sandbox.connect``."""
        #: The sandbox id.
        self.sandbox_id = sandbox_id
        #: The client this sandbox talks through.
        self.client = client
        self._owns_client = owns_client
        #: Runs commands in this sandbox.
        self.commands = Commands(client, sandbox_id)
        #: Runs a snippet of code (see ``Commands.run_code``).
        self.run_code = self.commands.run_code
        #: Reads, writes and lists files in this sandbox.
        self.files = Files(client, sandbox_id)

    @classmethod
    def create(
        cls,
        template: Optional[str] = None,
        *,
        timeout: Optional[int] = None,
        idle_timeout: Optional[int] = None,
        envs: Optional[Mapping[str, str]] = None,
        metadata: Optional[Mapping[str, str]] = None,
        runtime: Optional[str] = None,
        allow_internet_access: Optional[bool] = None,
        approval_id: Optional[str] = None,
        client: Optional[Client] = None,
        url: Optional[str] = None,
        key: KeySource = None,
        request_timeout: Optional[float] = None,
        **fields: Any,
    ) -> "Sandbox":
        """Starts a sandbox. ``template``: the image; ``timeout``: its lifetime in seconds, a hard
        deadline (``set_timeout`` extends it); ``idle_timeout``: it ends (``idle_timeout``) after
        this many seconds with no command running and no command or file operation; ``envs``: its
        environment; ``runtime``: ``namespace`` or ``gvisor``; ``allow_internet_access``: True is
        ``network_policy`` ``full``, False ``none`` (the default is no network); ``fields``: further
        request fields as the server names them (``limits``, ``network_policy``, ``allowed_hosts``,
        ``services``, ``secrets``, ``agent_id``, ...). Raises ``RateLimitError`` at capacity (after
        retries), ``InvalidRequestError`` for a refused field, ``ApprovalRequiredError`` when policy
        asks an approver first (repeat the same create with ``approval_id`` once approved)."""
        body = endpoints.create_body(template, timeout=timeout, idle_timeout=idle_timeout, envs=envs, metadata=metadata, runtime=runtime, allow_internet_access=allow_internet_access, fields=fields)
        chosen, owned = _client_of(client, url, key, request_timeout)
        try:
            info = chosen.create_sandbox(body, approval_id=approval_id)
        except BaseException:
            if owned:
                chosen.close()
            raise
        return cls(info.sandbox_id, chosen, owns_client=owned)

    @classmethod
    def connect(cls, sandbox_id: str, *, timeout: Optional[int] = None, client: Optional[Client] = None, url: Optional[str] = None, key: KeySource = None, request_timeout: Optional[float] = None) -> "Sandbox":
        """Attaches to an existing sandbox; ``SandboxNotFoundError`` when the server doesn't know it.
        ``timeout``: a new lifetime in seconds from now. An ended sandbox connects but cannot run
        commands (``SandboxNotRunningError``): there is nothing to resume."""
        chosen, owned = _client_of(client, url, key, request_timeout)
        try:
            info = chosen.get_sandbox(sandbox_id) if timeout is None else chosen.set_sandbox_timeout(sandbox_id, timeout)
        except BaseException:
            if owned:
                chosen.close()
            raise
        return cls(info.sandbox_id, chosen, owns_client=owned)

    @staticmethod
    def list(*, client: Optional[Client] = None, url: Optional[str] = None, key: KeySource = None) -> List[SandboxInfo]:
        """Every sandbox the server shows this caller."""
        chosen, owned = _client_of(client, url, key)
        try:
            return chosen.list_sandboxes()
        finally:
            if owned:
                chosen.close()

    @hybridmethod
    def get_info(cls, sandbox_id: str, *, client: Optional[Client] = None, url: Optional[str] = None, key: KeySource = None) -> SandboxInfo:  # noqa: N805
        """``Sandbox.get_info(sandbox_id)``: that sandbox as the server describes it now."""
        chosen, owned = _client_of(client, url, key)
        try:
            return chosen.get_sandbox(sandbox_id)
        finally:
            if owned:
                chosen.close()

    @get_info.instance
    def get_info(self) -> SandboxInfo:  # noqa: F811
        """The sandbox as the server describes it now (state, limits, expiry, idle timeout, metadata,
        violations, end reason)."""
        return self.client.get_sandbox(self.sandbox_id)

    def is_running(self) -> bool:
        """Whether the sandbox is still running."""
        return self.get_info().state == "running"

    @hybridmethod
    def set_timeout(cls, sandbox_id: str, timeout: int, *, client: Optional[Client] = None, url: Optional[str] = None, key: KeySource = None) -> SandboxInfo:  # noqa: N805
        """``Sandbox.set_timeout(sandbox_id, timeout)``: that sandbox ends ``timeout`` seconds from now."""
        chosen, owned = _client_of(client, url, key)
        try:
            return chosen.set_sandbox_timeout(sandbox_id, timeout)
        finally:
            if owned:
                chosen.close()

    @set_timeout.instance
    def set_timeout(self, timeout: int) -> SandboxInfo:  # noqa: F811
        """The sandbox now ends ``timeout`` seconds from now unless extended again."""
        return self.client.set_sandbox_timeout(self.sandbox_id, timeout)

    def network(self) -> Mapping[str, Any]:
        """Its network: policy, allowlist, services, traffic and the egress proxy's recent decisions."""
        return self.client.get_sandbox_network(self.sandbox_id)

    def set_allowlist(self, allowed_hosts: "List[str]") -> Mapping[str, Any]:
        """Replaces the allowlist (``restricted`` only), effective from the next request."""
        return self.client.set_sandbox_allowlist(self.sandbox_id, allowed_hosts)

    @hybridmethod
    def kill(cls, sandbox_id: str, *, client: Optional[Client] = None, url: Optional[str] = None, key: KeySource = None) -> bool:  # noqa: N805
        """``Sandbox.kill(sandbox_id)``: ends that sandbox. True when it was running, False when it had
        ended or the server doesn't know it (as E2B's)."""
        chosen, owned = _client_of(client, url, key)
        try:
            if chosen.get_sandbox(sandbox_id).state != "running":
                return False
            chosen.kill_sandbox(sandbox_id)
            return True
        except (SandboxNotFoundError, SandboxNotRunningError):
            return False
        finally:
            if owned:
                chosen.close()

    @kill.instance
    def kill(self) -> SandboxInfo:  # noqa: F811
        """``sandbox.kill()``: ends the sandbox (every process killed, everything released); returns it,
        ended, with the receipt of its final audit record."""
        return self.client.kill_sandbox(self.sandbox_id)

    def close(self) -> None:
        """Releases the client's connections when this sandbox made the client (the sandbox keeps running)."""
        if self._owns_client:
            self.client.close()

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *_: object) -> None:
        try:
            self.kill()
        except AirlockError as err:
            # An already ended sandbox is what leaving the block wants; anything else is raised.
            if err.code not in ("sandbox_not_found", "sandbox_not_running"):
                raise
        finally:
            self.close()

    def __repr__(self) -> str:
        return f"Sandbox(sandbox_id={self.sandbox_id!r}, server={self.client.connection.target!r})"
