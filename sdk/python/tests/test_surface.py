"""What the Python SDK gained to match the server and the TypeScript SDK, against the real server on
each runtime: running commands listed and killed by pid, the idle timeout and its end reason,
``files.watch_dir``, the image digest of results, and E2B's class forms and create options."""

from __future__ import annotations

import io
import re
import time

import pytest

import airlock

DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def test_commands_list_and_kill_by_pid(sandbox: airlock.Sandbox) -> None:
    sleeper = sandbox.commands.run(["sleep", "60"], background=True)
    # run(background=True) returns once the server runs it: the pid is known at once.
    assert sleeper.pid != "" and sleeper.pid == sleeper.exec_id
    shell = sandbox.commands.run("sleep 61", background=True, cwd="/tmp")
    running = {p.pid: p for p in sandbox.commands.list()}
    assert set(running) == {sleeper.pid, shell.pid}, running
    assert (running[sleeper.pid].cmd, running[sleeper.pid].args) == ("sleep", ["60"])
    assert (running[shell.pid].cmd, running[shell.pid].args, running[shell.pid].cwd) == ("sh", ["-c", "sleep 61"], "/tmp")
    assert running[sleeper.pid].started_at <= running[shell.pid].started_at
    assert sandbox.commands.kill(sleeper.pid) is True
    with pytest.raises(airlock.CommandExitError) as caught:
        sleeper.wait()
    assert caught.value.result.termination_reason == "killed"
    assert sandbox.commands.kill(sleeper.pid) is False, "a command that no longer runs"
    assert sandbox.commands.kill("no-such-exec") is False
    assert [p.pid for p in sandbox.commands.list()] == [shell.pid]
    assert shell.kill() is True
    # The handle's kill closes its stream; the server then kills the command.
    deadline = time.monotonic() + 10
    while sandbox.commands.list() != [] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sandbox.commands.list() == []
    with pytest.raises(airlock.AirlockError) as bad:
        sandbox.commands.kill("")
    assert bad.value.code == "invalid_argument"


def test_idle_timeout_ends_an_idle_sandbox(runtime: str) -> None:
    sandbox = airlock.Sandbox.create(runtime=runtime, timeout=120, idle_timeout=1)
    try:
        info = sandbox.get_info()
        assert (info.idle_timeout_seconds, info.state) == (1, "running")
        # A command longer than the idle timeout (and the server's 1 s reaper tick) holds it off while it runs.
        assert sandbox.commands.run("sleep 2.5; echo busy").stdout == "busy\n"
        assert sandbox.is_running()
        deadline = time.monotonic() + 15
        while sandbox.get_info().state == "running" and time.monotonic() < deadline:
            time.sleep(0.5)
        ended = sandbox.get_info()
        assert (ended.state, ended.end_reason) == ("ended", "idle_timeout")
        with pytest.raises(airlock.SandboxNotRunningError):
            sandbox.commands.run("true")
    finally:
        sandbox.close()
    with pytest.raises(airlock.AirlockError) as bad:
        airlock.Sandbox.create(runtime=runtime, idle_timeout=0)
    assert bad.value.code == "invalid_argument" and "idle_timeout" in str(bad.value)


def test_watch_dir_reports_changes(sandbox: airlock.Sandbox) -> None:
    sandbox.files.make_dir("/tmp/watched")
    watch = sandbox.files.watch_dir("/tmp/watched")
    assert watch.get_new_events() == []
    sandbox.files.write("/tmp/watched/a.txt", "one")
    sandbox.files.make_dir("/tmp/watched/sub")
    events = watch.get_new_events()
    assert sorted((e.name, e.type.value) for e in events) == [("a.txt", "create"), ("sub", "create")]
    assert events[0].type == airlock.FilesystemEventType.CREATE
    sandbox.files.write("/tmp/watched/a.txt", "one and two")
    assert [(e.name, e.type) for e in watch.get_new_events()] == [("a.txt", "write")]
    sandbox.commands.run(["chmod", "600", "/tmp/watched/a.txt"])
    assert [(e.name, e.type) for e in watch.get_new_events()] == [("a.txt", "chmod")]
    sandbox.files.remove("/tmp/watched/a.txt")
    assert [(e.name, e.type) for e in watch.get_new_events()] == [("a.txt", "remove")]
    watch.stop()
    with pytest.raises(airlock.AirlockError):
        watch.get_new_events()
    with pytest.raises(airlock.FileNotFoundError):
        sandbox.files.watch_dir("/tmp/not-there")
    with pytest.raises(airlock.AirlockError) as refused:
        sandbox.files.watch_dir("/tmp/watched", recursive=True)
    assert refused.value.code == "invalid_argument" and "subfolders" in str(refused.value)


def test_e2b_class_forms_and_create_options(runtime: str) -> None:
    with airlock.Sandbox.create(runtime=runtime, timeout=120, allow_internet_access=False) as sandbox:
        sandbox_id = sandbox.sandbox_id
        info = airlock.Sandbox.get_info(sandbox_id)
        assert (info.sandbox_id, info.network_policy, info.idle_timeout_seconds) == (sandbox_id, "none", None)
        assert DIGEST.match(info.image_digest), info.image_digest
        assert (info.template_id, info.started_at, info.end_at) == (info.image, info.created_at, info.expires_at)
        longer = airlock.Sandbox.set_timeout(sandbox_id, 900)
        assert longer.expires_at > info.expires_at
        again = airlock.Sandbox.connect(sandbox_id, timeout=1200)
        assert again.get_info().expires_at > longer.expires_at
        again.close()
        written = sandbox.files.write([{"path": "/tmp/one", "data": "1"}, {"path": "/tmp/two", "data": b"22"}])
        assert [(w.path, w.size) for w in written] == [("/tmp/one", 1), ("/tmp/two", 2)]
        assert sandbox.files.read("/tmp/two") == "22"
        blob = bytes(range(256)) * 300 + b"end"
        assert sandbox.files.write("/tmp/from-io.bin", io.BytesIO(blob)).size == len(blob)
        stream = sandbox.files.read("/tmp/from-io.bin", format="stream")
        assert b"".join(stream) == blob
        with pytest.raises(airlock.FileNotFoundError):
            sandbox.files.read("/tmp/absent", format="stream")
        assert airlock.Sandbox.kill(sandbox_id) is True
        assert airlock.Sandbox.kill(sandbox_id) is False, "already ended"
    assert airlock.Sandbox.kill("sbx-unknown") is False
    for options, why in (
        ({"api_key": "k"}, "signing key"),
        ({"domain": "e2b.dev"}, "AIRLOCK_URL"),
        ({"allow_internet_access": True, "network_policy": "none"}, "give one of them"),
    ):
        with pytest.raises(airlock.AirlockError) as refused:
            airlock.Sandbox.create(runtime=runtime, **options)
        assert refused.value.code == "invalid_argument" and why in str(refused.value), refused.value


def test_one_shot_names_its_image(runtime: str) -> None:
    result = airlock.run("print('digest')", agent_id="root", runtime=runtime)
    assert result.stdout == "digest" and DIGEST.match(result.image_digest), result.image_digest
    # No imagePolicy on the test server: nothing signed the image.
    assert result.image_signer is None
    # Only a VM has an accelerator.
    assert result.accelerator in (("kvm", "tcg") if runtime == "microvm" else (None,)), result.accelerator
