"""The synchronous transport: sends with httpx, retries 429 answers (bounded, after Retry-After),
and turns every failure into a typed error."""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Any, Iterator

import httpx

from .connection import Connection
from .http_request import HttpRequest, answer_error, build, failure, parse_json, rate_limited, retry_delay


class Transport:
    """Sends requests to one server over one pooled httpx client. Safe to share between threads."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        transport = httpx.HTTPTransport(uds=connection.socket_path) if connection.socket_path is not None else None
        # Why trust_env off: a proxy from the environment must not see (or reroute) control-plane calls;
        # the CA bundle is the connection's (SSL_CERT_FILE is read there).
        self._client = httpx.Client(transport=transport, trust_env=False, verify=connection.verify)

    def close(self) -> None:
        """Closes the pooled connections."""
        self._client.close()

    @contextmanager
    def open(self, req: HttpRequest) -> Iterator[httpx.Response]:
        """Sends ``req`` and yields the 2xx response with its body unread (a stream); raises the typed
        error of any other answer. A 429 is retried up to ``max_retries`` times."""
        attempt = 0
        while True:
            try:
                response = self._client.send(build(self._client, self.connection, req), stream=True)
            except Exception as err:  # noqa: BLE001 - every failure becomes a typed error
                raise failure(req, self.connection, err) from err
            try:
                delay = retry_delay(self.connection, response, attempt)
                if delay is not None:
                    response.close()
                    attempt += 1
                    time.sleep(delay)
                    continue
                if not response.is_success or response.status_code == 202:
                    error = answer_error(req, response, self._read(req, response))
                    if error is not None:
                        raise rate_limited(error, attempt + 1)
                yield response
                return
            finally:
                response.close()

    def _read(self, req: HttpRequest, response: httpx.Response) -> bytes:
        try:
            return response.read()
        except Exception as err:  # noqa: BLE001
            raise failure(req, self.connection, err) from err

    def bytes(self, req: HttpRequest) -> bytes:
        """Sends ``req`` and returns the body of its 2xx answer."""
        with self.open(req) as response:
            return self._read(req, response)

    def json(self, req: HttpRequest) -> Any:
        """Sends ``req`` and returns the JSON of its 2xx answer."""
        return parse_json(req, self.bytes(req))

    def iter_chunks(self, req: HttpRequest, response: httpx.Response) -> Iterator[bytes]:
        """The body of a streamed answer, chunk by chunk; a broken connection is a typed error."""
        try:
            yield from response.iter_bytes()
        except Exception as err:  # noqa: BLE001
            raise failure(req, self.connection, err) from err


