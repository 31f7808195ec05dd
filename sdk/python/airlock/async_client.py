"""``AsyncClient``: ``Client``'s surface for asyncio, one coroutine per endpoint of the airlock HTTP API."""

from __future__ import annotations

import asyncio
import time
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any, AsyncIterator, Awaitable, Callable, Dict, List, Mapping, Optional, Sequence, TypeVar, Union

import httpx

from . import endpoints
from .approvals import PENDING, ApprovalInfo
from .errors import AirlockError, TimeoutError
from .connection import DEFAULT_MAX_RETRIES, DEFAULT_MAX_RETRY_WAIT, DEFAULT_REQUEST_TIMEOUT, Connection, KeySource, resolve_connection
from .async_transport import AsyncTransport
from .http_request import HttpRequest
from .ndjson import RESULT, Frame, FrameReader, OneShotFrame, OutputChunk
from .types import ExecuteResult, FileEntry, ProcessInfo, SandboxInfo, WriteInfo


@dataclass
class AsyncExecStream:
    """An exec whose output is streaming in: ``async for`` over ``frames`` (output chunks, then the exit frame)."""

    #: Server-side id of the exec.
    exec_id: str
    #: Output chunks as they arrive, then the ``ExitFrame``; raises ``stream_ended`` if the stream broke.
    frames: AsyncIterator[Frame]
    #: Closes the connection: the server kills the command if it still runs.
    close: Callable[[], Awaitable[None]]


@dataclass
class AsyncExecuteStream:
    """A one-shot whose output is streaming in: ``async for`` over ``frames`` (output chunks, then the result frame)."""

    #: Server-side id of the execution (what ``cancel_execution`` takes).
    execution_id: str
    #: Output chunks as they arrive, then the ``ResultFrame``; raises ``stream_ended`` if the stream broke.
    frames: AsyncIterator[OneShotFrame]
    #: Closes the connection: the server cancels the run if it still runs.
    close: Callable[[], Awaitable[None]]


#: The closing frame of a stream being read.
_C = TypeVar("_C")


