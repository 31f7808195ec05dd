"""Sandbox lifecycle, commands and files against the real server, on each runtime."""

from __future__ import annotations

import time
from typing import List, Tuple

import pytest

import airlock


def test_create_run_kill(runtime: str) -> None:
    sandbox = airlock.Sandbox.create(runtime=runtime, envs={"GREETING": "hello"}, metadata={"case": "lifecycle"}, timeout=120)
    try:
        info = sandbox.get_info()
        assert info.sandbox_id == sandbox.sandbox_id
        assert (info.state, info.runtime, info.metadata) == ("running", runtime, {"case": "lifecycle"})
        assert sandbox.is_running()
        result = sandbox.commands.run("echo $GREETING")
        assert (result.stdout, result.stderr, result.exit_code, result.termination_reason) == ("hello\n", "", 0, "completed")
        assert result.exec_id != "" and result.error is None
        assert any(s.sandbox_id == sandbox.sandbox_id for s in airlock.Sandbox.list())
        again = airlock.Sandbox.connect(sandbox.sandbox_id)
        assert again.commands.run(["sh", "-c", "echo $((6 * 7))"]).stdout == "42\n"
        again.close()
        extended = sandbox.set_timeout(600)
        assert extended.expires_at > info.expires_at
    finally:
        ended = sandbox.kill()
    assert (ended.state, ended.end_reason) == ("ended", "killed")
    with pytest.raises((airlock.SandboxNotRunningError, airlock.SandboxNotFoundError)) as caught:
        sandbox.commands.run("true")
    assert caught.value.status in (404, 409)
    sandbox.close()


def test_files_round_trip(sandbox: airlock.Sandbox) -> None:
    written = sandbox.files.write("/tmp/note.txt", "grüße\n")
    assert (written.path, written.size) == ("/tmp/note.txt", len("grüße\n".encode()))
    assert sandbox.files.read("/tmp/note.txt") == "grüße\n"
    blob = bytes(range(256)) * 4
    sandbox.files.write("/tmp/blob.bin", blob, mode=0o600)
    assert sandbox.files.read("/tmp/blob.bin", format="bytes") == blob
    # What the files API wrote is what the sandbox's own processes see, and the other way round.
    assert sandbox.commands.run("sha256sum /tmp/blob.bin | cut -c1-16").stdout.strip() != ""
    sandbox.commands.run("mkdir -p /tmp/made && printf made > /tmp/made/by-command")
    assert sandbox.files.read("/tmp/made/by-command") == "made"
    entries = {e.name: e for e in sandbox.files.list("/tmp")}
    assert entries["blob.bin"].type == "file" and entries["blob.bin"].size == len(blob)
    assert entries["blob.bin"].mode & 0o777 == 0o600
    assert entries["made"].type == "dir"
    assert sandbox.files.exists("/tmp/note.txt") and sandbox.files.exists("/tmp/made")
    assert not sandbox.files.exists("/tmp/absent") and not sandbox.files.exists("/tmp/absent-dir/x")
    with pytest.raises(airlock.FileNotFoundError) as caught:
        sandbox.files.read("/tmp/absent")
    assert caught.value.code == "file_not_found" and caught.value.status == 404
    assert isinstance(caught.value, FileNotFoundError), "also the built-in FileNotFoundError"
    assert sandbox.files.make_dir("/tmp/new/deeper") is True and sandbox.files.make_dir("/tmp/new/deeper") is False
    moved = sandbox.files.rename("/tmp/note.txt", "/tmp/new/deeper/-note.txt")
    assert (moved.path, moved.type) == ("/tmp/new/deeper/-note.txt", "file")
    assert sandbox.files.read("/tmp/new/deeper/-note.txt") == "grüße\n" and not sandbox.files.exists("/tmp/note.txt")
    sandbox.files.remove("/tmp/new")
    assert not sandbox.files.exists("/tmp/new")
    sandbox.files.remove("/tmp/new")  # already gone: not an error
    with pytest.raises(airlock.InvalidRequestError) as refused:
        sandbox.files.rename("/tmp/absent", "/tmp/elsewhere")
    assert refused.value.code == "file_operation_failed" and "mv:" in str(refused.value)
    with pytest.raises(airlock.InvalidRequestError):
        sandbox.files.remove("relative/path")


def test_streaming_callbacks_arrive_live(sandbox: airlock.Sandbox) -> None:
    events: List[Tuple[str, str, float]] = []
    started = time.monotonic()
    result = sandbox.commands.run(
        "echo one; echo warn >&2; sleep 0.6; echo two",
        on_stdout=lambda text: events.append(("out", text, time.monotonic() - started)),
        on_stderr=lambda text: events.append(("err", text, time.monotonic() - started)),
    )
    assert (result.stdout, result.stderr) == ("one\ntwo\n", "warn\n")
    first = next(e for e in events if "one" in e[1])
    last = next(e for e in events if "two" in e[1])
    assert last[2] - first[2] >= 0.4, f"output arrived live, not at the end: {events}"
    assert ("err", "warn\n") in [(e[0], e[1]) for e in events]


