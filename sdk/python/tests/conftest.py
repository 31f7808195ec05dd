"""Fixtures of the SDK's tests: the real server test/sdk/python-sdk.test.ts started (AIRLOCK_URL
names its unix socket; AIRLOCK_TEST_TCP_URL and AIRLOCK_TEST_KEY its signed TCP listener), and the
runtimes to run each sandbox case on. Cases that need no server run anywhere."""

from __future__ import annotations

import os
import sys
from typing import Iterator, List

import pytest

# The source tree, not an installed copy: the packaging case installs the wheel separately.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import airlock  # noqa: E402

RUNTIMES = ["namespace", "gvisor"]


def _needs_server() -> str:
    url = os.environ.get("AIRLOCK_URL", "")
    if not url or not os.environ.get("AIRLOCK_TEST_TCP_URL"):
        pytest.skip("no test server: run through `node --test test/sdk/python-sdk.test.ts`, which starts one")
    return url


@pytest.fixture(scope="session")
def server_url() -> str:
    """AIRLOCK_URL: the server's unix socket, where root is the operator."""
    return _needs_server()


@pytest.fixture(scope="session")
def tcp_url() -> str:
    """The server's loopback TCP listener (every request must be signed)."""
    _needs_server()
    return os.environ["AIRLOCK_TEST_TCP_URL"]


@pytest.fixture(scope="session")
def key_path() -> str:
    """The private key of the registered principal ``AIRLOCK_TEST_AGENT`` (role agent)."""
    _needs_server()
    return os.environ["AIRLOCK_TEST_KEY"]


@pytest.fixture(scope="session")
def agent() -> str:
    """The registered principal's name (its agent id)."""
    _needs_server()
    return os.environ["AIRLOCK_TEST_AGENT"]


@pytest.fixture(scope="session")
def available_runtimes(server_url: str) -> List[str]:
    """What the server says works on its host."""
    with airlock.Client() as client:
        return list(client.health()["runtimes_available"])


@pytest.fixture(params=RUNTIMES)
def runtime(request: pytest.FixtureRequest, available_runtimes: List[str]) -> str:
    """Each runtime the server has; a missing one is skipped, saying so."""
    if request.param not in available_runtimes:
        pytest.skip(f"runtime {request.param} is not available on this server ({', '.join(available_runtimes)})")
    return str(request.param)


@pytest.fixture
def sandbox(runtime: str) -> Iterator[airlock.Sandbox]:
    """A fresh sandbox on ``runtime`` over AIRLOCK_URL, killed afterwards."""
    with airlock.Sandbox.create(runtime=runtime, timeout=300, metadata={"suite": "python-sdk"}) as sb:
        yield sb
