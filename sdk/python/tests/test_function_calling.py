"""The function-calling example's dispatcher against the real server: a model's tool calls run in
one sandbox kept across calls, and every failure comes back as a message the model can read."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict

import airlock

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "function_calling.py"


def _example() -> Any:
    spec = importlib.util.spec_from_file_location("function_calling", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _call(call_id: str, name: str, arguments: Any) -> Dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments)}}


def test_tool_definition_is_a_strict_json_schema() -> None:
    tool = _example().RUN_CODE_TOOL
    assert tool["type"] == "function" and tool["function"]["name"] == "run_code"
    parameters = tool["function"]["parameters"]
    # Strict mode: every property required, nothing else allowed.
    assert sorted(parameters["required"]) == sorted(parameters["properties"]) and parameters["additionalProperties"] is False
    json.dumps(tool)


def test_dispatcher_runs_tool_calls_in_one_sandbox(runtime: str) -> None:
    example = _example()
    with example.ToolRunner(runtime=runtime) as runner:
        first = runner.dispatch(_call("c1", "run_code", {"code": "open('/tmp/n', 'w').write('41')", "language": "python", "timeout_seconds": 10}))
        assert (first["role"], first["tool_call_id"]) == ("tool", "c1")
        assert json.loads(first["content"])["exit_code"] == 0
        second = json.loads(runner.dispatch(_call("c2", "run_code", {"code": "print(int(open('/tmp/n').read()) + 1)", "language": "python", "timeout_seconds": 10}))["content"])
        assert (second["stdout"], second["exit_code"], second["termination_reason"]) == ("42\n", 0, "completed")
        shell = json.loads(runner.dispatch(_call("c3", "run_code", {"code": "echo oops >&2; exit 2", "language": "bash", "timeout_seconds": 10}))["content"])
        assert (shell["stderr"], shell["exit_code"]) == ("oops\n", 2)
        slow = json.loads(runner.dispatch(_call("c4", "run_code", {"code": "import time; time.sleep(30)", "language": "python", "timeout_seconds": 1}))["content"])
        assert slow["termination_reason"] == "timeout"
        bad = json.loads(runner.dispatch(_call("c5", "run_code", '{"code": 1}'))["content"])
        assert bad["error"].startswith("invalid arguments")
        unknown = json.loads(runner.dispatch(_call("c6", "rm_rf", {}))["content"])
        assert "unknown tool" in unknown["error"]
        sandbox_id = runner._sandbox.sandbox_id
    with airlock.Client() as client:
        assert client.get_sandbox(sandbox_id).state == "ended", "closing the runner kills its sandbox"


def test_example_runs_as_a_script(server_url: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(EXAMPLE.parent.parent)}
    run = subprocess.run([sys.executable, str(EXAMPLE)], capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    answers = [json.loads(line) for line in run.stdout.splitlines() if line.startswith('{"role": "tool"')]
    assert [json.loads(a["content"]).get("stdout") for a in answers] == ["", "42\n"], run.stdout
