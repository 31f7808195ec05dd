"""The streamed one-shot (``execute_stream``) against the real server, sync and async: output as the
command writes it, then the result ``execute`` would return; a refusal raised before any frame;
closing the stream cancels the run."""

from __future__ import annotations

import asyncio
import time
from typing import List, Tuple

import pytest

import airlock

#: Writes a line, waits, then writes to both streams: output arriving before the end shows it streams.
COMMAND = "echo one; sleep 1; echo two; echo oops >&2"


def _running(client: airlock.Client, execution_id: str) -> bool:
    return any(entry.get("execution_id") == execution_id for entry in client.status()["active_sandboxes"])


async def _running_async(client: airlock.AsyncClient, execution_id: str) -> bool:
    return any(entry.get("execution_id") == execution_id for entry in (await client.status())["active_sandboxes"])


def _check(execution_id: str, arrivals: List[Tuple[object, float]], runtime: str) -> None:
    """Output chunks first, the result last and alone, the first chunk a while before the result."""
    *chunks, (last, ended_at) = arrivals
    assert chunks and all(isinstance(frame, airlock.OutputChunk) for frame, _ in chunks), arrivals
    stdout = b"".join(f.data for f, _ in chunks if isinstance(f, airlock.OutputChunk) and f.stream == "stdout")
    stderr = b"".join(f.data for f, _ in chunks if isinstance(f, airlock.OutputChunk) and f.stream == "stderr")
    assert (stdout, stderr) == (b"one\ntwo\n", b"oops\n")
    assert ended_at - chunks[0][1] >= 0.5, f"the first line came as it was written, not with the result: {arrivals}"
    assert isinstance(last, airlock.ResultFrame), last
    result = last.result
    assert execution_id != "" and result.execution_id == execution_id
    assert (result.success, result.exit_code, result.termination_reason, result.runtime_used) == (True, 0, "completed", runtime)
    assert (result.stdout, result.stderr) == ("one\ntwo", "oops\n")
    assert result.receipt is not None and result.receipt["record"]["kind"] == "execution.finished"


def test_execute_stream(runtime: str) -> None:
    with airlock.Client() as client:
        arrivals: List[Tuple[object, float]] = []
        with client.execute_stream(command=COMMAND, agent_id="root", runtime=runtime, timeout=30) as stream:
            for frame in stream.frames:
                arrivals.append((frame, time.monotonic()))
        _check(stream.execution_id, arrivals, runtime)
        with pytest.raises(airlock.InvalidRequestError) as refused:
            with client.execute_stream("print(1)", agent_id="root", runtime=runtime, memory_limit_mb=-5):
                pytest.fail("a refused run yields no stream")
        assert refused.value.status == 400 and "memory_limit_mb" in str(refused.value)
        # Leaving the block while it runs closes the connection: the server cancels the run.
        with client.execute_stream(command="echo started; sleep 60", agent_id="root", runtime=runtime) as sleeper:
            first = next(sleeper.frames)
            assert isinstance(first, airlock.OutputChunk) and first.text == "started\n"
            assert _running(client, sleeper.execution_id)
        deadline = time.monotonic() + 15
        while _running(client, sleeper.execution_id) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _running(client, sleeper.execution_id), "closing the stream cancelled the run"


def test_async_execute_stream(runtime: str) -> None:
    async def main() -> None:
        async with airlock.AsyncClient() as client:
            arrivals: List[Tuple[object, float]] = []
            async with client.execute_stream(command=COMMAND, agent_id="root", runtime=runtime, timeout=30) as stream:
                async for frame in stream.frames:
                    arrivals.append((frame, time.monotonic()))
            _check(stream.execution_id, arrivals, runtime)
            with pytest.raises(airlock.InvalidRequestError):
                async with client.execute_stream(command="true", agent_id="root", runtime=runtime, memory_limit_mb=-5):
                    pytest.fail("a refused run yields no stream")
            async with client.execute_stream(command="echo started; sleep 60", agent_id="root", runtime=runtime) as sleeper:
                first = await sleeper.frames.__anext__()
                assert isinstance(first, airlock.OutputChunk) and first.text == "started\n"
                assert await _running_async(client, sleeper.execution_id)
                # close() while still inside the block: the server cancels the run.
                await sleeper.close()
                deadline = time.monotonic() + 15
                while await _running_async(client, sleeper.execution_id) and time.monotonic() < deadline:
                    await asyncio.sleep(0.2)
                assert not await _running_async(client, sleeper.execution_id), "close() cancelled the run"

    asyncio.run(main())
