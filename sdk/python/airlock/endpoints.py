"""One function per endpoint of the airlock HTTP API: the request it sends (wire shapes,
snake_case). ``Client`` and ``AsyncClient`` send these; neither builds a request of its own.
"""

from __future__ import annotations

import base64
from typing import IO, Any, Dict, List, Mapping, Optional, Sequence, Union
from urllib.parse import quote

from .errors import AirlockError
from .http_request import HttpRequest

#: Seconds ``execute`` waits for a server-side limit it doesn't know (the configured maximum, 600 s).
EXECUTE_DEFAULT_LIMIT_SECONDS = 600.0
#: Extra time the client allows past a command's own limit before giving up on the server.
CLIENT_GRACE_SECONDS = 15.0

#: What ``files.write`` takes: text (written as UTF-8), bytes, or an open file read to its end.
WriteData = Union[str, bytes, bytearray, memoryview, IO[Any]]

#: A command: a string (run as ``sh -c STRING``) or an argv list.
Command = Union[str, Sequence[str]]


def _sandbox_path(sandbox_id: str, suffix: str = "") -> str:
    if not isinstance(sandbox_id, str) or sandbox_id == "":
        raise AirlockError("sandbox id must be a non-empty string", code="invalid_argument")
    return f"/api/v1/sandboxes/{quote(sandbox_id, safe='')}{suffix}"


def _with_grace(base: float, limit: Optional[float]) -> float:
    """A read deadline of ``base`` plus a server-side limit; 0 (none) when either is unbounded."""
    return 0.0 if base == 0 or limit is None else base + limit


def _stream_deadline(body: Mapping[str, Any]) -> float:
    """The read deadline of an NDJSON stream: the request's own limit plus a grace; 0 (none) without
    one, as the server enforces its own limits."""
    limit = body.get("timeout_seconds")
    return 0.0 if limit is None else float(limit) + CLIENT_GRACE_SECONDS


def health() -> HttpRequest:
    """``GET /health``."""
    return HttpRequest("GET", "/health")


def status() -> HttpRequest:
    """``GET /api/v1/sandbox/status``."""
    return HttpRequest("GET", "/api/v1/sandbox/status")


def execute(body: Mapping[str, Any], request_timeout: float, approval_id: Optional[str]) -> HttpRequest:
    """``POST /api/v1/sandbox/execute``: the read deadline covers the execution's own limit."""
    limit = float(body.get("timeout_seconds") or EXECUTE_DEFAULT_LIMIT_SECONDS)
    return HttpRequest("POST", "/api/v1/sandbox/execute", json=dict(body), approval_id=approval_id, timeout=_with_grace(request_timeout, limit))


def execute_stream(body: Mapping[str, Any], approval_id: Optional[str]) -> HttpRequest:
    """``POST /api/v1/sandbox/execute`` as NDJSON: output as it is written, then the result. Without a
    limit of its own, no client-side read deadline: the server enforces its configured maximum."""
    return HttpRequest("POST", "/api/v1/sandbox/execute", json=dict(body), accept="application/x-ndjson", approval_id=approval_id, timeout=_stream_deadline(body))


def cancel_execution(execution_id: str) -> HttpRequest:
    """``DELETE /api/v1/sandbox/executions/{id}``."""
    if not isinstance(execution_id, str) or execution_id == "":
        raise AirlockError("execution id must be a non-empty string", code="invalid_argument")
    return HttpRequest("DELETE", f"/api/v1/sandbox/executions/{quote(execution_id, safe='')}")


def create_sandbox(body: Mapping[str, Any], approval_id: Optional[str]) -> HttpRequest:
    """``POST /api/v1/sandboxes``."""
    return HttpRequest("POST", "/api/v1/sandboxes", json=dict(body), approval_id=approval_id)


def list_sandboxes() -> HttpRequest:
    """``GET /api/v1/sandboxes``."""
    return HttpRequest("GET", "/api/v1/sandboxes")


def get_sandbox(sandbox_id: str) -> HttpRequest:
    """``GET /api/v1/sandboxes/{id}``."""
    return HttpRequest("GET", _sandbox_path(sandbox_id))


