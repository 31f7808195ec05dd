"""Signed requests (RFC 9421, Ed25519) over TCP, where the server requires them: the principal
registered with the key acts; unsigned, unknown-key and careless-key requests are refused."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import airlock


def test_unsigned_tcp_is_refused(tcp_url: str) -> None:
    with airlock.Client(url=tcp_url) as client:
        with pytest.raises(airlock.AirlockError) as caught:
            client.list_sandboxes()
    assert (caught.value.status, caught.value.code) == (401, "authentication_required")


def test_signed_requests_from_airlock_key(tcp_url: str, key_path: str, agent: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRLOCK_URL", tcp_url)
    monkeypatch.setenv("AIRLOCK_KEY", key_path)
    with airlock.Sandbox.create() as sandbox:
        assert sandbox.client.connection.signer is not None
        info = sandbox.get_info()
        assert info.owner == agent, "the key's principal owns what it creates"
        # A JSON body, a streamed exec, raw bytes and a query string: each verified by the server.
        assert sandbox.commands.run("echo signed").stdout == "signed\n"
        sandbox.files.write("/tmp/signed dir?.bin", b"\x00\x01 signed")
        assert sandbox.files.read("/tmp/signed dir?.bin", format="bytes") == b"\x00\x01 signed"
        running = [s for s in airlock.Sandbox.list() if s.state == "running"]
        assert [(s.sandbox_id, s.owner) for s in running] == [(sandbox.sandbox_id, agent)], "an agent lists only its own"
    result = airlock.run(command="echo one-shot", agent_id=agent)
    assert result.success and result.stdout == "one-shot"


def test_signed_async(tcp_url: str, key_path: str, agent: str) -> None:
    async def main() -> None:
        async with airlock.AsyncClient(url=tcp_url, key=key_path) as client:
            sandbox = await airlock.AsyncSandbox.create(client=client)
            try:
                assert (await sandbox.commands.run(["echo", "async-signed"])).stdout == "async-signed\n"
                assert (await sandbox.get_info()).owner == agent
            finally:
                await sandbox.kill()

    asyncio.run(main())


def test_approval_required_then_approved_once(tcp_url: str, key_path: str) -> None:
    # The default policies send an agent's `full` network to an approver: nothing starts.
    with pytest.raises(airlock.ApprovalRequiredError) as caught:
        airlock.Sandbox.create(network_policy="full", url=tcp_url, key=key_path)
    assert caught.value.approval_id.startswith("apr_") and caught.value.status == 202
    assert caught.value.action_digest.startswith("sha256:")
    assert caught.value.approval_id in str(caught.value)
    with airlock.Client(url=tcp_url, key=key_path) as client:
        assert [s for s in client.list_sandboxes() if s.state == "running"] == [], "nothing started"
    # An approver signs the decision (the CLI, with its own key); the same create with the approval runs once.
    cli = os.environ["AIRLOCK_TEST_CLI"].split(" ")
    approved = subprocess.run([*cli, "approvals", "approve", caught.value.approval_id, "--yes", "--url", tcp_url, "--key", os.environ["AIRLOCK_TEST_APPROVER_KEY"]], capture_output=True, text=True, timeout=60)
    assert approved.returncode == 0, approved.stdout + approved.stderr
    with pytest.raises(airlock.ApprovalRefusedError) as changed:
        airlock.Sandbox.create(network_policy="full", metadata={"changed": "yes"}, approval_id=caught.value.approval_id, url=tcp_url, key=key_path)
    assert changed.value.code == "approval_digest_mismatch"
    with airlock.Sandbox.create(network_policy="full", approval_id=caught.value.approval_id, url=tcp_url, key=key_path) as sandbox:
        assert sandbox.get_info().network_policy == "full"
    with pytest.raises(airlock.ApprovalRefusedError) as reused:
        airlock.Sandbox.create(network_policy="full", approval_id=caught.value.approval_id, url=tcp_url, key=key_path)
    assert reused.value.code == "approval_reused"


def test_key_problems_are_refused(tcp_url: str, key_path: str, tmp_path: Path) -> None:
    loose = tmp_path / "loose.key"
    shutil.copyfile(key_path, loose)
    os.chmod(loose, 0o644)
    with pytest.raises(airlock.AirlockError) as careless:
        airlock.Client(url=tcp_url, key=str(loose))
    assert "accessible by group or others" in str(careless.value) and str(loose) in str(careless.value)
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    stranger = tmp_path / "stranger.key"
    stranger.write_bytes(Ed25519PrivateKey.generate().private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    os.chmod(stranger, 0o600)
    with airlock.Client(url=tcp_url, key=str(stranger)) as client:
        with pytest.raises(airlock.AirlockError) as unknown:
            client.list_sandboxes()
    assert unknown.value.status == 401 and unknown.value.code == "key_unknown", unknown.value


def test_https_is_verified(tcp_url: str, key_path: str) -> None:
    if not tcp_url.startswith("https://"):
        pytest.skip("openssl is not installed: the test server listens on plain HTTP")
    ca = os.environ["SSL_CERT_FILE"]
    with airlock.Client(url=tcp_url, verify=True) as strict:
        with pytest.raises(airlock.NetworkError) as caught:
            strict.health()
    assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value) and tcp_url in str(caught.value), caught.value
    with airlock.Client(url=tcp_url, key=key_path) as from_env:
        assert from_env.connection.verify == ca, "SSL_CERT_FILE names the CA bundle"
        assert from_env.list_sandboxes() is not None, "signed over https: @target-uri carries the https scheme"
    with airlock.Client(url=tcp_url, verify=ca) as pinned:
        assert pinned.health()["status"] in ("healthy", "degraded")


def test_with_approval_decided_by_an_sdk_approver(tcp_url: str, key_path: str, agent: str) -> None:
    # The approver decides with this SDK (its own registered key signs the decision); the agent's
    # with_approval waits for it and repeats the create on the approval.
    approver_key = os.environ["AIRLOCK_TEST_APPROVER_KEY"]
    signing_key = airlock.load_signing_key(approver_key)
    asked = []

    def decide(decision: str) -> "object":
        def on_pending(pending: airlock.ApprovalRequiredError) -> None:
            asked.append(pending.approval_id)
            shown = {a.approval_id: a for a in approver.list_approvals()}
            assert shown[pending.approval_id].state == "pending" and shown[pending.approval_id].action == "create"
            signed = airlock.sign_approval_decision(signing_key, approval_id=pending.approval_id, action_digest=pending.action_digest, decision=decision, expires_at=pending.expires_at)
            decided = approver.decide_approval(pending.approval_id, signed)
            assert decided.state == ("approved" if decision == "approve" else "denied")
            assert decided.decided_by not in (None, agent), "the approver's principal signed it"

        return on_pending

    with airlock.Client(url=tcp_url, key=key_path) as client, airlock.Client(url=tcp_url, key=approver_key) as approver:
        def create(approval_id: "str | None") -> airlock.Sandbox:
            return airlock.Sandbox.create(client=client, network_policy="full", approval_id=approval_id)

        sandbox = airlock.with_approval(client, create, on_pending=decide("approve"), poll_interval=0.2, timeout=30)
        try:
            assert sandbox.get_info().network_policy == "full"
        finally:
            sandbox.kill()
        assert client.get_approval(asked[0]).state == "consumed"
        with pytest.raises(airlock.ApprovalDeniedError) as denied:
            airlock.with_approval(client, create, on_pending=decide("deny"), poll_interval=0.2, timeout=30)
        assert denied.value.code == "approval_denied" and asked[1] in str(denied.value)
        assert [s for s in client.list_sandboxes() if s.state == "running"] == [], "the denied create started nothing"
        with pytest.raises(airlock.AirlockError) as bad:
            airlock.sign_approval_decision(signing_key, approval_id=asked[1], action_digest="sha256:0", decision="maybe", expires_at="2026-01-01T00:00:00.000Z")
        assert bad.value.code == "invalid_argument"
