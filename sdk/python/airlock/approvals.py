"""Approvals from the SDK, as the TypeScript SDK has them: read and wait for the approvals policy asks
for, and decide one as an approver by signing ``{approval_id, action_digest, decision, nonce,
expires_at}`` (RFC 8785 canonical JSON) with the approver's Ed25519 key."""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Union

from .errors import AirlockError, ApprovalDeniedError, ApprovalExpiredError, ApprovalRefusedError
from .signing import SigningKey

#: The states an approval is in; every one but ``pending`` is final.
PENDING = "pending"


@dataclass(frozen=True)
class ApprovalInfo:
    """An approval as the server shows it: a request that runs only once an approver has signed a decision on exactly it."""

    approval_id: str
    #: ``pending``, ``approved``, ``denied``, ``consumed`` (used) or ``expired``.
    state: str
    #: The policy action it is for (``create``, ``exec``, ``execute``, ``mcp.call``, ...).
    action: str
    sandbox_id: Optional[str]
    #: ``sha256:<hex>`` of the admitted request: what an approver signs.
    action_digest: str
    #: The requester's principal name and agent id.
    requester: Dict[str, str]
    #: The resolved request, as admission gave it, for the approver to read.
    summary: Any
    policy_ids: List[str]
    reasons: List[str]
    created_at: str
    expires_at: str
    decided_by: Optional[str]
    decided_at: Optional[str]
    decision_expires_at: Optional[str]
    raw: Dict[str, Any] = field(repr=False)

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> "ApprovalInfo":
        """Reads an approval of the wire format."""
        return ApprovalInfo(
            approval_id=str(data["approval_id"]),
            state=str(data.get("state", "")),
            action=str(data.get("action", "")),
            sandbox_id=data.get("sandbox_id"),
            action_digest=str(data.get("action_digest", "")),
            requester=dict(data.get("requester") or {}),
            summary=data.get("summary"),
            policy_ids=list(data.get("policy_ids") or []),
            reasons=list(data.get("reasons") or []),
            created_at=str(data.get("created_at", "")),
            expires_at=str(data.get("expires_at", "")),
            decided_by=data.get("decided_by"),
            decided_at=data.get("decided_at"),
            decision_expires_at=data.get("decision_expires_at"),
            raw=dict(data),
        )


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def utc_time(value: Union[dt.datetime, str]) -> str:
    """An ISO 8601 UTC time as the server takes it (``2026-12-06T10:15:00.000Z``); a naive datetime is taken as UTC."""
    if isinstance(value, str):
        return value
    if not isinstance(value, dt.datetime):
        raise AirlockError(f"expires_at must be a datetime or an ISO 8601 UTC string, got {type(value).__name__}", code="invalid_argument")
    aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.timezone.utc)
    return aware.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def decision_signing_text(*, approval_id: str, action_digest: str, decision: str, nonce: str, expires_at: str) -> str:
    """The exact text an approver signs: RFC 8785 canonical JSON of the five fields. Every value is a
    string, so the canonical form is the members in code-unit order with JSON's string escaping
    (non-ASCII characters as they are)."""
    members = {"action_digest": action_digest, "approval_id": approval_id, "decision": decision, "expires_at": expires_at, "nonce": nonce}
    for name, value in members.items():
        if not isinstance(value, str):
            raise AirlockError(f"{name} must be a string", code="invalid_argument")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            # RFC 8785 §3.2.2.2: a lone surrogate has no canonical form.
            raise AirlockError(f"{name} must be a well-formed string", code="invalid_argument") from None
    return json.dumps(members, ensure_ascii=False, separators=(",", ":"))


def sign_approval_decision(
    key: SigningKey,
    *,
    approval_id: str,
    action_digest: str,
    decision: str,
    expires_at: Union[dt.datetime, str],
    nonce: Optional[str] = None,
) -> Dict[str, str]:
    """Signs an approver's decision (``approve`` or ``deny``) with its key (``load_signing_key``); the
    result goes to ``Client.decide_approval``. ``expires_at``: when the decision becomes void, at most
    the approval's own expiry. ``nonce``: default 16 random bytes, base64url."""
    if decision not in ("approve", "deny"):
        raise AirlockError(f'decision must be "approve" or "deny", got {decision!r}', code="invalid_argument")
    when = utc_time(expires_at)
    chosen_nonce = nonce if nonce is not None else _b64url(secrets.token_bytes(16))
    text = decision_signing_text(approval_id=approval_id, action_digest=action_digest, decision=decision, nonce=chosen_nonce, expires_at=when)
    return {"decision": decision, "action_digest": action_digest, "nonce": chosen_nonce, "expires_at": when, "key_id": key.key_id, "signature": _b64url(key.sign(text.encode("utf-8")))}


def not_approved(approval: ApprovalInfo) -> ApprovalRefusedError:
    """The typed error for an approval that ended without being approved (or was already used)."""
    ident = approval.approval_id
    if approval.state == "denied":
        by = "" if approval.decided_by is None else f" by {approval.decided_by}"
        return ApprovalDeniedError(f"approval {ident} was denied{by}; the request was not run", code="approval_denied")
    if approval.state == "expired":
        return ApprovalExpiredError(f"approval {ident} expired at {approval.expires_at} before it was approved and used; the request was not run", code="approval_expired")
    return ApprovalRefusedError(f"approval {ident} is {approval.state}: it was already used by an earlier request", code="approval_reused")
