"""The operator's calls through the SDK, on the unix socket where root is the operator: revoking an
agent ends what it runs and refuses its requests until lifted; a forensic capture of a sandbox."""

from __future__ import annotations

import pytest

import airlock

AGENT = "py-sdk-revoked"


def test_revoke_and_unrevoke_an_agent(runtime: str) -> None:
    with airlock.Client() as client:
        sandbox = airlock.Sandbox.create(client=client, runtime=runtime, agent_id=AGENT)
        try:
            assert sandbox.get_info().owner == AGENT
            revoked = client.revoke_agent(AGENT, "python SDK test")
            assert revoked["created"] is True and revoked["sandboxes_ended"] == [sandbox.sandbox_id]
            info = sandbox.get_info()
            assert (info.state, info.end_reason) == ("ended", "revoked")
            assert [r["agent_id"] for r in client.list_revocations()] == [AGENT]
            assert client.revoke_agent(AGENT, "again")["created"] is False, "the first revocation stands"
            with pytest.raises(airlock.AirlockError) as refused:
                client.execute("print(1)", agent_id=AGENT, runtime=runtime)
            assert refused.value.status == 403, refused.value
            exported = client.export_revocations()
            assert [r["agent_id"] for r in exported["list"]["revocations"]] == [AGENT] and exported["signature"] != ""
        finally:
            client.unrevoke_agent(AGENT)
            sandbox.close()
        assert client.list_revocations() == []
        assert client.execute("print(2)", agent_id=AGENT, runtime=runtime).stdout == "2"


def test_forensic_capture(runtime: str) -> None:
    with airlock.Sandbox.create(runtime=runtime) as sandbox:
        sandbox.files.write("/tmp/evidence.txt", "look here")
        with airlock.Client() as client:
            capture = client.capture_forensics(sandbox.sandbox_id)
        assert capture["sandbox_id"] == sandbox.sandbox_id and capture["entries"] >= 2 and capture["bytes"] > 0, capture
        assert capture["path"].endswith(".zip") and capture["after"] in ("kill", "resume")
        assert sandbox.is_running() == (capture["after"] == "resume")
