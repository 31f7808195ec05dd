"""airlock: the Python client of the airlock control plane (``airlock serve``).

``Sandbox`` / ``AsyncSandbox`` for persistent sandboxes in E2B's vocabulary, ``run`` /
``Client.execute`` for one-shot runs, typed errors, signed requests from ``AIRLOCK_KEY``.
"""

from ._version import __version__
from .client import Client, ExecStream, ExecuteStream
from .connection import DEFAULT_SOCKET_PATH, DEFAULT_URL, Connection, resolve_connection
from .errors import (
    AirlockError,
    ApprovalDeniedError,
    ApprovalExpiredError,
    ApprovalRefusedError,
    ApprovalRequiredError,
    CommandExitError,
    ControlRefusedError,
    ExecutionNotFoundError,
    ExecutionNotRunningError,
    FileNotFoundError,
    InvalidRequestError,
    NetworkError,
    PolicyMismatchError,
    RateLimitError,
    SandboxNotFoundError,
    SandboxNotRunningError,
    ServiceUnavailableError,
    TimeoutError,
)
from .ndjson import ExitFrame, OutputChunk, ResultFrame
from .one_shot import arun, run
from .sandbox import CommandHandle, Commands, Files, Sandbox
from .async_client import AsyncClient, AsyncExecStream, AsyncExecuteStream
from .async_sandbox import AsyncCommandHandle, AsyncCommands, AsyncFiles, AsyncSandbox
from .signing import SigningKey, load_signing_key, signed_headers
from .types import CommandResult, ExecuteResult, FileEntry, ProcessInfo, ResourceUsage, SandboxInfo, SecurityViolation, WriteInfo
from .watch import AsyncWatchHandle, FilesystemEvent, FilesystemEventType, WatchHandle
from .approvals import ApprovalInfo, decision_signing_text, sign_approval_decision
from .with_approval import awith_approval, with_approval

__all__ = [
    "AirlockError",
    "ApprovalInfo",
    "ApprovalDeniedError",
    "ApprovalExpiredError",
    "ApprovalRefusedError",
    "ApprovalRequiredError",
    "AsyncClient",
    "AsyncCommandHandle",
    "AsyncCommands",
    "AsyncExecStream",
    "AsyncExecuteStream",
    "AsyncFiles",
    "AsyncSandbox",
    "AsyncWatchHandle",
    "Client",
    "CommandExitError",
    "CommandHandle",
    "CommandResult",
    "Commands",
    "Connection",
    "ControlRefusedError",
    "DEFAULT_SOCKET_PATH",
    "DEFAULT_URL",
    "ExecStream",
    "ExecuteResult",
    "ExecuteStream",
    "ExecutionNotFoundError",
    "ExecutionNotRunningError",
    "ExitFrame",
    "FileEntry",
    "FileNotFoundError",
    "Files",
    "FilesystemEvent",
    "FilesystemEventType",
    "InvalidRequestError",
    "NetworkError",
    "OutputChunk",
    "PolicyMismatchError",
    "ProcessInfo",
    "RateLimitError",
    "ResourceUsage",
    "ResultFrame",
    "Sandbox",
    "SandboxInfo",
    "SandboxNotFoundError",
    "SandboxNotRunningError",
    "SecurityViolation",
    "ServiceUnavailableError",
    "SigningKey",
    "TimeoutError",
    "WatchHandle",
    "WriteInfo",
    "__version__",
    "arun",
    "awith_approval",
    "decision_signing_text",
    "load_signing_key",
    "resolve_connection",
    "run",
    "sign_approval_decision",
    "signed_headers",
    "with_approval",
]
