"""What the sync and async transports share: one request as the client describes it, its httpx
form (approval header, signature), the 429 retry rule, and the mapping of answers and failures
to typed errors. The transports only do the I/O.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional

import httpx

from ._version import __version__
from .connection import Connection
from .errors import (
    AirlockError,
    ApprovalRequiredError,
    NetworkError,
    RateLimitError,
    TimeoutError,
    error_from_response,
    parse_retry_after,
)
from .signing import signed_headers

#: Header a retried request names its approval in.
APPROVAL_HEADER = "airlock-approval"
#: Approval ids as the server issues them (``apr_...``).
_APPROVAL_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class HttpRequest:
    """One HTTP request of the API."""

    method: str
    path: str
    query: Mapping[str, Optional[str]] = field(default_factory=dict)
    #: Sent as ``application/json``.
    json: Any = None
    #: Sent raw as ``application/octet-stream``.
    content: Optional[bytes] = None
    accept: str = "application/json"
    #: Sent as ``Airlock-Approval``: the approved approval this retried request runs on.
    approval_id: Optional[str] = None
    #: Read deadline in seconds; None: the connection's ``request_timeout``; 0: none.
    timeout: Optional[float] = None

    @property
    def what(self) -> str:
        """``METHOD /path``, for messages."""
        return f"{self.method} {self.path}"


def check_approval_id(value: object) -> str:
    """``value`` when it can be an approval id; an ``invalid_argument`` error (nothing sent) otherwise."""
    # Why: the id goes into a header; anything but the server's alphabet is refused before sending.
    if not isinstance(value, str) or not _APPROVAL_ID.match(value):
        raise AirlockError(f"approval_id: {json.dumps(str(value))[:80]} is not an approval id (1 to 64 of A-Z a-z 0-9 _ -)", code="invalid_argument")
    return value


def build(client: "httpx.Client | httpx.AsyncClient", connection: Connection, req: HttpRequest) -> httpx.Request:
    """The httpx request for ``req``, signed when the connection has a key. Build it afresh for every
    attempt: each gets its own nonce and ``created``."""
    headers: Dict[str, str] = {**connection.headers, "accept": req.accept, "user-agent": f"airlock-sandbox-python/{__version__}"}
    if req.approval_id is not None:
        headers[APPROVAL_HEADER] = check_approval_id(req.approval_id)
    body: Optional[bytes] = None
    if req.json is not None:
        headers["content-type"] = "application/json"
        body = json.dumps(req.json, separators=(",", ":")).encode("utf-8")
    elif req.content is not None:
        headers["content-type"] = "application/octet-stream"
        body = req.content
    seconds = connection.request_timeout if req.timeout is None else req.timeout
    timeout = httpx.Timeout(connection.request_timeout or None, read=seconds or None)
    params = {k: v for k, v in req.query.items() if v is not None}
    request = client.build_request(req.method, connection.base_url + req.path, params=params, headers=headers, content=body, timeout=timeout)
    if connection.signer is not None:
        # Why the Host header and the raw target: that is exactly what the server rebuilds @target-uri from.
        target = f"{request.url.scheme}://{request.headers['host']}{request.url.raw_path.decode('ascii')}"
        for name in ("signature", "signature-input", "content-digest"):
            request.headers.pop(name, None)
        try:
            request.headers.update(signed_headers(connection.signer, req.method, target, body or b""))
        except ValueError as err:
            raise AirlockError(f"{req.what}: cannot sign the request: {err}", code="signing_failed") from err
    return request


def retry_delay(connection: Connection, response: httpx.Response, attempt: int) -> Optional[float]:
    """Seconds to wait before retrying a 429 answer, or None when it is not retried: not a 429, the
    retries are used up, or the server asks for a longer wait than ``max_retry_wait``."""
    if response.status_code != 429 or attempt >= connection.max_retries:
        return None
    after = parse_retry_after(response.headers.get("retry-after"))
    # Why a bound: a client that waits whatever a server says can be parked for hours.
    delay = min(2.0 ** attempt, connection.max_retry_wait) if after is None else after
    return delay if delay <= connection.max_retry_wait else None


def answer_error(req: HttpRequest, response: httpx.Response, body: bytes) -> Optional[AirlockError]:
    """The error an answer stands for, or None for a success: any non-2xx, and 202 (the request
    waits for an approver and nothing ran: never a success)."""
    if response.is_success and response.status_code != 202:
        return None
    headers = {k.lower(): v for k, v in response.headers.items()}
    if response.status_code != 202:
        return error_from_response(response.status_code, response.reason_phrase, headers, body)
    return _approval_required(req, headers, body)


def _approval_required(req: HttpRequest, headers: Mapping[str, str], body: bytes) -> AirlockError:
    try:
        parsed = json.loads(body.decode("utf-8"))
    except ValueError:
        parsed = None
    approval = parsed.get("approval") if isinstance(parsed, dict) else None
    # Why fail closed: a 202 means nothing ran, so a body that can't be read is never taken as success.
    if (
        not isinstance(parsed, dict)
        or parsed.get("status") != "approval_required"
        or not isinstance(approval, dict)
        or not _APPROVAL_ID.match(str(approval.get("approval_id", "")))
        or not _DIGEST.match(str(approval.get("action_digest", "")))
        or parsed.get("action_digest") != approval.get("action_digest")
        or not isinstance(approval.get("expires_at"), str)
    ):
        snippet = body[:100].decode("utf-8", errors="replace")
        return AirlockError(f"{req.what}: answered 202 without a readable pending approval (nothing was done): {snippet}", code="invalid_response", status=202, request_id=headers.get("x-request-id"))
    return ApprovalRequiredError(approval, request_id=headers.get("x-request-id"))


def failure(req: HttpRequest, connection: Connection, err: Exception) -> AirlockError:
    """The typed error for a request that got no answer, naming the server and the cause."""
    if isinstance(err, AirlockError):
        return err
    if isinstance(err, httpx.TimeoutException):
        return TimeoutError(f"{req.what}: no answer from {connection.target} in time ({type(err).__name__}: {err})", code="timeout")
    cause = str(err) or type(err).__name__
    return NetworkError(f"{req.what}: cannot reach {connection.target} ({connection.source}): {cause}", code="network_error")


def rate_limited(error: AirlockError, attempts: int) -> AirlockError:
    """``error`` with how many attempts were made, when it is a 429 the client gave up on."""
    if isinstance(error, RateLimitError) and attempts > 1:
        error.message = f"{error.message} (after {attempts} attempts)"
        error.args = (error.message,)
    return error


def parse_json(req: HttpRequest, body: bytes) -> Any:
    """The JSON of a 2xx answer, or ``invalid_response``."""
    try:
        return json.loads(body.decode("utf-8"))
    except ValueError as err:
        raise AirlockError(f"{req.what}: the answer is not JSON: {body[:100]!r}", code="invalid_response") from err