class AsyncClient:
    """A client of one airlock server for asyncio; the same arguments and methods as ``Client``,
    awaited. Close it with ``await client.aclose()`` or ``async with``."""

    def __init__(
        self,
        url: Optional[str] = None,
        key: KeySource = None,
        *,
        headers: Optional[Mapping[str, str]] = None,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        max_retry_wait: float = DEFAULT_MAX_RETRY_WAIT,
        verify: Union[bool, str, None] = None,
        connection: Optional[Connection] = None,
    ) -> None:
        self.connection = connection or resolve_connection(
            url, key, headers=headers, request_timeout=request_timeout, max_retries=max_retries, max_retry_wait=max_retry_wait, verify=verify
        )
        self._transport = AsyncTransport(self.connection)

    async def aclose(self) -> None:
        """Releases the pooled connections."""
        await self._transport.aclose()

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def health(self) -> Dict[str, Any]:
        """``GET /health``."""
        return await self._transport.json(endpoints.health())

    async def status(self) -> Dict[str, Any]:
        """``GET /api/v1/sandbox/status``."""
        return await self._transport.json(endpoints.status())

    async def execute(
        self,
        code: Optional[str] = None,
        *,
        agent_id: str,
        command: Optional[endpoints.Command] = None,
        language: Optional[str] = None,
        runtime: Optional[str] = None,
        image: Optional[str] = None,
        timeout: Optional[float] = None,
        envs: Optional[Mapping[str, str]] = None,
        cwd: Optional[str] = None,
        approval_id: Optional[str] = None,
        **fields: Any,
    ) -> ExecuteResult:
        """``POST /api/v1/sandbox/execute`` (see ``Client.execute``)."""
        body = endpoints.execute_body(code, agent_id=agent_id, command=command, language=language, runtime=runtime, image=image, timeout=timeout, envs=envs, cwd=cwd, fields=fields)
        return ExecuteResult.from_json(await self._transport.json(endpoints.execute(body, self.connection.request_timeout, approval_id)))

    @asynccontextmanager
    async def execute_stream(
        self,
        code: Optional[str] = None,
        *,
        agent_id: str,
        command: Optional[endpoints.Command] = None,
        language: Optional[str] = None,
        runtime: Optional[str] = None,
        image: Optional[str] = None,
        timeout: Optional[float] = None,
        envs: Optional[Mapping[str, str]] = None,
        cwd: Optional[str] = None,
        approval_id: Optional[str] = None,
        **fields: Any,
    ) -> AsyncIterator[AsyncExecuteStream]:
        """``execute`` as an NDJSON stream (see ``Client.execute_stream``); leaving the block closes the
        connection, and the server cancels the run if it still runs."""
        body = endpoints.execute_body(code, agent_id=agent_id, command=command, language=language, runtime=runtime, image=image, timeout=timeout, envs=envs, cwd=cwd, fields=fields)
        req = endpoints.execute_stream(body, approval_id)
        async with self._transport.open(req) as response:
            frames = self._frames(req, response, FrameReader(closing=RESULT))
            yield AsyncExecuteStream(execution_id=response.headers.get("x-airlock-execution-id", ""), frames=frames, close=response.aclose)

    async def cancel_execution(self, execution_id: str) -> Dict[str, Any]:
        """``DELETE /api/v1/sandbox/executions/{id}``."""
        return await self._transport.json(endpoints.cancel_execution(execution_id))

    async def create_sandbox(self, body: Optional[Mapping[str, Any]] = None, *, approval_id: Optional[str] = None) -> SandboxInfo:
        """``POST /api/v1/sandboxes``."""
        return SandboxInfo.from_json(await self._transport.json(endpoints.create_sandbox(body or {}, approval_id)))

    async def list_sandboxes(self) -> List[SandboxInfo]:
        """``GET /api/v1/sandboxes``."""
        return [SandboxInfo.from_json(s) for s in (await self._transport.json(endpoints.list_sandboxes()))["sandboxes"]]

    async def get_sandbox(self, sandbox_id: str) -> SandboxInfo:
        """``GET /api/v1/sandboxes/{id}``."""
        return SandboxInfo.from_json(await self._transport.json(endpoints.get_sandbox(sandbox_id)))

    async def kill_sandbox(self, sandbox_id: str) -> SandboxInfo:
        """``DELETE /api/v1/sandboxes/{id}``."""
        return SandboxInfo.from_json(await self._transport.json(endpoints.kill_sandbox(sandbox_id)))

    async def set_sandbox_timeout(self, sandbox_id: str, seconds: int) -> SandboxInfo:
        """``POST /api/v1/sandboxes/{id}/timeout``."""
        return SandboxInfo.from_json(await self._transport.json(endpoints.set_sandbox_timeout(sandbox_id, seconds)))

    async def get_sandbox_network(self, sandbox_id: str) -> Dict[str, Any]:
        """``GET /api/v1/sandboxes/{id}/network``."""
        return await self._transport.json(endpoints.get_sandbox_network(sandbox_id))

    async def set_sandbox_allowlist(self, sandbox_id: str, allowed_hosts: Sequence[str]) -> Dict[str, Any]:
        """``PUT /api/v1/sandboxes/{id}/network``."""
        return await self._transport.json(endpoints.set_sandbox_allowlist(sandbox_id, allowed_hosts))

    @asynccontextmanager
    async def exec_stream(self, sandbox_id: str, body: Mapping[str, Any], *, approval_id: Optional[str] = None) -> AsyncIterator[AsyncExecStream]:
        """``POST /api/v1/sandboxes/{id}/exec`` as an NDJSON stream; leaving the block closes the
        connection, and the server kills the command if it still runs."""
        req = endpoints.exec_stream(sandbox_id, body, approval_id)
        async with self._transport.open(req) as response:
            frames = self._frames(req, response, FrameReader())
            yield AsyncExecStream(exec_id=response.headers.get("x-airlock-exec-id", ""), frames=frames, close=response.aclose)

    async def _frames(self, req: HttpRequest, response: httpx.Response, reader: "FrameReader[_C]") -> AsyncIterator[Union[OutputChunk, _C]]:
        """The frames of a streamed answer as they arrive, up to the reader's closing frame."""
        async for chunk in self._transport.iter_chunks(req, response):
            for frame in reader.feed(chunk):
                yield frame
            if reader.final is not None:
                return
        for frame in reader.end():
            yield frame

    async def read_file(self, sandbox_id: str, path: str) -> bytes:
        """``GET /api/v1/sandboxes/{id}/files?path=``."""
        return await self._transport.bytes(endpoints.read_file(sandbox_id, path))

    async def read_file_stream(self, sandbox_id: str, path: str) -> AsyncIterator[bytes]:
        """The file as chunks (see ``Client.read_file_stream``): answered before this returns."""
        req = endpoints.read_file(sandbox_id, path)
        stack = AsyncExitStack()
        response = await stack.enter_async_context(self._transport.open(req))

        async def chunks() -> AsyncIterator[bytes]:
            async with stack:
                async for chunk in self._transport.iter_chunks(req, response):
                    yield chunk

        return chunks()

    async def write_file(self, sandbox_id: str, path: str, data: endpoints.WriteData, *, mode: Union[int, str, None] = None) -> WriteInfo:
        """``PUT /api/v1/sandboxes/{id}/files?path=``."""
        answer = await self._transport.json(endpoints.write_file(sandbox_id, path, data, mode))
        return WriteInfo(path=str(answer["path"]), size=int(answer["size"]))

    async def capture_forensics(self, sandbox_id: str) -> Dict[str, Any]:
        """Freezes a running sandbox and writes a signed forensic bundle of it (the admin action): where the bundle is (``path``, ``entries``, ``bytes``), how it was frozen, and whether the sandbox was then killed or resumed (``after``, as ``forensics.after`` says)."""
        return await self._transport.json(endpoints.capture_forensics(sandbox_id))

    async def revoke_agent(self, agent_id: str, reason: str) -> Dict[str, Any]:
        """Revokes an agent (operators): its new requests are refused and every live sandbox and one-shot it owns has ended (``revoked``) when this returns; ``created`` False when it was already revoked."""
        return await self._transport.json(endpoints.revoke_agent(agent_id, reason))

    async def unrevoke_agent(self, agent_id: str) -> Dict[str, Any]:
        """Lifts an agent's revocation (operators)."""
        return await self._transport.json(endpoints.unrevoke_agent(agent_id))

    async def list_revocations(self) -> List[Dict[str, Any]]:
        """Every revoked agent (operators): ``agent_id``, ``reason``, ``revoked_by``, ``revoked_at``, ``source``."""
        return (await self._transport.json(endpoints.list_revocations()))["revocations"]

    async def export_revocations(self) -> Dict[str, Any]:
        """This controller's own revocations as a list signed with the controller key (operators), for ``import_revocations`` on another controller."""
        return await self._transport.json(endpoints.export_revocations())

    async def import_revocations(self, signed_list: Mapping[str, Any]) -> Dict[str, Any]:
        """Applies another controller's signed list (operators): verified against ``revocation.trustedKeys``; agents it newly revokes have their sandboxes ended."""
        return await self._transport.json(endpoints.import_revocations(signed_list))

    async def list_approvals(self) -> List[ApprovalInfo]:
        """``GET /api/v1/approvals``."""
        return [ApprovalInfo.from_json(a) for a in (await self._transport.json(endpoints.list_approvals()))["approvals"]]

    async def get_approval(self, approval_id: str) -> ApprovalInfo:
        """``GET /api/v1/approvals/{id}``."""
        return ApprovalInfo.from_json(await self._transport.json(endpoints.get_approval(approval_id)))

    async def decide_approval(self, approval_id: str, signed: Mapping[str, str]) -> ApprovalInfo:
        """``POST /api/v1/approvals/{id}/decision``."""
        return ApprovalInfo.from_json(await self._transport.json(endpoints.decide_approval(approval_id, signed)))

    async def wait_for_approval(self, approval_id: str, *, poll_interval: float = 1.0, timeout: Optional[float] = None) -> ApprovalInfo:
        """Polls an approval until it is no longer pending (see ``Client.wait_for_approval``)."""
        if isinstance(poll_interval, bool) or not isinstance(poll_interval, (int, float)) or poll_interval <= 0:
            raise AirlockError(f"poll_interval must be a positive number of seconds, got {poll_interval!r}", code="invalid_argument")
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            approval = await self.get_approval(approval_id)
            if approval.state != PENDING:
                return approval
            if deadline is not None and time.monotonic() + poll_interval > deadline:
                raise TimeoutError(f"approval {approval_id} is still pending after {timeout} s", code="timeout")
            await asyncio.sleep(poll_interval)

    async def list_execs(self, sandbox_id: str) -> List[ProcessInfo]:
        """``GET /api/v1/sandboxes/{id}/execs``."""
        return [ProcessInfo.from_json(e) for e in (await self._transport.json(endpoints.list_execs(sandbox_id)))["execs"]]

    async def kill_exec(self, sandbox_id: str, exec_id: str) -> None:
        """``DELETE /api/v1/sandboxes/{id}/execs/{exec_id}``."""
        await self._transport.json(endpoints.kill_exec(sandbox_id, exec_id))

    async def list_files(self, sandbox_id: str, path: str) -> List[FileEntry]:
        """``GET /api/v1/sandboxes/{id}/files/list?path=``."""
        return [FileEntry.from_json(e) for e in (await self._transport.json(endpoints.list_files(sandbox_id, path)))["entries"]]
