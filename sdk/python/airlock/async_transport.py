"""The asyncio transport: the same rules as ``transport.Transport`` (retry, signing, typed errors)
over ``httpx.AsyncClient``."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

import httpx

from .connection import Connection
from .http_request import HttpRequest, answer_error, build, failure, parse_json, rate_limited, retry_delay


class AsyncTransport:
    """Sends requests to one server over one pooled ``httpx.AsyncClient``."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        transport = httpx.AsyncHTTPTransport(uds=connection.socket_path) if connection.socket_path is not None else None
        # Why trust_env off: a proxy from the environment must not see (or reroute) control-plane calls;
        # the CA bundle is the connection's (SSL_CERT_FILE is read there).
        self._client = httpx.AsyncClient(transport=transport, trust_env=False, verify=connection.verify)

    async def aclose(self) -> None:
        """Closes the pooled connections."""
        await self._client.aclose()

    @asynccontextmanager
    async def open(self, req: HttpRequest) -> AsyncIterator[httpx.Response]:
        """Sends ``req`` and yields the 2xx response with its body unread; raises the typed error of
        any other answer. A 429 is retried up to ``max_retries`` times."""
        attempt = 0
        while True:
            try:
                response = await self._client.send(build(self._client, self.connection, req), stream=True)
            except Exception as err:  # noqa: BLE001 - every failure becomes a typed error
                raise failure(req, self.connection, err) from err
            try:
                delay = retry_delay(self.connection, response, attempt)
                if delay is not None:
                    await response.aclose()
                    attempt += 1
                    await asyncio.sleep(delay)
                    continue
                if not response.is_success or response.status_code == 202:
                    error = answer_error(req, response, await self._read(req, response))
                    if error is not None:
                        raise rate_limited(error, attempt + 1)
                yield response
                return
            finally:
                await response.aclose()

    async def _read(self, req: HttpRequest, response: httpx.Response) -> bytes:
        try:
            return await response.aread()
        except Exception as err:  # noqa: BLE001
            raise failure(req, self.connection, err) from err

    async def bytes(self, req: HttpRequest) -> bytes:
        """Sends ``req`` and returns the body of its 2xx answer."""
        async with self.open(req) as response:
            return await self._read(req, response)

    async def json(self, req: HttpRequest) -> Any:
        """Sends ``req`` and returns the JSON of its 2xx answer."""
        return parse_json(req, await self.bytes(req))

    async def iter_chunks(self, req: HttpRequest, response: httpx.Response) -> AsyncIterator[bytes]:
        """The body of a streamed answer, chunk by chunk; a broken connection is a typed error."""
        try:
            async for chunk in response.aiter_bytes():
                yield chunk
        except Exception as err:  # noqa: BLE001
            raise failure(req, self.connection, err) from err
