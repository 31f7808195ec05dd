"""Typed errors from the real server: bad input, unknown ids, an unreachable server, capacity (429)
with Retry-After and the client's bounded retries."""

from __future__ import annotations

import threading
import time
from typing import List

import pytest

import airlock


def test_bad_input_is_a_typed_4xx(server_url: str) -> None:
    with pytest.raises(airlock.InvalidRequestError) as caught:
        airlock.Sandbox.create(limits={"memory_limit_mb": -5})
    assert caught.value.status == 400 and caught.value.code == "invalid_request"
    assert "memory_limit_mb" in str(caught.value)
    assert caught.value.request_id, "the server's request id comes with the error"
    with pytest.raises(airlock.InvalidRequestError) as unknown:
        airlock.Sandbox.create(no_such_field=True)
    assert "no_such_field" in str(unknown.value)
    with pytest.raises(airlock.SandboxNotFoundError) as missing:
        airlock.Sandbox.connect("s-00000000-0000-4000-8000-000000000000")
    assert missing.value.status == 404
    with pytest.raises(airlock.AirlockError) as local:
        airlock.Sandbox.connect("")
    assert local.value.code == "invalid_argument" and local.value.status is None


def test_network_errors_name_the_server_and_the_cause(tmp_path: object) -> None:
    with airlock.Client(url=f"unix://{tmp_path}/absent.sock") as client:
        with pytest.raises(airlock.NetworkError) as caught:
            client.health()
    message = str(caught.value)
    assert f"unix socket {tmp_path}/absent.sock" in message and "No such file or directory" in message, message
    with airlock.Client(url="http://127.0.0.1:9") as client:
        with pytest.raises(airlock.NetworkError) as refused:
            client.health()
    assert "http://127.0.0.1:9" in str(refused.value) and "refused" in str(refused.value).lower(), str(refused.value)
    with pytest.raises(airlock.AirlockError) as bad_url:
        airlock.Client(url="ftp://example.com")
    assert bad_url.value.code == "invalid_argument"


def _fill(client: airlock.Client, count: int) -> List[airlock.SandboxInfo]:
    return [client.create_sandbox({"ttl_seconds": 120}) for _ in range(count)]


def test_capacity_429_carries_retry_after_and_is_retried(server_url: str) -> None:
    import os

    capacity = int(os.environ["AIRLOCK_TEST_MAX_SANDBOXES"])
    with airlock.Client() as client:
        filled = _fill(client, capacity - int(client.health()["active_sandboxes"]))
        try:
            with airlock.Client(max_retries=0) as impatient:
                with pytest.raises(airlock.RateLimitError) as caught:
                    impatient.create_sandbox({})
            assert (caught.value.status, caught.value.code, caught.value.retry_after) == (429, "capacity_exceeded", 1.0)
            started = time.monotonic()
            with airlock.Client(max_retries=1) as brief:
                with pytest.raises(airlock.RateLimitError) as gave_up:
                    brief.create_sandbox({})
            assert time.monotonic() - started >= 0.9, "waited Retry-After before the one retry"
            assert "after 2 attempts" in str(gave_up.value)
            # A slot frees while the client waits out Retry-After: the retry gets it.
            freeing = threading.Timer(1.5, lambda: client.kill_sandbox(filled.pop().sandbox_id))
            freeing.start()
            started = time.monotonic()
            with airlock.Client(max_retries=5) as patient:
                got = patient.create_sandbox({"ttl_seconds": 60})
            freeing.join()
            filled.append(got)
            assert got.state == "running" and time.monotonic() - started >= 1.0
        finally:
            for info in filled:
                client.kill_sandbox(info.sandbox_id)