def kill_sandbox(sandbox_id: str) -> HttpRequest:
    """``DELETE /api/v1/sandboxes/{id}``."""
    return HttpRequest("DELETE", _sandbox_path(sandbox_id))


def set_sandbox_timeout(sandbox_id: str, ttl_seconds: int) -> HttpRequest:
    """``POST /api/v1/sandboxes/{id}/timeout``."""
    if isinstance(ttl_seconds, bool) or not isinstance(ttl_seconds, int) or ttl_seconds <= 0:
        raise AirlockError(f"timeout must be a positive whole number of seconds, got {ttl_seconds!r}", code="invalid_argument")
    return HttpRequest("POST", _sandbox_path(sandbox_id, "/timeout"), json={"ttl_seconds": ttl_seconds})


def get_sandbox_network(sandbox_id: str) -> HttpRequest:
    """``GET /api/v1/sandboxes/{id}/network``."""
    return HttpRequest("GET", _sandbox_path(sandbox_id, "/network"))


def set_sandbox_allowlist(sandbox_id: str, allowed_hosts: Sequence[str]) -> HttpRequest:
    """``PUT /api/v1/sandboxes/{id}/network``."""
    return HttpRequest("PUT", _sandbox_path(sandbox_id, "/network"), json={"allowed_hosts": list(allowed_hosts)})


def exec_stream(sandbox_id: str, body: Mapping[str, Any], approval_id: Optional[str]) -> HttpRequest:
    """``POST /api/v1/sandboxes/{id}/exec`` as NDJSON. Without a limit of its own, no client-side read
    deadline: the server enforces the sandbox's per-command limit."""
    return HttpRequest(
        "POST",
        _sandbox_path(sandbox_id, "/exec"),
        json=dict(body),
        accept="application/x-ndjson",
        approval_id=approval_id,
        timeout=_stream_deadline(body),
    )


def list_execs(sandbox_id: str) -> HttpRequest:
    """``GET /api/v1/sandboxes/{id}/execs``: the commands running in the sandbox now."""
    return HttpRequest("GET", _sandbox_path(sandbox_id, "/execs"))


def kill_exec(sandbox_id: str, exec_id: str) -> HttpRequest:
    """``DELETE /api/v1/sandboxes/{id}/execs/{exec_id}``: kills one running command."""
    if not isinstance(exec_id, str) or exec_id == "":
        raise AirlockError(f"pid must be a command's exec id (a non-empty string), got {exec_id!r}", code="invalid_argument")
    return HttpRequest("DELETE", _sandbox_path(sandbox_id, f"/execs/{quote(exec_id, safe='')}"))


def capture_forensics(sandbox_id: str) -> HttpRequest:
    """``POST /api/v1/sandboxes/{id}/forensics`` (the admin action)."""
    return HttpRequest("POST", _sandbox_path(sandbox_id, "/forensics"))


def revoke_agent(agent_id: str, reason: str) -> HttpRequest:
    """``POST /api/v1/revocations`` (operators)."""
    return HttpRequest("POST", "/api/v1/revocations", json={"agent_id": agent_id, "reason": reason})


def unrevoke_agent(agent_id: str) -> HttpRequest:
    """``DELETE /api/v1/revocations/{agent_id}`` (operators)."""
    if not isinstance(agent_id, str) or agent_id == "":
        raise AirlockError("agent id must be a non-empty string", code="invalid_argument")
    return HttpRequest("DELETE", f"/api/v1/revocations/{quote(agent_id, safe='')}")


def list_revocations() -> HttpRequest:
    """``GET /api/v1/revocations`` (operators)."""
    return HttpRequest("GET", "/api/v1/revocations")


def export_revocations() -> HttpRequest:
    """``GET /api/v1/revocation-list``: this controller's own revocations, signed (operators)."""
    return HttpRequest("GET", "/api/v1/revocation-list")


def import_revocations(signed_list: Mapping[str, Any]) -> HttpRequest:
    """``POST /api/v1/revocation-list``: applies another controller's signed list (operators)."""
    return HttpRequest("POST", "/api/v1/revocation-list", json=dict(signed_list))


def _approval_path(approval_id: str, suffix: str = "") -> str:
    if not isinstance(approval_id, str) or approval_id == "":
        raise AirlockError("approval id must be a non-empty string", code="invalid_argument")
    return f"/api/v1/approvals/{quote(approval_id, safe='')}{suffix}"


