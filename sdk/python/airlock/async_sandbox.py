"""``AsyncSandbox``: ``Sandbox``'s surface for asyncio (``await AsyncSandbox.create()``,
``await sandbox.commands.run(...)``, ``async with``)."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any, AsyncIterator, Callable, List, Literal, Mapping, Optional, Sequence, Union, overload

from . import endpoints, file_ops
from .async_client import AsyncClient
from .command_result import OutputCollector, outcome
from .connection import KeySource
from .errors import AirlockError, CommandExitError, ExecutionNotFoundError, FileNotFoundError, SandboxNotFoundError, SandboxNotRunningError, TimeoutError
from .hybrid import hybridmethod
from .ndjson import ExitFrame, OutputChunk
from .types import CommandResult, FileEntry, ProcessInfo, SandboxInfo, WriteInfo
from .watch import AsyncEventListener, AsyncExitListener, AsyncWatchHandle, refuse_recursive

#: Receives each piece of output as it arrives, decoded as UTF-8; may be a coroutine function.
AsyncOutputListener = Callable[[str], Any]


def _client_of(client: Optional[AsyncClient], url: Optional[str], key: KeySource, request_timeout: Optional[float] = None) -> "tuple[AsyncClient, bool]":
    """The client to use, and whether it was made here (and is closed with the sandbox)."""
    if client is not None:
        if url is not None or key is not None or request_timeout is not None:
            raise AirlockError("give either client or url/key/request_timeout, not both", code="invalid_argument")
        return client, False
    if request_timeout is None:
        return AsyncClient(url, key), True
    return AsyncClient(url, key, request_timeout=request_timeout), True


class AsyncCommandHandle:
    """A command running in a sandbox (``await commands.run(..., background=True)``): ``async for``
    its output, ``await wait()`` for the result, ``await kill()`` to stop it."""

    def __init__(
        self,
        client: AsyncClient,
        sandbox_id: str,
        body: Mapping[str, Any],
        *,
        on_stdout: Optional[AsyncOutputListener] = None,
        on_stderr: Optional[AsyncOutputListener] = None,
        timeout: Optional[float] = None,
        approval_id: Optional[str] = None,
        background: bool = True,
    ) -> None:
        self._client, self._sandbox_id, self._body = client, sandbox_id, dict(body)
        self._listeners = {"stdout": on_stdout, "stderr": on_stderr}
        self._timeout, self._approval_id = timeout, approval_id
        self._output = OutputCollector()
        # Why only in the background: a foreground run is never iterated, and would hold its output twice.
        self._chunks: "Optional[asyncio.Queue[Optional[OutputChunk]]]" = asyncio.Queue() if background else None
        self._killed = False
        self._started = asyncio.Event()
        self._task: "asyncio.Task[CommandResult]" = asyncio.get_running_loop().create_task(self._run())

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
        """Output so far."""
        return self._output.stdout

    @property
    def stderr(self) -> str:
        """Error output so far."""
        return self._output.stderr

    async def __aiter__(self) -> AsyncIterator[OutputChunk]:
        """The output chunks as they arrive, until the command ends."""
        if self._chunks is None:
            raise AirlockError("only a background command's output can be iterated", code="invalid_argument")
        while True:
            chunk = await self._chunks.get()
            if chunk is None:
                self._chunks.put_nowait(None)
                return
            yield chunk

    async def wait(self) -> CommandResult:
        """Waits for the command to end: the result on exit code 0, else ``CommandExitError`` /
        ``TimeoutError`` carrying the result, or the error that broke the stream."""
        return outcome(await asyncio.shield(self._task), self._timeout)

    async def kill(self) -> bool:
        """Kills the command (its connection is closed; the server kills it). True if it was still running."""
        if self._task.done():
            return False
        self._killed = True
        self._task.cancel()
        try:
            await asyncio.shield(self._task)
        except asyncio.CancelledError:
            pass
        return True

    async def _tell(self, stream: str, text: str) -> None:
        listener = self._listeners[stream]
        if listener is not None and text != "":
            returned = listener(text)
            if inspect.isawaitable(returned):
                await returned

    async def _run(self) -> CommandResult:
        exit_frame: Optional[ExitFrame] = None
        try:
            async with self._client.exec_stream(self._sandbox_id, self._body, approval_id=self._approval_id) as stream:
                self._output.exec_id = stream.exec_id
                self._started.set()
                async for frame in stream.frames:
                    if isinstance(frame, ExitFrame):
                        exit_frame = frame
                        break
                    text = self._output.add(frame)
                    if self._chunks is not None:
                        self._chunks.put_nowait(frame)
                    await self._tell(frame.stream, text)
                for name in ("stdout", "stderr"):
                    await self._tell(name, self._output.flush(name))
        except asyncio.CancelledError:
            # Cancelled by kill(): the closed connection made the server kill the command.
            if not self._killed:
                raise
        except Exception:
            if not self._killed:
                raise
        finally:
            self._started.set()
            if self._chunks is not None:
                self._chunks.put_nowait(None)
        return self._output.result(exit_frame)

    async def _until_started(self) -> None:
        """Returns once the server runs the command; raises what refused it (ended sandbox, policy)."""
        await self._started.wait()
        if self._task.done() and not self._task.cancelled() and self._task.exception() is not None:
            raise self._task.exception()  # type: ignore[misc]


class AsyncCommands:
    """Runs commands in one sandbox; reach it as ``sandbox.commands``."""

    def __init__(self, client: AsyncClient, sandbox_id: str) -> None:
        self._client, self._sandbox_id = client, sandbox_id

    @overload
    async def run(self, cmd: endpoints.Command, *, background: Literal[True], envs: Optional[Mapping[str, str]] = ..., cwd: Optional[str] = ..., on_stdout: Optional[AsyncOutputListener] = ..., on_stderr: Optional[AsyncOutputListener] = ..., stdin: Union[str, bytes, None] = ..., timeout: Optional[float] = ..., approval_id: Optional[str] = ...) -> AsyncCommandHandle: ...

    @overload
    async def run(self, cmd: endpoints.Command, *, background: Literal[False] = ..., envs: Optional[Mapping[str, str]] = ..., cwd: Optional[str] = ..., on_stdout: Optional[AsyncOutputListener] = ..., on_stderr: Optional[AsyncOutputListener] = ..., stdin: Union[str, bytes, None] = ..., timeout: Optional[float] = ..., approval_id: Optional[str] = ...) -> CommandResult: ...

    async def run(
        self,
        cmd: endpoints.Command,
        *,
        background: bool = False,
        envs: Optional[Mapping[str, str]] = None,
        cwd: Optional[str] = None,
        on_stdout: Optional[AsyncOutputListener] = None,
        on_stderr: Optional[AsyncOutputListener] = None,
        stdin: Union[str, bytes, None] = None,
        timeout: Optional[float] = None,
        approval_id: Optional[str] = None,
    ) -> Union[CommandResult, AsyncCommandHandle]:
        """Runs ``cmd`` as ``Commands.run`` does; listeners may be coroutine functions."""
        body = endpoints.exec_body(cmd, envs=envs, cwd=cwd, timeout=timeout, stdin=stdin)
        handle = AsyncCommandHandle(self._client, self._sandbox_id, body, on_stdout=on_stdout, on_stderr=on_stderr, timeout=timeout, approval_id=approval_id, background=background)
        if not background:
            return await handle.wait()
        # Why wait for the start: the handle's pid is what commands.list() and commands.kill() know.
        await handle._until_started()
        return handle

    async def list(self) -> List[ProcessInfo]:  # noqa: A003 - E2B's name
        """The commands running in the sandbox now (started by anyone), oldest first."""
        return await self._client.list_execs(self._sandbox_id)

    async def kill(self, pid: str) -> bool:
        """Kills the running command ``pid``: True when it was running, False when no command of that id runs."""
        try:
            await self._client.kill_exec(self._sandbox_id, pid)
            return True
        except ExecutionNotFoundError:
            return False


    async def run_code(
        self,
        code: str,
        *,
        language: str = "python",
        envs: Optional[Mapping[str, str]] = None,
        cwd: Optional[str] = None,
        on_stdout: Optional[AsyncOutputListener] = None,
        on_stderr: Optional[AsyncOutputListener] = None,
        timeout: Optional[float] = None,
        approval_id: Optional[str] = None,
    ) -> CommandResult:
        """Runs a snippet as ``Commands.run_code`` does: the result whether or not it succeeded."""
        body = endpoints.code_body(code, language=language, envs=envs, cwd=cwd, timeout=timeout)
        handle = AsyncCommandHandle(self._client, self._sandbox_id, body, on_stdout=on_stdout, on_stderr=on_stderr, timeout=timeout, approval_id=approval_id, background=False)
        try:
            return await handle.wait()
        except (CommandExitError, TimeoutError) as err:
            if err.result is None:
                raise
            return err.result


class AsyncFiles:
    """Files of one sandbox (absolute paths); reach it as ``sandbox.files``."""

    def __init__(self, client: AsyncClient, sandbox_id: str) -> None:
        self._client, self._sandbox_id = client, sandbox_id

    @overload
    async def read(self, path: str, format: Literal["text"] = ...) -> str: ...

    @overload
    async def read(self, path: str, format: Literal["bytes"]) -> bytes: ...

    @overload
    async def read(self, path: str, format: Literal["stream"]) -> AsyncIterator[bytes]: ...

    async def read(self, path: str, format: str = "text") -> Union[str, bytes, AsyncIterator[bytes]]:  # noqa: A002 - E2B's name
        """Reads a file: ``text`` (UTF-8), ``bytes``, or ``stream`` (``async for`` its byte chunks).
        ``FileNotFoundError`` when absent."""
        if format not in ("text", "bytes", "stream"):
            raise AirlockError(f'format: "text", "bytes" or "stream", not {format!r}', code="invalid_argument")
        if format == "stream":
            return await self._client.read_file_stream(self._sandbox_id, path)
        data = await self._client.read_file(self._sandbox_id, path)
        return data if format == "bytes" else data.decode("utf-8", errors="replace")

    @overload
    async def write(self, path: str, data: endpoints.WriteData, *, mode: Union[int, str, None] = ...) -> WriteInfo: ...

    @overload
    async def write(self, path: Sequence[Mapping[str, Any]]) -> List[WriteInfo]: ...

    async def write(self, path: Union[str, Sequence[Mapping[str, Any]]], data: Optional[endpoints.WriteData] = None, *, mode: Union[int, str, None] = None) -> Union[WriteInfo, List[WriteInfo]]:
        """Creates or replaces a file (a string as UTF-8), or each of a list of ``{"path", "data"}`` entries in turn."""
        if not isinstance(path, str):
            return [await self._client.write_file(self._sandbox_id, path_, data_, mode=None) for path_, data_ in file_ops.write_entries(path, data, mode)]
        if data is None:
            raise AirlockError("files.write: give the data to write", code="invalid_argument")
        return await self._client.write_file(self._sandbox_id, path, data, mode=mode)

    async def list(self, path: str) -> List[FileEntry]:
        """The entries of a directory."""
        return await self._client.list_files(self._sandbox_id, path)

    async def get_info(self, path: str) -> Optional[FileEntry]:
        """The entry of ``path`` (from a listing of its parent); None when there is none."""
        parent, name = file_ops.split(file_ops.checked_path("files.get_info", path))
        if name == "":
            return file_ops.ROOT_ENTRY
        try:
            return file_ops.find(await self.list(parent), name)
        except FileNotFoundError:
            return None

    async def exists(self, path: str) -> bool:
        """Whether ``path`` exists (a file, a folder or a link)."""
        return await self.get_info(path) is not None

    async def make_dir(self, path: str) -> bool:
        """Creates a folder and its missing parents: True when it was created, False when it existed."""
        argv = file_ops.make_dir_argv(path)
        if await self.exists(path):
            return False
        await self._run(argv)
        return True

    async def rename(self, old_path: str, new_path: str) -> FileEntry:
        """Moves or renames ``old_path`` to ``new_path``; returns the entry at its new place."""
        await self._run(file_ops.rename_argv(old_path, new_path))
        entry = await self.get_info(new_path)
        if entry is None:
            raise FileNotFoundError(f"files.rename: {new_path} is not there after the move", code="file_not_found")
        return entry

    async def remove(self, path: str) -> None:
        """Removes a file, or a folder with everything in it; removing what isn't there is not an error."""
        await self._run(file_ops.remove_argv(path))

    async def watch_dir(
        self,
        path: str,
        on_event: AsyncEventListener,
        *,
        on_exit: Optional[AsyncExitListener] = None,
        timeout: float = 60,
        interval: float = 0.5,
        recursive: bool = False,
    ) -> AsyncWatchHandle:
        """Watches a folder: it is listed every ``interval`` seconds and ``on_event`` (may be a coroutine
        function) gets each change (``create``, ``write``, ``chmod``, ``remove``) until ``await
        handle.stop()`` or ``timeout`` seconds (E2B's default 60; 0: no limit). ``on_exit`` is called
        once when the watch ends, with the error that ended it (folder gone, sandbox ended) or None.
        Polling: a change undone within an interval is not seen, a rename reads as remove + create.
        ``FileNotFoundError`` at once when the folder isn't there."""
        refuse_recursive(recursive)
        folder = file_ops.checked_path("files.watch_dir", path)
        watch = AsyncWatchHandle(lambda: self.list(folder), on_event, on_exit=on_exit, timeout=timeout, interval=interval)
        await watch.start()
        return watch

    async def _run(self, argv: "List[str]") -> None:
        try:
            await AsyncCommands(self._client, self._sandbox_id).run(argv)
        except CommandExitError as err:
            raise file_ops.command_failed(argv, err) from err


