"""Results as dataclasses: what the server answers, read from its snake_case JSON.

Every dataclass keeps the answer it was read from in ``raw``, so a field a newer server adds is
still reachable without a new SDK.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional


@dataclass(frozen=True)
class SecurityViolation:
    """A security violation reported with a result (seccomp denial, network drift, a limit, ...)."""

    violation_id: str
    timestamp: str
    violation_type: str
    severity: str
    description: str
    detection_layer: str
    blocked: bool
    indicators: Dict[str, Any]
    remediation: str

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> "SecurityViolation":
        """Reads one violation of the wire format."""
        return SecurityViolation(
            violation_id=str(data.get("violation_id", "")),
            timestamp=str(data.get("timestamp", "")),
            violation_type=str(data.get("violation_type", "")),
            severity=str(data.get("severity", "")),
            description=str(data.get("description", "")),
            detection_layer=str(data.get("detection_layer", "")),
            blocked=bool(data.get("blocked", False)),
            indicators=dict(data.get("indicators") or {}),
            remediation=str(data.get("remediation", "")),
        )


def _violations(data: Mapping[str, Any]) -> List[SecurityViolation]:
    return [SecurityViolation.from_json(v) for v in data.get("security_violations") or []]


@dataclass(frozen=True)
class ResourceUsage:
    """What a one-shot used."""

    cpu_usage_cores: float
    memory_usage_mb: float
    network_rx_bytes: int
    network_tx_bytes: int


@dataclass(frozen=True)
class ExecuteResult:
    """A one-shot execution's result. A command that failed is a result with ``success`` False, not an exception."""

    execution_id: str
    success: bool
    #: Captured stdout (the wire's ``output``: without its final newline).
    stdout: str
    #: Captured stderr, or why the sandbox could not start (the wire's ``error``); "" when empty.
    stderr: str
    exit_code: Optional[int]
    #: ``completed``, or the limit or event that ended it (``timeout``, ``memory_limit``, ``killed``, ...).
    termination_reason: str
    security_violations: List[SecurityViolation]
    execution_time_seconds: float
    cold_start_time_ms: float
    resource_usage: ResourceUsage
    runtime_used: str
    #: What ran the guest of a microvm sandbox: ``kvm``, or ``tcg`` (emulated, no KVM: much slower); None when no VM ran.
    accelerator: Optional[str]
    policy_hash: str
    #: sha256 digest of the stored image it ran in (over its verified manifest); "" from a server that doesn't say.
    image_digest: str
    #: Id of the trusted key whose signature over the image verified (``imagePolicy``); None when none did.
    image_signer: Optional[str]
    #: The audit receipt of the execution (verify offline with ``airlock receipt verify``); None without one.
    receipt: Optional[Dict[str, Any]]
    raw: Dict[str, Any] = field(repr=False)

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> "ExecuteResult":
        """Reads ``POST /api/v1/sandbox/execute``'s answer."""
        usage = data.get("resource_usage") or {}
        return ExecuteResult(
            execution_id=str(data.get("execution_id", "")),
            success=bool(data.get("success", False)),
            stdout=str(data.get("output") or ""),
            stderr=str(data.get("error") or ""),
            exit_code=data.get("exit_code"),
            termination_reason=str(data.get("termination_reason", "")),
            security_violations=_violations(data),
            execution_time_seconds=float(data.get("execution_time_seconds", 0)),
            cold_start_time_ms=float(data.get("cold_start_time_ms", 0)),
            resource_usage=ResourceUsage(
                cpu_usage_cores=float(usage.get("cpu_usage_cores", 0)),
                memory_usage_mb=float(usage.get("memory_usage_mb", 0)),
                network_rx_bytes=int(usage.get("network_rx_bytes", 0)),
                network_tx_bytes=int(usage.get("network_tx_bytes", 0)),
            ),
            runtime_used=str(data.get("runtime_used", "")),
            accelerator=data.get("accelerator"),
            policy_hash=str(data.get("policy_hash", "")),
            image_digest=str(data.get("image_digest", "")),
            image_signer=data.get("image_signer"),
            receipt=data.get("receipt"),
            raw=dict(data),
        )


