"""Pieces checked without a server: NDJSON framing (exec and one-shot streams), Retry-After, where a client connects, error
mapping, and signatures (checked with the public key, as the server's verifier does)."""

from __future__ import annotations

import base64
import email.utils
import hashlib
import json
import os
import re
import time
from pathlib import Path

import pytest

import airlock
from airlock.errors import error_from_response, parse_retry_after
from airlock.command_result import OutputCollector
from airlock.ndjson import RESULT, ExitFrame, FrameReader, OutputChunk, ResultFrame


def _line(value: object) -> bytes:
    return json.dumps(value).encode() + b"\n"


def test_frames_split_across_chunks() -> None:
    stream = _line({"type": "stdout", "data": "héllo\n", "encoding": "utf8"}) + _line({"type": "stderr", "data": base64.b64encode(b"\xff\x00").decode(), "encoding": "base64"})
    stream += _line({"type": "future", "x": 1}) + _line({"type": "exit", "exit_code": 0, "signal": None, "termination_reason": "completed", "duration_ms": 5})
    reader = FrameReader()
    frames = []
    for i in range(0, len(stream), 7):
        frames += reader.feed(stream[i : i + 7])
    frames += reader.end()
    assert frames[:2] == [OutputChunk("stdout", "héllo\n".encode()), OutputChunk("stderr", b"\xff\x00")]
    assert isinstance(frames[2], ExitFrame) and frames[2].exit_code == 0 and len(frames) == 3


def test_stream_without_exit_or_with_error_frame() -> None:
    reader = FrameReader()
    reader.feed(_line({"type": "stdout", "data": "x", "encoding": "utf8"}) + b'{"type": "ex')
    with pytest.raises(airlock.AirlockError) as cut:
        reader.end()
    assert cut.value.code == "stream_ended"
    with pytest.raises(airlock.AirlockError) as no_exit:
        FrameReader().end()
    assert no_exit.value.code == "stream_ended"
    with pytest.raises(airlock.SandboxNotRunningError) as failed:
        FrameReader().feed(_line({"type": "error", "error": {"code": "sandbox_not_running", "message": "ended", "request_id": "r1"}}))
    assert failed.value.request_id == "r1"
    with pytest.raises(airlock.AirlockError) as garbage:
        FrameReader().feed(b"not json\n")
    assert garbage.value.code == "invalid_response"


RESULT_LINE = {"type": "result", "execution_id": "exec-1", "success": True, "output": "hi", "error": "", "exit_code": 0, "termination_reason": "completed", "receipt": {"record": {"kind": "execution.finished"}}}


def test_one_shot_frames_output_then_the_result() -> None:
    stream = _line({"type": "stdout", "data": "hi\n", "encoding": "utf8"}) + _line({"type": "exit", "exit_code": 3, "signal": None, "termination_reason": "completed"})
    stream += _line(RESULT_LINE) + _line({"type": "stdout", "data": "after", "encoding": "utf8"})
    reader = FrameReader(closing=RESULT)
    frames = []
    for i in range(0, len(stream), 5):
        frames += reader.feed(stream[i : i + 5])
    frames += reader.end()
    # An exit frame is not this stream's closing frame: skipped like any unknown type; nothing after the result is read.
    assert len(frames) == 2 and frames[0] == OutputChunk("stdout", b"hi\n"), frames
    assert isinstance(frames[1], ResultFrame) and reader.final is frames[1] and reader.exit is None
    result = frames[1].result
    assert (result.execution_id, result.success, result.stdout, result.exit_code, result.termination_reason) == ("exec-1", True, "hi", 0, "completed")
    assert result.receipt == {"record": {"kind": "execution.finished"}} and "type" not in result.raw, "raw is the plain answer"
    last = FrameReader(closing=RESULT)
    assert last.feed(json.dumps(RESULT_LINE).encode()) == [], "a line without its newline waits for the end"
    assert [f.result.execution_id for f in last.end() if isinstance(f, ResultFrame)] == ["exec-1"]


def test_one_shot_stream_without_its_result_or_with_a_malformed_one() -> None:
    reader = FrameReader(closing=RESULT)
    reader.feed(_line({"type": "stdout", "data": "x", "encoding": "utf8"}) + _line({"type": "exit", "exit_code": 0, "signal": None, "termination_reason": "completed"}))
    with pytest.raises(airlock.AirlockError) as ended:
        reader.end()
    assert (ended.value.code, str(ended.value)) == ("stream_ended", "the execution stream ended without a result frame (connection lost or server stopped)")
    with pytest.raises(airlock.AirlockError) as exec_ended:
        FrameReader().end()
    assert str(exec_ended.value) == "the exec stream ended without an exit frame (connection lost or server stopped)"
    for broken in ({"execution_id": 7}, {"success": "yes"}, {"termination_reason": None}):
        with pytest.raises(airlock.AirlockError) as malformed:
            FrameReader(closing=RESULT).feed(_line({**RESULT_LINE, **broken}))
        assert (malformed.value.code, str(malformed.value)) == ("invalid_response", "malformed result frame"), broken
    with pytest.raises(airlock.ServiceUnavailableError) as failed:
        FrameReader(closing=RESULT).feed(_line({"type": "error", "error": {"code": "shutting_down", "message": "stopping", "request_id": "r2"}}))
    assert (failed.value.code, failed.value.request_id, str(failed.value)) == ("shutting_down", "r2", "stopping")