class AsyncSandbox:
    """A persistent sandbox for asyncio. ``async with await AsyncSandbox.create() as sandbox:`` kills it on leaving."""

    def __init__(self, sandbox_id: str, client: AsyncClient, *, owns_client: bool = False) -> None:
        """Wraps an existing sandbox id without checking it; prefer ``AsyncSandbox.create`` or ``connect``."""
        self.sandbox_id = sandbox_id
        self.client = client
        self._owns_client = owns_client
        self.commands = AsyncCommands(client, sandbox_id)
        self.run_code = self.commands.run_code
        self.files = AsyncFiles(client, sandbox_id)

    @classmethod
    async def create(
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
        client: Optional[AsyncClient] = None,
        url: Optional[str] = None,
        key: KeySource = None,
        request_timeout: Optional[float] = None,
        **fields: Any,
    ) -> "AsyncSandbox":
        """Starts a sandbox (see ``Sandbox.create``)."""
        body = endpoints.create_body(template, timeout=timeout, idle_timeout=idle_timeout, envs=envs, metadata=metadata, runtime=runtime, allow_internet_access=allow_internet_access, fields=fields)
        chosen, owned = _client_of(client, url, key, request_timeout)
        try:
            info = await chosen.create_sandbox(body, approval_id=approval_id)
        except BaseException:
            if owned:
                await chosen.aclose()
            raise
        return cls(info.sandbox_id, chosen, owns_client=owned)

    @classmethod
    async def connect(cls, sandbox_id: str, *, timeout: Optional[int] = None, client: Optional[AsyncClient] = None, url: Optional[str] = None, key: KeySource = None, request_timeout: Optional[float] = None) -> "AsyncSandbox":
        """Attaches to an existing sandbox (see ``Sandbox.connect``)."""
        chosen, owned = _client_of(client, url, key, request_timeout)
        try:
            info = await (chosen.get_sandbox(sandbox_id) if timeout is None else chosen.set_sandbox_timeout(sandbox_id, timeout))
        except BaseException:
            if owned:
                await chosen.aclose()
            raise
        return cls(info.sandbox_id, chosen, owns_client=owned)

    @staticmethod
    async def list(*, client: Optional[AsyncClient] = None, url: Optional[str] = None, key: KeySource = None) -> List[SandboxInfo]:
        """Every sandbox the server shows this caller."""
        chosen, owned = _client_of(client, url, key)
        try:
            return await chosen.list_sandboxes()
        finally:
            if owned:
                await chosen.aclose()

    @hybridmethod
    async def get_info(cls, sandbox_id: str, *, client: Optional[AsyncClient] = None, url: Optional[str] = None, key: KeySource = None) -> SandboxInfo:  # noqa: N805
        """``await AsyncSandbox.get_info(sandbox_id)``: that sandbox as the server describes it now."""
        chosen, owned = _client_of(client, url, key)
        try:
            return await chosen.get_sandbox(sandbox_id)
        finally:
            if owned:
                await chosen.aclose()

    @get_info.instance
    async def get_info(self) -> SandboxInfo:  # noqa: F811
        """The sandbox as the server describes it now."""
        return await self.client.get_sandbox(self.sandbox_id)

    async def is_running(self) -> bool:
        """Whether the sandbox is still running."""
        return (await self.get_info()).state == "running"

    @hybridmethod
    async def set_timeout(cls, sandbox_id: str, timeout: int, *, client: Optional[AsyncClient] = None, url: Optional[str] = None, key: KeySource = None) -> SandboxInfo:  # noqa: N805
        """``await AsyncSandbox.set_timeout(sandbox_id, timeout)``."""
        chosen, owned = _client_of(client, url, key)
        try:
            return await chosen.set_sandbox_timeout(sandbox_id, timeout)
        finally:
            if owned:
                await chosen.aclose()

    @set_timeout.instance
    async def set_timeout(self, timeout: int) -> SandboxInfo:  # noqa: F811
        """The sandbox now ends ``timeout`` seconds from now unless extended again."""
        return await self.client.set_sandbox_timeout(self.sandbox_id, timeout)

    async def network(self) -> Mapping[str, Any]:
        """Its network: policy, allowlist, services, traffic, recent egress decisions."""
        return await self.client.get_sandbox_network(self.sandbox_id)

    async def set_allowlist(self, allowed_hosts: "List[str]") -> Mapping[str, Any]:
        """Replaces the allowlist (``restricted`` only)."""
        return await self.client.set_sandbox_allowlist(self.sandbox_id, allowed_hosts)

    @hybridmethod
    async def kill(cls, sandbox_id: str, *, client: Optional[AsyncClient] = None, url: Optional[str] = None, key: KeySource = None) -> bool:  # noqa: N805
        """``await AsyncSandbox.kill(sandbox_id)``: True when it was running, False when it had ended or is unknown."""
        chosen, owned = _client_of(client, url, key)
        try:
            if (await chosen.get_sandbox(sandbox_id)).state != "running":
                return False
            await chosen.kill_sandbox(sandbox_id)
            return True
        except (SandboxNotFoundError, SandboxNotRunningError):
            return False
        finally:
            if owned:
                await chosen.aclose()

    @kill.instance
    async def kill(self) -> SandboxInfo:  # noqa: F811
        """``await sandbox.kill()``: ends the sandbox; returns it, ended, with its receipt."""
        return await self.client.kill_sandbox(self.sandbox_id)

    async def aclose(self) -> None:
        """Releases the client's connections when this sandbox made the client."""
        if self._owns_client:
            await self.client.aclose()

    async def __aenter__(self) -> "AsyncSandbox":
        return self

    async def __aexit__(self, *_: object) -> None:
        try:
            await self.kill()
        except AirlockError as err:
            if err.code not in ("sandbox_not_found", "sandbox_not_running"):
                raise
        finally:
            await self.aclose()

    def __repr__(self) -> str:
        return f"AsyncSandbox(sandbox_id={self.sandbox_id!r}, server={self.client.connection.target!r})"