@dataclass(frozen=True)
class SandboxInfo:
    """A persistent sandbox as the server describes it."""

    sandbox_id: str
    #: Tenancy id (agent id) of the principal that created it.
    owner: str
    runtime: str
    #: What runs its guest when it is a microvm sandbox (``kvm`` or ``tcg``); None when it runs no VM.
    accelerator: Optional[str]
    image: str
    image_digest: str
    #: ``running`` or ``ended``.
    state: str
    created_at: str
    #: When the TTL (a hard deadline) ends it unless extended with ``set_timeout``.
    expires_at: str
    #: Its idle timeout in seconds (it ends ``idle_timeout`` after this long with no exec or file
    #: operation); None: none, only the TTL ends it.
    idle_timeout_seconds: Optional[int]
    metadata: Dict[str, str]
    #: memory_limit_mb, cpu_limit, pids_limit, scratch_mb, timeout_seconds.
    limits: Dict[str, float]
    network_policy: str
    allowed_hosts: List[str]
    security_violations: List[SecurityViolation]
    #: Why it ended (``killed``, ``ttl_expired``, ``idle_timeout``, ``memory_limit``, ``network_drift``, ...); None while running.
    end_reason: Optional[str]
    ended_at: Optional[str]
    #: Once ended (when the server keeps an audit log): the receipt of its ``sandbox.ended`` record.
    receipt: Optional[Dict[str, Any]]
    raw: Dict[str, Any] = field(repr=False)

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> "SandboxInfo":
        """Reads a sandbox of the wire format."""
        return SandboxInfo(
            sandbox_id=str(data["sandbox_id"]),
            owner=str(data.get("owner", "")),
            runtime=str(data.get("runtime", "")),
            accelerator=data.get("accelerator"),
            image=str(data.get("image", "")),
            image_digest=str(data.get("image_digest", "")),
            state=str(data.get("state", "")),
            created_at=str(data.get("created_at", "")),
            expires_at=str(data.get("expires_at", "")),
            idle_timeout_seconds=data.get("idle_timeout_seconds"),
            metadata=dict(data.get("metadata") or {}),
            limits=dict(data.get("limits") or {}),
            network_policy=str(data.get("network_policy", "")),
            allowed_hosts=list(data.get("allowed_hosts") or []),
            security_violations=_violations(data),
            end_reason=data.get("end_reason"),
            ended_at=data.get("ended_at"),
            receipt=data.get("receipt"),
            raw=dict(data),
        )

    @property
    def template_id(self) -> str:
        """E2B's name for the image it runs."""
        return self.image

    @property
    def started_at(self) -> str:
        """E2B's name for ``created_at``."""
        return self.created_at

    @property
    def end_at(self) -> str:
        """E2B's name for ``expires_at``: when the TTL ends it (earlier if idle, killed or a limit)."""
        return self.expires_at


@dataclass(frozen=True)
class ProcessInfo:
    """A command running in a sandbox, as ``commands.list()`` gives it (E2B's shape, no ``envs`` or ``tag``)."""

    #: The exec id: what ``commands.kill`` takes (a string here, a number in E2B).
    pid: str
    #: The program (argv[0]); for code run with ``run_code``, the language.
    cmd: str
    #: The arguments after it (secret values redacted by the server).
    args: List[str]
    cwd: str
    #: When it started (ISO 8601).
    started_at: str

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> "ProcessInfo":
        """Reads one running exec of ``GET /api/v1/sandboxes/{id}/execs``."""
        argv = [str(a) for a in data.get("command") or []]
        return ProcessInfo(pid=str(data["exec_id"]), cmd=argv[0] if argv else "", args=argv[1:], cwd=str(data.get("cwd", "")), started_at=str(data.get("started_at", "")))


@dataclass(frozen=True)
class CommandResult:
    """How a command run in a sandbox ended, with its collected output."""

    #: Server-side id of this exec (``x-airlock-exec-id``); "" when the server never answered.
    exec_id: str
    #: Everything the command wrote to stdout, decoded as UTF-8 (invalid bytes become U+FFFD).
    stdout: str
    stderr: str
    #: Exit status; None when a signal, a limit or a kill ended the command.
    exit_code: Optional[int]
    #: Signal name (``SIGKILL``, ...) when a signal ended it.
    signal: Optional[str]
    #: ``completed`` unless a limit or a kill ended it: ``timeout``, ``killed``, ``sandbox_ended``, ``output_limit``.
    termination_reason: str
    #: Wall-clock run time measured by the server, ms.
    duration_ms: float
    #: The audit receipt of the exec (when the server keeps an audit log).
    receipt: Optional[Dict[str, Any]] = None

    @property
    def error(self) -> Optional[str]:
        """E2B's name: why the command did not succeed, None when it exited 0."""
        if self.termination_reason == "completed" and self.exit_code == 0:
            return None
        from .errors import describe_ending

        return describe_ending(self)


@dataclass(frozen=True)
class FileEntry:
    """One entry of a directory listing."""

    name: str
    path: str
    #: ``file``, ``dir``, ``symlink`` or ``other``.
    type: str
    size: int
    mode: int
    modified_at: str

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> "FileEntry":
        """Reads one entry of the wire format."""
        return FileEntry(
            name=str(data["name"]),
            path=str(data["path"]),
            type=str(data["type"]),
            size=int(data.get("size", 0)),
            mode=int(data.get("mode", 0)),
            modified_at=str(data.get("modified_at", "")),
        )


@dataclass(frozen=True)
class WriteInfo:
    """A written file: its path and size in bytes."""

    path: str
    size: int