def test_a_character_split_across_chunks_reaches_a_listener_whole() -> None:
    output = OutputCollector()
    assert output.add(OutputChunk("stdout", b"a\xc3")) == "a"
    assert output.add(OutputChunk("stderr", b"\xa9")) == "\ufffd", "streams are decoded apart"
    assert output.add(OutputChunk("stdout", b"\xa9\n")) == "\u00e9\n"
    assert output.add(OutputChunk("stdout", b"\xe2\x82")) == "" and output.flush("stdout") == "\ufffd"
    assert output.stdout == "a\u00e9\n\ufffd"


def test_retry_after_and_error_mapping() -> None:
    assert parse_retry_after("3") == 3.0 and parse_retry_after(None) is None and parse_retry_after("soon") is None
    later = email.utils.formatdate(time.time() + 5, usegmt=True)
    assert 3 <= (parse_retry_after(later) or 0) <= 6
    limited = error_from_response(429, "Too Many Requests", {"retry-after": "2"}, b'{"error":{"code":"capacity_exceeded","message":"full","request_id":"q"}}')
    assert isinstance(limited, airlock.RateLimitError) and limited.retry_after == 2.0 and limited.request_id == "q"
    page = error_from_response(502, "Bad Gateway", {"x-request-id": "z"}, b"<html>\n  upstream down </html>")
    assert (type(page), page.code, str(page)) == (airlock.AirlockError, "http_502", "HTTP 502 Bad Gateway: <html> upstream down </html>")
    unknown = error_from_response(400, "", {}, b'{"error":{"code":"something_new","message":"m"}}')
    assert isinstance(unknown, airlock.InvalidRequestError)


def test_where_a_client_connects(tmp_path: Path) -> None:
    resolve = airlock.resolve_connection
    assert resolve(env={"AIRLOCK_URL": "unix:///run/x.sock"}).socket_path == "/run/x.sock"
    assert resolve(env={"AIRLOCK_URL": "unix:/run/x.sock"}).base_url == "http://localhost"
    assert resolve("https://airlock.example:8443/", env={"AIRLOCK_URL": "unix:/ignored"}).base_url == "https://airlock.example:8443"
    assert resolve(env={"AIRLOCK_SOCKET": "/run/y.sock"}).socket_path == "/run/y.sock"
    fallback = resolve(env={})
    assert fallback.base_url in (airlock.DEFAULT_URL, "http://localhost")
    for bad in ("unix:relative.sock", "ftp://x", "127.0.0.1:8002"):
        with pytest.raises(airlock.AirlockError) as caught:
            resolve(bad, env={})
        assert caught.value.code == "invalid_argument"
    with pytest.raises(airlock.AirlockError) as missing_key:
        resolve(env={"AIRLOCK_URL": "http://127.0.0.1:1", "AIRLOCK_KEY": str(tmp_path / "none")})
    assert str(missing_key.value).startswith("AIRLOCK_KEY: private key")


