"""``Client``: one method per endpoint of the airlock HTTP API, synchronous. ``Sandbox`` builds the
E2B-style object API on top of it; ``AsyncClient`` is the same surface for asyncio."""

from __future__ import annotations

import socket
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, TypeVar, Union

import httpx

from . import endpoints
from .approvals import PENDING, ApprovalInfo
from .errors import AirlockError, TimeoutError
from .connection import DEFAULT_MAX_RETRIES, DEFAULT_MAX_RETRY_WAIT, DEFAULT_REQUEST_TIMEOUT, Connection, KeySource, resolve_connection
from .http_request import HttpRequest
from .ndjson import RESULT, Frame, FrameReader, OneShotFrame, OutputChunk
from .transport import Transport
from .types import ExecuteResult, FileEntry, ProcessInfo, SandboxInfo, WriteInfo


@dataclass
class ExecStream:
    """An exec whose output is streaming in: read ``frames`` (output chunks, then the exit frame)."""

    #: Server-side id of the exec.
    exec_id: str
    #: Output chunks as they arrive, then the ``ExitFrame``; raises ``stream_ended`` if the stream broke.
    frames: Iterator[Frame]
    #: Closes the connection (from any thread): the server kills the command if it still runs.
    close: Callable[[], None]


@dataclass
class ExecuteStream:
    """A one-shot whose output is streaming in: read ``frames`` (output chunks, then the result frame)."""

    #: Server-side id of the execution (what ``cancel_execution`` takes).
    execution_id: str
    #: Output chunks as they arrive, then the ``ResultFrame``; raises ``stream_ended`` if the stream broke.
    frames: Iterator[OneShotFrame]
    #: Closes the connection (from any thread): the server cancels the run if it still runs.
    close: Callable[[], None]


#: The closing frame of a stream being read.
_C = TypeVar("_C")


def _interrupt(response: httpx.Response) -> None:
    """Closes a streaming response from another thread. Why the socket is shut down: closing the
    response does not wake a thread blocked reading it, and the server kills the command only when
    the connection goes."""
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if sock is None:
        response.close()
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


