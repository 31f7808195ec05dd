"""``run`` / ``arun``: one command or snippet in a fresh sandbox that is destroyed afterwards
(``POST /api/v1/sandbox/execute``), without managing a client."""

from __future__ import annotations

from typing import Any, Optional

from .async_client import AsyncClient
from .client import Client
from .connection import KeySource
from .endpoints import Command
from .types import ExecuteResult


def run(code: Optional[str] = None, *, agent_id: str, command: Optional[Command] = None, url: Optional[str] = None, key: KeySource = None, **options: Any) -> ExecuteResult:
    """Runs ``code`` (``language``, default python) or ``command`` once and returns the result; a failed
    command is a result with ``success`` False. ``options`` are ``Client.execute``'s (``runtime``,
    ``timeout``, ``envs``, ``memory_limit_mb``, ``network_policy``, ...)."""
    with Client(url, key) as client:
        return client.execute(code, agent_id=agent_id, command=command, **options)


async def arun(code: Optional[str] = None, *, agent_id: str, command: Optional[Command] = None, url: Optional[str] = None, key: KeySource = None, **options: Any) -> ExecuteResult:
    """``run`` for asyncio."""
    async with AsyncClient(url, key) as client:
        return await client.execute(code, agent_id=agent_id, command=command, **options)
