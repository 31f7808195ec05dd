"""``with_approval``: runs a call that policy may send to a human and, when it does, tells the app
(so it can notify an approver), waits for the decision and runs the call again on the approval."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Optional, TypeVar

from .approvals import not_approved
from .errors import ApprovalRequiredError

if TYPE_CHECKING:
    from .async_client import AsyncClient
    from .client import Client

T = TypeVar("T")


def with_approval(
    client: "Client",
    fn: Callable[[Optional[str]], T],
    *,
    on_pending: Optional[Callable[[ApprovalRequiredError], Any]] = None,
    poll_interval: float = 1.0,
    timeout: Optional[float] = None,
) -> T:
    """Runs ``fn(None)``. When it raises ``ApprovalRequiredError``, calls ``on_pending`` with it (notify
    a human there), waits with ``client`` (which must be able to read the approval: the requester's
    own client is) until an approver decides, and, when approved, returns ``fn(approval_id)``: ``fn``
    must make exactly the same call with ``approval_id=``, or the server refuses it
    (``approval_digest_mismatch``). Denied: ``ApprovalDeniedError``; expired:
    ``ApprovalExpiredError``; any other error of ``fn`` passes through. One approval per call.

    ``with_approval(client, lambda approval_id: Sandbox.create(client=client, network_policy="full", approval_id=approval_id))``
    """
    try:
        return fn(None)
    except ApprovalRequiredError as pending:
        if on_pending is not None:
            on_pending(pending)
        decided = client.wait_for_approval(pending.approval_id, poll_interval=poll_interval, timeout=timeout)
        # Why only `approved` runs: a denied, expired or used approval never lets the call through.
        if decided.state != "approved":
            raise not_approved(decided) from pending
        return fn(pending.approval_id)


async def awith_approval(
    client: "AsyncClient",
    fn: Callable[[Optional[str]], Awaitable[T]],
    *,
    on_pending: Optional[Callable[[ApprovalRequiredError], Any]] = None,
    poll_interval: float = 1.0,
    timeout: Optional[float] = None,
) -> T:
    """``with_approval`` for asyncio: ``fn`` returns an awaitable; ``on_pending`` may be a coroutine function."""
    try:
        return await fn(None)
    except ApprovalRequiredError as pending:
        if on_pending is not None:
            returned = on_pending(pending)
            if inspect.isawaitable(returned):
                await returned
        decided = await client.wait_for_approval(pending.approval_id, poll_interval=poll_interval, timeout=timeout)
        if decided.state != "approved":
            raise not_approved(decided) from pending
        return await fn(pending.approval_id)
