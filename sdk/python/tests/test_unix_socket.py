"""The unix socket: ``unix:///path`` and ``unix:/path`` in AIRLOCK_URL or ``url``; the caller is its uid."""

from __future__ import annotations

import pytest

import airlock


def test_unix_socket_forms(server_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    path = server_url[len("unix://"):]
    assert path.startswith("/")
    for url in (f"unix://{path}", f"unix:{path}"):
        with airlock.Client(url=url) as client:
            assert client.connection.socket_path == path
            health = client.health()
            assert health["status"] in ("healthy", "degraded") and health["authentication"]["unix_socket"] is True
    monkeypatch.delenv("AIRLOCK_URL")
    monkeypatch.setenv("AIRLOCK_SOCKET", path)
    with airlock.Client() as client:
        assert client.connection.source == "AIRLOCK_SOCKET"
        # Root on the socket is the operator: it sees every sandbox, an agent's too.
        sandbox = airlock.Sandbox.create(client=client, agent_id="someone-else")
        try:
            assert sandbox.get_info().owner == "someone-else"
        finally:
            sandbox.kill()
