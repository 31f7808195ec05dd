"""Typed errors of the SDK, the same family as the TypeScript SDK's (sdk/errors.ts).

Every error is an :class:`AirlockError` with a string ``code``: the server's error-envelope code for
refusals it answered (``sandbox_not_found``, ``capacity_exceeded``, ...), or one of the SDK's own for
what happened on this side (``network_error``, ``timeout``, ``command_exit``, ``stream_ended``,
``invalid_response``, ``invalid_argument``, ``signing_failed``).
"""

from __future__ import annotations

import builtins
import email.utils
import json
import time
from typing import TYPE_CHECKING, Any, Dict, Mapping, Optional, Type

if TYPE_CHECKING:
    from .types import CommandResult


class AirlockError(Exception):
    """Base class of every error the SDK raises."""

    def __init__(
        self,
        message: str,
        *,
        code: str,
        status: Optional[int] = None,
        request_id: Optional[str] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        #: Stable machine-readable code: the server's envelope code, or an SDK-side code.
        self.code = code
        #: HTTP status of the refusal; None when no HTTP answer carried it.
        self.status = status
        #: The server's request id (quote it when reporting a problem).
        self.request_id = request_id

    def __str__(self) -> str:
        return self.message


class RateLimitError(AirlockError):
    """429: the server is at capacity (after the client's own retries). Retry after ``retry_after`` seconds."""

    def __init__(self, message: str, *, retry_after: Optional[float] = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        #: Seconds to wait before retrying, from ``Retry-After``; None when absent.
        self.retry_after = retry_after


class SandboxNotFoundError(AirlockError):
    """No such sandbox (never existed, or ended and forgotten)."""


class SandboxNotRunningError(AirlockError):
    """The sandbox exists but has ended, so it can't run commands or move files."""


class ExecutionNotFoundError(AirlockError):
    """No running one-shot execution, or no command running in the sandbox, has this id (404
    ``execution_not_found``); ``commands.kill`` answers False for it."""


class ExecutionNotRunningError(AirlockError):
    """The one-shot execution has already ended (409 ``execution_not_running``)."""


class FileNotFoundError(AirlockError, builtins.FileNotFoundError):  # noqa: A001 - the TS SDK's name
    """A path inside the sandbox doesn't exist (also a built-in ``FileNotFoundError``)."""


class InvalidRequestError(AirlockError):
    """The request was refused as malformed or out of range (400, 413, 415, ...); the message names the field."""


class ControlRefusedError(AirlockError):
    """403: a control refused the request before anything ran; the message starts with the control's name."""


class PolicyMismatchError(AirlockError):
    """The request pinned a policy hash that isn't the server's active policy (409)."""


class ServiceUnavailableError(AirlockError):
    """503: a hardening control could not be applied, or the server is shutting down."""


class ApprovalRequiredError(AirlockError):
    """202 ``approval_required``: policy sends this request to a human, and nothing was done.

    Once an approver has approved ``approval_id`` (``airlock approvals approve ID``), repeat exactly
    the same call with ``approval_id=...``: the same resolved parameters, or the server refuses it
    (``approval_digest_mismatch``).
    """

    def __init__(self, approval: Mapping[str, Any], *, request_id: Optional[str] = None) -> None:
        reasons = [str(r) for r in approval.get("reasons", [])]
        why = "; ".join(reasons) if reasons else "policy asks for a signed approval"
        approval_id = str(approval["approval_id"])
        super().__init__(
            f"approval required: {why} (approval {approval_id}, expires {approval.get('expires_at')})",
            code="approval_required",
            status=202,
            request_id=request_id,
        )
        #: The pending approval's id: pass it as ``approval_id`` when retrying.
        self.approval_id = approval_id
        #: ``sha256:<hex>`` of the admitted request: what the approver signs.
        self.action_digest = str(approval["action_digest"])
        #: When the approval lapses unless decided and used before (ISO 8601).
        self.expires_at = str(approval["expires_at"])
        #: The approval as the server shows it.
        self.approval: Dict[str, Any] = dict(approval)


class ApprovalRefusedError(AirlockError):
    """An approval could not be used or decided (every ``approval_*`` refusal; the code says which)."""


class ApprovalDeniedError(ApprovalRefusedError):
    """An approver denied the approval: the request will not run."""


class ApprovalExpiredError(ApprovalRefusedError):
    """The approval lapsed before it was used: ask again."""


class NetworkError(AirlockError):
    """The server could not be reached, or the connection broke before an answer."""


class TimeoutError(AirlockError, builtins.TimeoutError):  # noqa: A001 - the TS SDK's name
    """A time limit passed: a command's ``timeout`` (then ``result`` is set) or a request's deadline."""

    def __init__(self, message: str, *, result: "Optional[CommandResult]" = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        #: The command's output up to the timeout, when a command timed out.
        self.result = result


class CommandExitError(AirlockError):
    """A command ended unsuccessfully: non-zero exit, a signal, a limit, or a kill. Carries the result."""

    def __init__(self, result: "CommandResult") -> None:
        super().__init__(describe_ending(result), code="command_exit")
        #: The full result: output, exit code, signal, termination reason.
        self.result = result

    @property
    def exit_code(self) -> Optional[int]:
        """Shorthand for ``result.exit_code``."""
        return self.result.exit_code

    @property
    def stdout(self) -> str:
        """Shorthand for ``result.stdout``."""
        return self.result.stdout

    @property
    def stderr(self) -> str:
        """Shorthand for ``result.stderr``."""
        return self.result.stderr


def describe_ending(result: "CommandResult") -> str:
    """One line saying how a command that did not succeed ended."""
    if result.termination_reason == "completed":
        if result.exit_code is not None:
            return f"command exited with code {result.exit_code}"
        return f"command was ended by {result.signal or 'a signal'}"
    how = f" (exit code {result.exit_code})" if result.exit_code is not None else f" ({result.signal})" if result.signal else ""
    return f"command ended: {result.termination_reason.replace('_', ' ')}{how}"


#: Envelope codes (the API's list: src/api/error-codes.ts) and the class each maps to.
BY_CODE: Dict[str, Type[AirlockError]] = {
    "sandbox_not_found": SandboxNotFoundError,
    "sandbox_not_running": SandboxNotRunningError,
    "execution_not_found": ExecutionNotFoundError,
    "execution_not_running": ExecutionNotRunningError,
    "file_not_found": FileNotFoundError,
    "policy_mismatch": PolicyMismatchError,
    "invalid_request": InvalidRequestError,
    "invalid_path": InvalidRequestError,
    "invalid_json": InvalidRequestError,
    "not_supported": InvalidRequestError,
    "runtime_unavailable": InvalidRequestError,
    "image_not_found": InvalidRequestError,
    "payload_too_large": InvalidRequestError,
    "unsupported_media_type": InvalidRequestError,
    "headers_too_large": InvalidRequestError,
    "method_not_allowed": InvalidRequestError,
    "host_not_allowed": InvalidRequestError,
    "filesystem_access_refused": ControlRefusedError,
    "workdir_refused": ControlRefusedError,
    "control_failed": ServiceUnavailableError,
    "shutting_down": ServiceUnavailableError,
    "approval_denied": ApprovalDeniedError,
    "approval_expired": ApprovalExpiredError,
    "approval_not_found": ApprovalRefusedError,
    "approval_unavailable": ApprovalRefusedError,
    "approval_digest_mismatch": ApprovalRefusedError,
    "approval_reused": ApprovalRefusedError,
    "approval_pending": ApprovalRefusedError,
    "approval_signature_invalid": ApprovalRefusedError,
    "approver_role_required": ApprovalRefusedError,
    "self_approval": ApprovalRefusedError,
    "approval_nonce_replayed": ApprovalRefusedError,
    "approval_already_decided": ApprovalRefusedError,
    "approval_decision_invalid": ApprovalRefusedError,
}

#: Statuses whose unknown codes still have an obvious class.
BY_STATUS: Dict[int, Type[AirlockError]] = {
    400: InvalidRequestError,
    405: InvalidRequestError,
    413: InvalidRequestError,
    415: InvalidRequestError,
    421: InvalidRequestError,
    422: InvalidRequestError,
    431: InvalidRequestError,
    503: ServiceUnavailableError,
}


def parse_retry_after(value: Optional[str], now: Optional[float] = None) -> Optional[float]:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date (at least 0). None when absent or unreadable."""
    if value is None:
        return None
    trimmed = value.strip()
    if trimmed.isdigit():
        return float(trimmed)
    try:
        when = email.utils.parsedate_to_datetime(trimmed)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, float(int(when.timestamp() - (time.time() if now is None else now) + 0.999)))


def error_from_envelope(
    code: str,
    message: str,
    status: Optional[int],
    *,
    request_id: Optional[str] = None,
    retry_after: Optional[str] = None,
) -> AirlockError:
    """The typed error for an envelope ``{code, message, request_id}`` answered with ``status``."""
    if status == 429 or code == "capacity_exceeded":
        return RateLimitError(message, code=code, status=status, request_id=request_id, retry_after=parse_retry_after(retry_after))
    cls = BY_CODE.get(code) or (BY_STATUS.get(status) if status is not None else None) or AirlockError
    return cls(message, code=code, status=status, request_id=request_id)


def error_from_response(status: int, reason: str, headers: Mapping[str, str], body: bytes) -> AirlockError:
    """The typed error of a non-2xx answer; a body that isn't an error envelope still yields one."""
    request_id = headers.get("x-request-id")
    text = body.decode("utf-8", errors="replace")
    envelope = _envelope_of(text)
    retry_after = headers.get("retry-after")
    if envelope is not None:
        code, message, envelope_id = envelope
        return error_from_envelope(code, message, status, request_id=envelope_id or request_id, retry_after=retry_after)
    # Not our envelope (a proxy's page, an empty body): keep the status, quote a little of the body.
    snippet = " ".join(text.split())[:200]
    message = f"HTTP {status}{' ' + reason if reason else ''}{': ' + snippet if snippet else ''}"
    return error_from_envelope(f"http_{status}", message, status, request_id=request_id, retry_after=retry_after)


def _envelope_of(text: str) -> Optional[tuple]:
    try:
        parsed = json.loads(text)
    except ValueError:
        return None
    error = parsed.get("error") if isinstance(parsed, dict) else None
    if not isinstance(error, dict):
        return None
    code, message, request_id = error.get("code"), error.get("message"), error.get("request_id")
    if not isinstance(code, str) or not isinstance(message, str):
        return None
    return code, message, request_id if isinstance(request_id, str) else None
