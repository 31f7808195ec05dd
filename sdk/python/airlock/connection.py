"""Which server a client talks to, and how it signs, as the CLI decides (src/cli/server-connection.ts):
the ``url`` argument, else ``AIRLOCK_URL`` (``unix:/path`` or ``unix:///path`` names a socket), else
``AIRLOCK_SOCKET``, else the controller's default socket when it exists on this host, else
http://127.0.0.1:8002. The ``key`` argument or ``AIRLOCK_KEY`` (an Ed25519 key file) signs every request.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from typing import Dict, Mapping, Optional, Union
from urllib.parse import urlsplit

from .errors import AirlockError
from .signing import SigningKey, load_signing_key

#: The local server ``airlock serve`` listens on over TCP by default.
DEFAULT_URL = "http://127.0.0.1:8002"
#: Where ``airlock serve`` listens locally by default.
DEFAULT_SOCKET_PATH = "/run/airlock/api.sock"
#: Base URL of requests over a socket. Why ``localhost``: the server's Host allowlist accepts the
#: loopback names, and a signed request's ``@target-uri`` is then ``http://localhost/...``.
SOCKET_BASE_URL = "http://localhost"

#: Default deadline of ordinary requests, seconds.
DEFAULT_REQUEST_TIMEOUT = 60.0
#: Default number of retries of a request the server answered 429.
DEFAULT_MAX_RETRIES = 3
#: Longest ``Retry-After`` the client waits out by itself, seconds; a longer one is raised at once.
DEFAULT_MAX_RETRY_WAIT = 30.0

#: A key: a path to a key file, an already loaded key, or None (use ``AIRLOCK_KEY`` when set).
KeySource = Union[str, "os.PathLike[str]", SigningKey, None]


@dataclass(frozen=True)
class Connection:
    """A resolved connection: where requests go, how they are signed, and the retry and deadline rules."""

    #: URL requests are built on: the server's, or ``http://localhost`` over a socket.
    base_url: str
    #: The unix socket requests go through; None over TCP.
    socket_path: Optional[str] = None
    #: Signs every request when set.
    signer: Optional[SigningKey] = None
    #: Headers added to every request (for example an ``authorization`` header of a proxy in front).
    headers: Mapping[str, str] = field(default_factory=dict)
    #: Deadline of ordinary requests, seconds (0: none). Streams are bound by their command's limit instead.
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT
    #: Retries of a request answered 429 (capacity), each after its ``Retry-After``; 0: none.
    max_retries: int = DEFAULT_MAX_RETRIES
    #: Longest ``Retry-After`` waited out; a longer one raises ``RateLimitError`` at once.
    max_retry_wait: float = DEFAULT_MAX_RETRY_WAIT
    #: Where the server choice came from, for messages (``url``, ``AIRLOCK_URL``, the default, ...).
    source: str = "url"
    #: TLS verification of an https server: True (the default CAs), False (none), or a CA bundle file.
    verify: Union[bool, str] = True

    @property
    def target(self) -> str:
        """Where requests go, for messages: the URL, or ``unix socket PATH``."""
        return f"unix socket {self.socket_path}" if self.socket_path is not None else self.base_url


def _non_empty(value: Optional[str]) -> Optional[str]:
    return value if value else None


def _is_socket(path: str) -> bool:
    try:
        return stat.S_ISSOCK(os.stat(path).st_mode)
    except OSError:
        return False


def _from_url(where: str, value: str) -> Dict[str, Optional[str]]:
    if value.startswith("unix:"):
        path = value[len("unix:"):]
        if path.startswith("///"):
            path = path[2:]
        if not path.startswith("/") or "\0" in path:
            raise AirlockError(f'{where}: "{value}" must name an absolute socket path (unix:///run/airlock/api.sock)', code="invalid_argument")
        return {"base_url": SOCKET_BASE_URL, "socket_path": path}
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise AirlockError(f'{where}: "{value}" must be an http(s):// URL or unix:///path/to/socket', code="invalid_argument")
    return {"base_url": value.rstrip("/"), "socket_path": None}


def resolve_connection(
    url: Optional[str] = None,
    key: KeySource = None,
    *,
    headers: Optional[Mapping[str, str]] = None,
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
    max_retries: int = DEFAULT_MAX_RETRIES,
    max_retry_wait: float = DEFAULT_MAX_RETRY_WAIT,
    verify: Union[bool, str, None] = None,
    env: Optional[Mapping[str, str]] = None,
) -> Connection:
    """The connection for these arguments and the environment (see the module's docstring).

    ``verify``: TLS verification of an https server; None: the CA bundle ``SSL_CERT_FILE`` names when
    set (a controller with a private CA), else the default CAs.

    A key that cannot be loaded is an ``AirlockError`` (``invalid_argument``) naming where it came
    from, raised before anything is sent.
    """
    env = os.environ if env is None else env
    if max_retries < 0:
        raise AirlockError(f"max_retries must be 0 or more, got {max_retries}", code="invalid_argument")
    if request_timeout < 0:
        raise AirlockError(f"request_timeout must be 0 (none) or more seconds, got {request_timeout}", code="invalid_argument")
    if url is not None:
        where, server = "url", _from_url("url", url)
    elif _non_empty(env.get("AIRLOCK_URL")):
        where, server = "AIRLOCK_URL", _from_url("AIRLOCK_URL", env["AIRLOCK_URL"])
    elif _non_empty(env.get("AIRLOCK_SOCKET")):
        where, server = "AIRLOCK_SOCKET", _from_url("AIRLOCK_SOCKET", "unix:" + os.path.abspath(env["AIRLOCK_SOCKET"]))
    elif _is_socket(DEFAULT_SOCKET_PATH):
        where, server = "the default socket, present on this host", {"base_url": SOCKET_BASE_URL, "socket_path": DEFAULT_SOCKET_PATH}
    else:
        where, server = f"the default: no socket at {DEFAULT_SOCKET_PATH}", {"base_url": DEFAULT_URL, "socket_path": None}
    signer: Optional[SigningKey]
    if isinstance(key, SigningKey):
        signer = key
    elif key is not None:
        signer = _load_key("key", os.fspath(key))
    elif _non_empty(env.get("AIRLOCK_KEY")):
        signer = _load_key("AIRLOCK_KEY", env["AIRLOCK_KEY"])
    else:
        signer = None
    if verify is None:
        verify = _non_empty(env.get("SSL_CERT_FILE")) or True
    return Connection(
        base_url=str(server["base_url"]),
        socket_path=server["socket_path"],
        signer=signer,
        headers=dict(headers or {}),
        request_timeout=request_timeout,
        max_retries=max_retries,
        max_retry_wait=max_retry_wait,
        source=where,
        verify=verify,
    )


def _load_key(where: str, path: str) -> SigningKey:
    try:
        return load_signing_key(path)
    except AirlockError as err:
        raise AirlockError(f"{where}: {err.message}", code=err.code) from err