def list_approvals() -> HttpRequest:
    """``GET /api/v1/approvals``: newest first; approvers and operators see all, an agent its own tenant's."""
    return HttpRequest("GET", "/api/v1/approvals")


def get_approval(approval_id: str) -> HttpRequest:
    """``GET /api/v1/approvals/{id}``."""
    return HttpRequest("GET", _approval_path(approval_id))


def decide_approval(approval_id: str, signed: Mapping[str, str]) -> HttpRequest:
    """``POST /api/v1/approvals/{id}/decision`` with a decision ``sign_approval_decision`` made."""
    return HttpRequest("POST", _approval_path(approval_id, "/decision"), json=dict(signed))


def read_file(sandbox_id: str, path: str) -> HttpRequest:
    """``GET /api/v1/sandboxes/{id}/files?path=``."""
    return HttpRequest("GET", _sandbox_path(sandbox_id, "/files"), query={"path": path}, accept="application/octet-stream")


def write_file(sandbox_id: str, path: str, data: WriteData, mode: Union[int, str, None]) -> HttpRequest:
    """``PUT /api/v1/sandboxes/{id}/files?path=&mode=``; a string is written as UTF-8, an open file
    (E2B's ``IO``) is read to its end first."""
    if not isinstance(data, (str, bytes, bytearray, memoryview)):
        if not callable(getattr(data, "read", None)):
            raise AirlockError(f"files.write: data must be str, bytes or an open file, not {type(data).__name__}", code="invalid_argument")
        data = data.read()
    content = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    mode_text = None if mode is None else format(mode, "03o") if isinstance(mode, int) else str(mode)
    return HttpRequest("PUT", _sandbox_path(sandbox_id, "/files"), query={"path": path, "mode": mode_text}, content=content)


def list_files(sandbox_id: str, path: str) -> HttpRequest:
    """``GET /api/v1/sandboxes/{id}/files/list?path=``."""
    return HttpRequest("GET", _sandbox_path(sandbox_id, "/files/list"), query={"path": path})


def exec_body(
    command: Command,
    *,
    envs: Optional[Mapping[str, str]] = None,
    cwd: Optional[str] = None,
    timeout: Optional[float] = None,
    stdin: Union[str, bytes, None] = None,
) -> Dict[str, Any]:
    """The exec request of a command: a string runs as ``sh -c STRING`` (POSIX sh is in every
    image), an argv list runs the program directly."""
    argv: List[str] = ["sh", "-c", command] if isinstance(command, str) else list(command)
    if not argv or not all(isinstance(a, str) for a in argv):
        raise AirlockError("command: give a string or a non-empty list of strings", code="invalid_argument")
    body: Dict[str, Any] = {"command": argv}
    if envs is not None:
        body["environment"] = dict(envs)
    if cwd is not None:
        body["cwd"] = cwd
    if timeout is not None:
        body["timeout_seconds"] = timeout
    if isinstance(stdin, str):
        body["stdin"] = stdin
    elif stdin is not None:
        body["stdin"] = base64.b64encode(bytes(stdin)).decode("ascii")
        body["stdin_encoding"] = "base64"
    return body


def code_body(
    code: str,
    *,
    language: str = "python",
    envs: Optional[Mapping[str, str]] = None,
    cwd: Optional[str] = None,
    timeout: Optional[float] = None,
) -> Dict[str, Any]:
    """The exec request of a snippet: ``code`` run by the image's interpreter for ``language``
    (``python``, ``javascript`` or ``bash``), as the server runs it."""
    if not isinstance(code, str):
        raise AirlockError("code: give a string", code="invalid_argument")
    body: Dict[str, Any] = {"code": code, "language": language}
    if envs is not None:
        body["environment"] = dict(envs)
    if cwd is not None:
        body["cwd"] = cwd
    if timeout is not None:
        body["timeout_seconds"] = timeout
    return body


