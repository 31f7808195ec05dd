"""airlock as the code-execution tool of a function-calling model (OpenAI-style tools), without
depending on any model SDK.

``RUN_CODE_TOOL`` is the tool definition to send with a chat request (``tools=[RUN_CODE_TOOL]``);
``ToolRunner.dispatch`` takes a tool call the model answered with and returns the ``tool`` message
to send back. Code runs in one airlock sandbox kept for the conversation, so files and installed
state persist between calls, and the sandbox is killed when the runner closes.

Run it from the repository (a server on AIRLOCK_URL or the local socket):
``PYTHONPATH=sdk/python python3 sdk/python/examples/function_calling.py``.
"""

from __future__ import annotations

import json
from typing import Any, Dict, Mapping, Optional

import airlock

#: Languages the sandbox's image runs (the server's ``language`` values).
LANGUAGES = ("python", "javascript", "bash")
#: Most output handed back to the model per stream, characters: a model's context is not a log.
MAX_OUTPUT_CHARS = 20_000

#: The tool definition, OpenAI's function-calling format (JSON Schema parameters, strict).
RUN_CODE_TOOL: Dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "run_code",
        "description": (
            "Run a snippet of code in an isolated Linux sandbox with no network access and return its "
            "stdout, stderr and exit code. Files written under /tmp persist between calls."
        ),
        "strict": True,
        "parameters": {
            "type": "object",
            "properties": {
                "code": {"type": "string", "description": "The code to run."},
                "language": {"type": "string", "enum": list(LANGUAGES), "description": "Language of the code."},
                "timeout_seconds": {"type": "number", "minimum": 1, "maximum": 300, "description": "Wall-clock limit."},
            },
            "required": ["code", "language", "timeout_seconds"],
            "additionalProperties": False,
        },
    },
}


def _clip(text: str) -> str:
    return text if len(text) <= MAX_OUTPUT_CHARS else text[:MAX_OUTPUT_CHARS] + f"\n[... {len(text) - MAX_OUTPUT_CHARS} more characters cut]"


def _arguments(raw: object) -> Dict[str, Any]:
    """The call's arguments, checked against the schema (a model may answer anything)."""
    args = json.loads(raw) if isinstance(raw, str) else raw
    if not isinstance(args, dict):
        raise ValueError("arguments must be a JSON object")
    unknown = set(args) - {"code", "language", "timeout_seconds"}
    if unknown:
        raise ValueError(f"unknown arguments: {', '.join(sorted(unknown))}")
    if not isinstance(args.get("code"), str):
        raise ValueError("code must be a string")
    language = args.get("language", "python")
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}")
    timeout = args.get("timeout_seconds", 30)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 1 <= timeout <= 300:
        raise ValueError("timeout_seconds must be a number from 1 to 300")
    return {"code": args["code"], "language": language, "timeout": float(timeout)}


class ToolRunner:
    """Runs ``run_code`` tool calls in one sandbox, created on the first call."""

    def __init__(self, **create_options: Any) -> None:
        self._create_options = create_options
        self._sandbox: Optional[airlock.Sandbox] = None

    def dispatch(self, tool_call: Mapping[str, Any]) -> Dict[str, Any]:
        """The ``tool`` message answering ``tool_call`` (``{"id", "type": "function", "function":
        {"name", "arguments"}}``). Bad arguments and failed code are answers the model can read;
        a refusal by airlock is too, naming the control that refused."""
        function = tool_call.get("function") or {}
        content: Dict[str, Any]
        if function.get("name") != RUN_CODE_TOOL["function"]["name"]:
            content = {"error": f"unknown tool {function.get('name')!r}"}
        else:
            try:
                args = _arguments(function.get("arguments", "{}"))
            except ValueError as err:
                content = {"error": f"invalid arguments: {err}"}
            else:
                content = self._run(**args)
        return {"role": "tool", "tool_call_id": tool_call.get("id", ""), "content": json.dumps(content)}

    def _run(self, code: str, language: str, timeout: float) -> Dict[str, Any]:
        try:
            if self._sandbox is None:
                self._sandbox = airlock.Sandbox.create(**self._create_options)
            result = self._sandbox.run_code(code, language=language, timeout=timeout)
        except airlock.AirlockError as err:
            return {"error": f"{err.code}: {err}"}
        return {
            "stdout": _clip(result.stdout),
            "stderr": _clip(result.stderr),
            "exit_code": result.exit_code,
            "termination_reason": result.termination_reason,
        }

    def close(self) -> None:
        """Kills the sandbox, if one was made."""
        if self._sandbox is not None:
            with self._sandbox:
                pass
            self._sandbox = None

    def __enter__(self) -> "ToolRunner":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def main() -> None:
    """A canned exchange: the tool calls a model might make, answered by airlock."""
    calls = [
        {"id": "call_1", "type": "function", "function": {"name": "run_code", "arguments": json.dumps({"code": "open('/tmp/n', 'w').write('41')", "language": "python", "timeout_seconds": 10})}},
        {"id": "call_2", "type": "function", "function": {"name": "run_code", "arguments": json.dumps({"code": "print(int(open('/tmp/n').read()) + 1)", "language": "python", "timeout_seconds": 10})}},
    ]
    print(json.dumps({"tools": [RUN_CODE_TOOL]}, indent=2))
    with ToolRunner() as runner:
        for call in calls:
            print(json.dumps(runner.dispatch(call)))


if __name__ == "__main__":
    main()