def test_signature_verifies_with_the_public_key(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    private = Ed25519PrivateKey.generate()
    path = tmp_path / "k"
    path.write_bytes(private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    os.chmod(path, 0o600)
    key = airlock.load_signing_key(str(path))
    raw = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    thumbprint = '{"crv":"Ed25519","kty":"OKP","x":"' + base64.urlsafe_b64encode(raw).decode().rstrip("=") + '"}'
    assert key.key_id == base64.urlsafe_b64encode(hashlib.sha256(thumbprint.encode()).digest()).decode().rstrip("="), "RFC 7638 thumbprint"
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", key.key_id)
    headers = airlock.signed_headers(key, "PUT", "http://localhost/api/v1/sandboxes/s-1/files?path=%2Ftmp%2Fa", b"body", created=1700000000, nonce="n0nce")
    assert headers["content-digest"] == "sha-256=:" + base64.b64encode(hashlib.sha256(b"body").digest()).decode() + ":"
    params = '("@method" "@target-uri" "content-digest");created=1700000000;nonce="n0nce";keyid="' + key.key_id + '";alg="ed25519"'
    assert headers["signature-input"] == f"sig1={params}"
    base = f'"@method": PUT\n"@target-uri": http://localhost/api/v1/sandboxes/s-1/files?path=%2Ftmp%2Fa\n"content-digest": {headers["content-digest"]}\n"@signature-params": {params}'
    signature = base64.b64decode(headers["signature"][len("sig1=:") : -1])
    private.public_key().verify(signature, base.encode())
    assert "content-digest" not in airlock.signed_headers(key, "GET", "http://localhost/health")


def test_watch_changes_between_listings() -> None:
    from airlock.watch import changes

    def entry(name: str, type_: str = "file", size: int = 1, mode: int = 0o644, modified: str = "t1") -> airlock.FileEntry:
        return airlock.FileEntry(name=name, path=f"/w/{name}", type=type_, size=size, mode=mode, modified_at=modified)

    before = {e.name: e for e in [entry("same"), entry("grown"), entry("touched"), entry("chmodded"), entry("gone"), entry("retyped")]}
    after = {e.name: e for e in [entry("same"), entry("grown", size=2), entry("touched", modified="t2"), entry("chmodded", mode=0o600), entry("retyped", type_="dir"), entry("new")]}
    got = [(e.name, e.type.value) for e in changes(before, after)]
    assert got == [("grown", "write"), ("touched", "write"), ("chmodded", "chmod"), ("retyped", "remove"), ("retyped", "create"), ("new", "create"), ("gone", "remove")]


def test_create_body_options() -> None:
    from airlock.endpoints import create_body

    body = create_body("python", timeout=60, idle_timeout=30, envs={"A": "1"}, allow_internet_access=True, fields={"limits": {"memory_limit_mb": 64}})
    assert body == {"image": "python", "ttl_seconds": 60, "idle_timeout_seconds": 30, "environment": {"A": "1"}, "network_policy": "full", "limits": {"memory_limit_mb": 64}}
    assert create_body(None, allow_internet_access=False)["network_policy"] == "none"
    for kwargs in ({"idle_timeout": 1.5}, {"idle_timeout": True}, {"timeout": -1}, {"fields": {"auto_pause": True}}, {"allow_internet_access": "yes"}):
        with pytest.raises(airlock.AirlockError) as refused:
            create_body(None, **kwargs)  # type: ignore[arg-type]
        assert refused.value.code == "invalid_argument"


def test_write_entries_refuse_what_they_would_ignore() -> None:
    from airlock.file_ops import write_entries

    assert write_entries([{"path": "/a", "data": "x"}], None, None) == [("/a", "x")]
    for entries, data, mode in (([{"path": "/a", "data": "x"}], "y", None), ([{"path": "/a", "data": "x", "mode": 1}], None, None), ([{"path": "rel", "data": "x"}], None, None), ("notalist", None, None)):
        with pytest.raises(airlock.InvalidRequestError):
            write_entries(entries, data, mode)


def test_decision_signing_text_is_canonical() -> None:
    import datetime as dt

    from airlock.approvals import utc_time

    text = airlock.decision_signing_text(approval_id="apr_1", action_digest="sha256:ab", decision="approve", nonce='é"\n\x01', expires_at="2026-12-06T10:15:00.000Z")
    # Members in code-unit order, no whitespace, JSON escapes for controls and quotes, non-ASCII as is.
    assert text == '{"action_digest":"sha256:ab","approval_id":"apr_1","decision":"approve","expires_at":"2026-12-06T10:15:00.000Z","nonce":"é\\"\\n\\u0001"}'
    with pytest.raises(airlock.AirlockError):
        airlock.decision_signing_text(approval_id="apr_1", action_digest="sha256:ab", decision="approve", nonce="\ud800", expires_at="x")
    assert utc_time(dt.datetime(2026, 12, 6, 11, 15, tzinfo=dt.timezone(dt.timedelta(hours=1)))) == "2026-12-06T10:15:00.000Z"


def test_async_watch_ends_once_whatever_ends_it() -> None:
    import asyncio

    from airlock.watch import AsyncWatchHandle

    def entry(name: str) -> airlock.FileEntry:
        return airlock.FileEntry(name=name, path=f"/w/{name}", type="file", size=1, mode=0o644, modified_at="t")

    async def main() -> None:
        listings = [[], [entry("a")]]

        async def list_folder() -> "list[airlock.FileEntry]":
            if not listings:
                raise airlock.SandboxNotRunningError("ended", code="sandbox_not_running")
            return listings.pop(0)

        events: list = []
        exits: list = []
        failing = AsyncWatchHandle(list_folder, events.append, on_exit=exits.append, timeout=0, interval=0.1)
        await failing.start()
        await asyncio.sleep(0.5)
        assert [(e.name, e.type.value) for e in events] == [("a", "create")]
        assert len(exits) == 1 and isinstance(exits[0], airlock.SandboxNotRunningError), exits
        await failing.stop()
        assert len(exits) == 1, "on_exit is called once"
        quick: list = []
        at_once = AsyncWatchHandle(lambda: asyncio.sleep(0, result=[]), events.append, on_exit=quick.append, timeout=0, interval=0.1)
        await at_once.start()
        await at_once.stop()
        assert quick == [None], "stopped before its first poll: on_exit still called"
        timed: list = []
        short = AsyncWatchHandle(lambda: asyncio.sleep(0, result=[]), events.append, on_exit=timed.append, timeout=0.2, interval=0.1)
        await short.start()
        await asyncio.sleep(0.5)
        assert timed == [None], "the timeout ended it"

    asyncio.run(main())