def test_stdin_environment_cwd_and_exit_codes(sandbox: airlock.Sandbox) -> None:
    result = sandbox.commands.run(["sh", "-c", 'cat; echo "$A:$(pwd)"'], stdin="piped\n", envs={"A": "b"}, cwd="/tmp")
    assert result.stdout == "piped\nb:/tmp\n"
    binary = sandbox.commands.run(["od", "-An", "-tx1"], stdin=b"\x00\xff")
    assert binary.stdout.split() == ["00", "ff"]
    with pytest.raises(airlock.CommandExitError) as caught:
        sandbox.commands.run("echo out; echo bad >&2; exit 3")
    assert (caught.value.exit_code, caught.value.stdout, caught.value.stderr) == (3, "out\n", "bad\n")
    assert caught.value.result.termination_reason == "completed"
    assert "exited with code 3" in str(caught.value)


def test_timeout_is_a_termination_reason(sandbox: airlock.Sandbox) -> None:
    started = time.monotonic()
    with pytest.raises(airlock.TimeoutError) as caught:
        sandbox.commands.run("echo before; sleep 30", timeout=1)
    assert time.monotonic() - started < 15
    assert caught.value.result is not None
    assert caught.value.result.termination_reason == "timeout"
    assert caught.value.result.stdout == "before\n"
    assert isinstance(caught.value, TimeoutError), "also the built-in TimeoutError"
    # The sandbox outlives its command's timeout.
    assert sandbox.commands.run("echo still-here").stdout == "still-here\n"


def test_background_iterate_and_kill(sandbox: airlock.Sandbox) -> None:
    handle = sandbox.commands.run("for i in 1 2 3; do echo $i; sleep 0.2; done", background=True)
    chunks = [chunk for chunk in handle]
    assert "".join(c.text for c in chunks if c.stream == "stdout") == "1\n2\n3\n"
    assert handle.wait().exit_code == 0
    forever = sandbox.commands.run("echo started; sleep 60", background=True)
    deadline = time.monotonic() + 10
    while "started" not in forever.stdout and time.monotonic() < deadline:
        time.sleep(0.05)
    assert forever.exec_id != ""
    assert forever.kill() is True
    with pytest.raises(airlock.CommandExitError) as caught:
        forever.wait()
    assert caught.value.result.termination_reason == "killed"
    assert forever.kill() is False
    # The server killed it: nothing of it is left running in the sandbox.
    left = sandbox.commands.run("ps -eo args | grep -c '[s]leep 60' || true").stdout.strip()
    assert left == "0", f"the killed command still runs ({left} processes)"


def test_run_code(sandbox: airlock.Sandbox) -> None:
    ok = sandbox.run_code("import sys; print(sum(range(10))); print('e', file=sys.stderr)")
    assert (ok.stdout, ok.stderr, ok.exit_code, ok.error) == ("45\n", "e\n", 0, None)
    failed = sandbox.run_code("raise SystemExit(4)")
    assert failed.exit_code == 4 and failed.error == "command exited with code 4"
    shell = sandbox.run_code("echo $((2 + 3))", language="bash")
    assert shell.stdout == "5\n"


def test_context_manager_kills_on_exit(runtime: str) -> None:
    with airlock.Sandbox.create(runtime=runtime) as sandbox:
        sandbox_id = sandbox.sandbox_id
        assert sandbox.commands.run("echo inside").stdout == "inside\n"
    with airlock.Client() as client:
        info = client.get_sandbox(sandbox_id)
    assert (info.state, info.end_reason) == ("ended", "killed")
    # Killing it again by id: it has ended, so False (as E2B's).
    assert airlock.Sandbox.kill(sandbox_id) is False


def test_one_shot(runtime: str) -> None:
    result = airlock.run("print(1 + 1)", agent_id="root", runtime=runtime)
    assert (result.success, result.stdout, result.exit_code, result.termination_reason, result.runtime_used) == (True, "2", 0, "completed", runtime)
    assert result.security_violations == [] and result.policy_hash != ""
    assert result.receipt is not None and result.receipt["record"]["kind"] == "execution.finished"
    with airlock.Client() as client:
        failed = client.execute(agent_id="root", command="echo partial; sleep 30", runtime=runtime, timeout=1)
        assert (failed.success, failed.termination_reason, failed.stdout) == (False, "timeout", "partial")
        exited = client.execute(agent_id="root", command=["sh", "-c", "exit 7"], runtime=runtime)
        assert (exited.success, exited.exit_code, exited.termination_reason) == (False, 7, "completed")
