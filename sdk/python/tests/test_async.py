"""The async client: the same surface as the sync one, awaited, against the real server."""

from __future__ import annotations

import asyncio
import time
from typing import List, Tuple

import pytest

import airlock


def test_async_sandbox(runtime: str) -> None:
    async def main() -> None:
        events: List[Tuple[str, float]] = []
        started = time.monotonic()

        async def on_stdout(text: str) -> None:
            events.append((text, time.monotonic() - started))

        async with await airlock.AsyncSandbox.create(runtime=runtime, envs={"WHO": "async"}) as sandbox:
            assert (await sandbox.get_info()).runtime == runtime
            result = await sandbox.commands.run("echo $WHO; sleep 0.5; echo done", on_stdout=on_stdout, on_stderr=print)
            assert result.stdout == "async\ndone\n"
            assert events[-1][1] - events[0][1] >= 0.3, f"streamed live: {events}"
            await sandbox.files.write("/tmp/a.txt", "äsync")
            assert await sandbox.files.read("/tmp/a.txt") == "äsync"
            assert await sandbox.files.read("/tmp/a.txt", format="bytes") == "äsync".encode()
            assert b"".join([c async for c in await sandbox.files.read("/tmp/a.txt", format="stream")]) == "äsync".encode()
            assert [e.name for e in await sandbox.files.list("/tmp") if e.name == "a.txt"] == ["a.txt"]
            assert await sandbox.files.exists("/tmp/a.txt") and not await sandbox.files.exists("/tmp/b.txt")
            handle = await sandbox.commands.run("for i in 1 2; do echo $i; sleep 0.1; done", background=True)
            assert "".join([c.text async for c in handle]) == "1\n2\n"
            assert (await handle.wait()).exit_code == 0
            sleeper = await sandbox.commands.run("sleep 60", background=True)
            await asyncio.sleep(0.3)
            assert await sleeper.kill() is True
            with pytest.raises(airlock.CommandExitError) as killed:
                await sleeper.wait()
            assert killed.value.result.termination_reason == "killed"
            with pytest.raises(airlock.TimeoutError) as timed_out:
                await sandbox.commands.run("sleep 30", timeout=1)
            assert timed_out.value.result is not None and timed_out.value.result.termination_reason == "timeout"
            assert (await sandbox.run_code("print(3 * 3)")).stdout == "9\n"
            # Running commands by pid, and a folder watched by polling.
            napper = await sandbox.commands.run(["sleep", "60"], background=True)
            assert [(p.pid, p.cmd) for p in await sandbox.commands.list()] == [(napper.pid, "sleep")]
            assert await sandbox.commands.kill(napper.pid) is True
            with pytest.raises(airlock.CommandExitError):
                await napper.wait()
            assert await sandbox.commands.kill(napper.pid) is False, "it has ended"
            seen: List[airlock.FilesystemEvent] = []
            exits: List[object] = []
            watch = await sandbox.files.watch_dir("/tmp", seen.append, on_exit=exits.append, interval=0.1)
            await sandbox.files.write([{"path": "/tmp/watched.txt", "data": "w"}])
            deadline = time.monotonic() + 10
            while not seen and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert seen[0] == airlock.FilesystemEvent("watched.txt", airlock.FilesystemEventType.CREATE)
            await watch.stop()
            assert exits == [None]
            sandbox_id = sandbox.sandbox_id
            by_id = await airlock.AsyncSandbox.get_info(sandbox_id)
            assert (by_id.state, by_id.idle_timeout_seconds) == ("running", None)
            assert (await airlock.AsyncSandbox.set_timeout(sandbox_id, 900)).expires_at > by_id.expires_at
            listed = await airlock.AsyncSandbox.list()
            assert any(s.sandbox_id == sandbox_id for s in listed)
        async with airlock.AsyncClient() as client:
            assert (await client.get_sandbox(sandbox_id)).state == "ended"
            # The class form of kill, on a sandbox that has ended: False (as E2B's).
            assert await airlock.AsyncSandbox.kill(sandbox_id, client=client) is False
            one_shot = await client.execute("print('one')", agent_id="root", runtime=runtime)
            assert one_shot.stdout == "one" and one_shot.success
        assert (await airlock.arun(command="echo arun", agent_id="root", runtime=runtime)).stdout == "arun"
        with pytest.raises(airlock.InvalidRequestError):
            await airlock.AsyncSandbox.create(runtime=runtime, limits={"memory_limit_mb": 0})

    asyncio.run(main())