def execute_body(
    code: Optional[str],
    *,
    agent_id: str,
    command: Optional[Command] = None,
    language: Optional[str] = None,
    runtime: Optional[str] = None,
    image: Optional[str] = None,
    timeout: Optional[float] = None,
    envs: Optional[Mapping[str, str]] = None,
    cwd: Optional[str] = None,
    fields: Optional[Mapping[str, Any]] = None,
) -> Dict[str, Any]:
    """The one-shot request: ``code`` (with ``language``) or ``command``; ``fields`` are further wire
    fields as the server names them (``memory_limit_mb``, ``network_policy``, ``allowed_hosts``, ...).
    The server refuses a field it does not know, so nothing is silently ignored."""
    if (code is None) == (command is None):
        raise AirlockError("give exactly one of code or command", code="invalid_argument")
    body: Dict[str, Any] = {"agent_id": agent_id, **(fields or {})}
    if code is not None:
        body["code"] = code
    if command is not None:
        body["command"] = command if isinstance(command, str) else list(command)
    for name, value in (("language", language), ("runtime", runtime), ("image", image), ("timeout_seconds", timeout), ("workdir", cwd)):
        if value is not None:
            body[name] = value
    if envs is not None:
        body["environment"] = dict(envs)
    return body


#: E2B's create options airlock lacks, and why (refused before anything is sent; the server would
#: only say the field is unknown).
UNSUPPORTED_CREATE_OPTIONS: Dict[str, str] = {
    "api_key": "airlock authenticates with a signing key (AIRLOCK_KEY, or key=) or the local unix socket",
    "access_token": "airlock authenticates with a signing key (AIRLOCK_KEY, or key=) or the local unix socket",
    "domain": "name the server with AIRLOCK_URL or url=",
    "secure": "sandboxes have no public URLs; every request to the server is authenticated",
    "debug": "there is no debug mode",
    "auto_pause": "sandboxes cannot be paused",
    "lifecycle": "sandboxes cannot be paused",
    "mcp": "run `airlock mcp-server` instead",
    "network": "use network_policy, allowed_hosts and services",
    "proxy": "the SDK does not use proxies; it talks to the server directly",
}


def _seconds(name: str, value: object) -> int:
    """A whole positive number of seconds; ``invalid_argument`` otherwise (nothing sent)."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise AirlockError(f"{name} must be a positive whole number of seconds, got {value!r}", code="invalid_argument")
    return value


def create_body(
    template: Optional[str],
    *,
    timeout: Optional[int] = None,
    idle_timeout: Optional[int] = None,
    envs: Optional[Mapping[str, str]] = None,
    metadata: Optional[Mapping[str, str]] = None,
    runtime: Optional[str] = None,
    allow_internet_access: Optional[bool] = None,
    fields: Optional[Mapping[str, Any]] = None,
) -> Dict[str, Any]:
    """The create request: ``template`` is the image, ``timeout`` the lifetime in seconds
    (``ttl_seconds``, a hard deadline), ``idle_timeout`` the seconds without an exec or file
    operation after which it ends (``idle_timeout_seconds``), ``envs`` its environment;
    ``allow_internet_access`` True is ``network_policy`` ``full``, False ``none``; ``fields`` are
    further wire fields (``limits``, ``network_policy``, ``allowed_hosts``, ``services``, ...)."""
    for name in fields or {}:
        if name in UNSUPPORTED_CREATE_OPTIONS:
            raise AirlockError(f"Sandbox.create: {name} is not supported: {UNSUPPORTED_CREATE_OPTIONS[name]}", code="invalid_argument")
    body: Dict[str, Any] = dict(fields or {})
    if timeout is not None:
        body["ttl_seconds"] = _seconds("timeout", timeout)
    if idle_timeout is not None:
        body["idle_timeout_seconds"] = _seconds("idle_timeout", idle_timeout)
    for name, value in (("image", template), ("runtime", runtime)):
        if value is not None:
            body[name] = value
    if allow_internet_access is not None:
        if not isinstance(allow_internet_access, bool):
            raise AirlockError("allow_internet_access must be True or False", code="invalid_argument")
        if "network_policy" in body:
            raise AirlockError("allow_internet_access and network_policy: give one of them", code="invalid_argument")
        # Why "full" and not more: full egress still refuses the host, private ranges and cloud metadata.
        body["network_policy"] = "full" if allow_internet_access else "none"
    if envs is not None:
        body["environment"] = dict(envs)
    if metadata is not None:
        body["metadata"] = dict(metadata)
    return body