class Client:
    """A client of one airlock server. Thread-safe; close it (or use it as a context manager) to
    release its connections.

    ``url``: ``http(s)://...`` or ``unix:///path/to/socket``; default ``AIRLOCK_URL``, the local
    socket, then http://127.0.0.1:8002. ``key``: a key file (or ``SigningKey``) that signs every
    request; default ``AIRLOCK_KEY``. A request answered 429 is retried up to ``max_retries`` times
    after its ``Retry-After`` (at most ``max_retry_wait`` seconds); then ``RateLimitError``.
    ``verify``: TLS verification of an https server (a CA bundle file for a private CA; default
    ``SSL_CERT_FILE`` when set, else the default CAs).
    """

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
        self._transport = Transport(self.connection)

    def close(self) -> None:
        """Releases the pooled connections."""
        self._transport.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def health(self) -> Dict[str, Any]:
        """``GET /health``: status, version, policy hash, the runtimes that work on the server's host."""
        return self._transport.json(endpoints.health())

    def status(self) -> Dict[str, Any]:
        """``GET /api/v1/sandbox/status``: what runs now."""
        return self._transport.json(endpoints.status())

    def execute(
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
        """``POST /api/v1/sandbox/execute``: runs ``code`` (``language``, default python) or ``command``
        (a string run as ``sh -c``, or an argv list) once in a fresh sandbox destroyed afterwards.

        A command that fails is a result with ``success`` False and its ``termination_reason``, not
        an exception; refusals raise their typed errors. ``fields`` are further request fields as the
        server names them (``memory_limit_mb``, ``network_policy``, ``allowed_hosts``, ``stdin``, ...).
        """
        body = endpoints.execute_body(code, agent_id=agent_id, command=command, language=language, runtime=runtime, image=image, timeout=timeout, envs=envs, cwd=cwd, fields=fields)
        return ExecuteResult.from_json(self._transport.json(endpoints.execute(body, self.connection.request_timeout, approval_id)))

    @contextmanager
    def execute_stream(
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
    ) -> Iterator[ExecuteStream]:
        """``execute`` as an NDJSON stream: the output as the command writes it, then the result (a
        ``ResultFrame`` carrying the ``ExecuteResult``). Refusals raise here, before the block runs;
        leaving the ``with`` block closes the connection, and the server cancels the run if it still runs."""
        body = endpoints.execute_body(code, agent_id=agent_id, command=command, language=language, runtime=runtime, image=image, timeout=timeout, envs=envs, cwd=cwd, fields=fields)
        req = endpoints.execute_stream(body, approval_id)
        with self._transport.open(req) as response:
            frames = self._frames(req, response, FrameReader(closing=RESULT))
            yield ExecuteStream(execution_id=response.headers.get("x-airlock-execution-id", ""), frames=frames, close=lambda: _interrupt(response))

    def cancel_execution(self, execution_id: str) -> Dict[str, Any]:
        """``DELETE /api/v1/sandbox/executions/{id}``: cancels a running one-shot (listed by ``status()``)."""
        return self._transport.json(endpoints.cancel_execution(execution_id))

    def create_sandbox(self, body: Optional[Mapping[str, Any]] = None, *, approval_id: Optional[str] = None) -> SandboxInfo:
        """``POST /api/v1/sandboxes`` with the request as the server names its fields."""
        return SandboxInfo.from_json(self._transport.json(endpoints.create_sandbox(body or {}, approval_id)))

    def list_sandboxes(self) -> List[SandboxInfo]:
        """``GET /api/v1/sandboxes``: every sandbox the server shows this caller (running and recently ended)."""
        return [SandboxInfo.from_json(s) for s in self._transport.json(endpoints.list_sandboxes())["sandboxes"]]

    def get_sandbox(self, sandbox_id: str) -> SandboxInfo:
        """``GET /api/v1/sandboxes/{id}``; ``SandboxNotFoundError`` for an unknown id."""
        return SandboxInfo.from_json(self._transport.json(endpoints.get_sandbox(sandbox_id)))

    def kill_sandbox(self, sandbox_id: str) -> SandboxInfo:
        """``DELETE /api/v1/sandboxes/{id}``: ends the sandbox; returns it, ended (with its receipt)."""
        return SandboxInfo.from_json(self._transport.json(endpoints.kill_sandbox(sandbox_id)))

    def set_sandbox_timeout(self, sandbox_id: str, seconds: int) -> SandboxInfo:
        """``POST /api/v1/sandboxes/{id}/timeout``: the sandbox ends ``seconds`` from now unless extended again."""
        return SandboxInfo.from_json(self._transport.json(endpoints.set_sandbox_timeout(sandbox_id, seconds)))

    def get_sandbox_network(self, sandbox_id: str) -> Dict[str, Any]:
        """``GET /api/v1/sandboxes/{id}/network``: policy, allowlist, services, traffic, recent egress decisions."""
        return self._transport.json(endpoints.get_sandbox_network(sandbox_id))

    def set_sandbox_allowlist(self, sandbox_id: str, allowed_hosts: Sequence[str]) -> Dict[str, Any]:
        """``PUT /api/v1/sandboxes/{id}/network``: replaces a ``restricted`` sandbox's allowlist."""
        return self._transport.json(endpoints.set_sandbox_allowlist(sandbox_id, allowed_hosts))

    def capture_forensics(self, sandbox_id: str) -> Dict[str, Any]:
        """Freezes a running sandbox and writes a signed forensic bundle of it (the admin action): where the bundle is (``path``, ``entries``, ``bytes``), how it was frozen, and whether the sandbox was then killed or resumed (``after``, as ``forensics.after`` says)."""
        return self._transport.json(endpoints.capture_forensics(sandbox_id))

    def revoke_agent(self, agent_id: str, reason: str) -> Dict[str, Any]:
        """Revokes an agent (operators): its new requests are refused and every live sandbox and one-shot it owns has ended (``revoked``) when this returns; ``created`` False when it was already revoked."""
        return self._transport.json(endpoints.revoke_agent(agent_id, reason))

    def unrevoke_agent(self, agent_id: str) -> Dict[str, Any]:
        """Lifts an agent's revocation (operators)."""
        return self._transport.json(endpoints.unrevoke_agent(agent_id))

    def list_revocations(self) -> List[Dict[str, Any]]:
        """Every revoked agent (operators): ``agent_id``, ``reason``, ``revoked_by``, ``revoked_at``, ``source``."""
        return self._transport.json(endpoints.list_revocations())["revocations"]

    def export_revocations(self) -> Dict[str, Any]:
        """This controller's own revocations as a list signed with the controller key (operators), for ``import_revocations`` on another controller."""
        return self._transport.json(endpoints.export_revocations())

    def import_revocations(self, signed_list: Mapping[str, Any]) -> Dict[str, Any]:
        """Applies another controller's signed list (operators): verified against ``revocation.trustedKeys``; agents it newly revokes have their sandboxes ended."""
        return self._transport.json(endpoints.import_revocations(signed_list))

    def list_approvals(self) -> List[ApprovalInfo]:
        """``GET /api/v1/approvals``: the approvals this caller may see, newest first."""
        return [ApprovalInfo.from_json(a) for a in self._transport.json(endpoints.list_approvals())["approvals"]]

    def get_approval(self, approval_id: str) -> ApprovalInfo:
        """``GET /api/v1/approvals/{id}``; ``approval_not_found`` for one this caller may not see."""
        return ApprovalInfo.from_json(self._transport.json(endpoints.get_approval(approval_id)))

    def decide_approval(self, approval_id: str, signed: Mapping[str, str]) -> ApprovalInfo:
        """``POST /api/v1/approvals/{id}/decision`` with a decision from ``sign_approval_decision``."""
        return ApprovalInfo.from_json(self._transport.json(endpoints.decide_approval(approval_id, signed)))

    def wait_for_approval(self, approval_id: str, *, poll_interval: float = 1.0, timeout: Optional[float] = None) -> ApprovalInfo:
        """Polls an approval until it is no longer pending and returns it (approved, denied, expired or
        consumed); a pending approval always ends, as it expires on time. ``timeout``: seconds to wait
        at most, then ``TimeoutError``."""
        if isinstance(poll_interval, bool) or not isinstance(poll_interval, (int, float)) or poll_interval <= 0:
            raise AirlockError(f"poll_interval must be a positive number of seconds, got {poll_interval!r}", code="invalid_argument")
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            approval = self.get_approval(approval_id)
            if approval.state != PENDING:
                return approval
            if deadline is not None and time.monotonic() + poll_interval > deadline:
                raise TimeoutError(f"approval {approval_id} is still pending after {timeout} s", code="timeout")
            time.sleep(poll_interval)

    def list_execs(self, sandbox_id: str) -> List[ProcessInfo]:
        """``GET /api/v1/sandboxes/{id}/execs``: the commands running in the sandbox now (started by anyone), oldest first."""
        return [ProcessInfo.from_json(e) for e in self._transport.json(endpoints.list_execs(sandbox_id))["execs"]]

    def kill_exec(self, sandbox_id: str, exec_id: str) -> None:
        """``DELETE /api/v1/sandboxes/{id}/execs/{exec_id}``: kills a running command (it ends ``killed``);
        ``ExecutionNotFoundError`` when no command of that id runs."""
        self._transport.json(endpoints.kill_exec(sandbox_id, exec_id))

    @contextmanager
    def exec_stream(self, sandbox_id: str, body: Mapping[str, Any], *, approval_id: Optional[str] = None) -> Iterator[ExecStream]:
        """``POST /api/v1/sandboxes/{id}/exec`` as an NDJSON stream. Leaving the ``with`` block closes
        the connection, and the server kills the command if it still runs."""
        req = endpoints.exec_stream(sandbox_id, body, approval_id)
        with self._transport.open(req) as response:
            frames = self._frames(req, response, FrameReader())
            yield ExecStream(exec_id=response.headers.get("x-airlock-exec-id", ""), frames=frames, close=lambda: _interrupt(response))

    def _frames(self, req: HttpRequest, response: httpx.Response, reader: "FrameReader[_C]") -> Iterator[Union[OutputChunk, _C]]:
        """The frames of a streamed answer as they arrive, up to the reader's closing frame."""
        for chunk in self._transport.iter_chunks(req, response):
            yield from reader.feed(chunk)
            if reader.final is not None:
                return
        yield from reader.end()

    def read_file(self, sandbox_id: str, path: str) -> bytes:
        """``GET /api/v1/sandboxes/{id}/files?path=``: the file's bytes; ``FileNotFoundError`` when absent."""
        return self._transport.bytes(endpoints.read_file(sandbox_id, path))

    def read_file_stream(self, sandbox_id: str, path: str) -> Iterator[bytes]:
        """``GET /api/v1/sandboxes/{id}/files?path=`` as chunks: the request is answered (and
        ``FileNotFoundError`` raised) before this returns; the body is read as it is iterated, and the
        connection closes when the iteration ends (or the iterator is closed)."""
        req = endpoints.read_file(sandbox_id, path)
        stack = ExitStack()
        response = stack.enter_context(self._transport.open(req))

        def chunks() -> Iterator[bytes]:
            with stack:
                yield from self._transport.iter_chunks(req, response)

        return chunks()

    def write_file(self, sandbox_id: str, path: str, data: endpoints.WriteData, *, mode: Union[int, str, None] = None) -> WriteInfo:
        """``PUT /api/v1/sandboxes/{id}/files?path=``: creates or replaces the file (a string as UTF-8)."""
        answer = self._transport.json(endpoints.write_file(sandbox_id, path, data, mode))
        return WriteInfo(path=str(answer["path"]), size=int(answer["size"]))

    def list_files(self, sandbox_id: str, path: str) -> List[FileEntry]:
        """``GET /api/v1/sandboxes/{id}/files/list?path=``: the entries of a directory."""
        return [FileEntry.from_json(e) for e in self._transport.json(endpoints.list_files(sandbox_id, path))["entries"]]
