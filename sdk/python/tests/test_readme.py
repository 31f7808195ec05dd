"""The README's sandbox and asyncio examples run as written against the real server (on gVisor
where the server has it, else the runtime it has), with the outputs their comments promise."""

from __future__ import annotations

import asyncio
import re
import textwrap
from pathlib import Path
from typing import List

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def _example(heading: str) -> str:
    """The first python block under ``## heading``."""
    section = README.read_text().split(f"\n## {heading}\n", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match is not None, f"no python example under {heading}"
    return match.group(1)


def test_sandbox_example(available_runtimes: List[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    code = _example("Sandboxes")
    runtime = "gvisor" if "gvisor" in available_runtimes else available_runtimes[0]
    assert 'runtime="gvisor"' in code
    (tmp_path / "local.csv").write_text("a,b\n1,2\n")
    monkeypatch.chdir(tmp_path)
    exec(compile(code.replace('runtime="gvisor"', f'runtime="{runtime}"'), str(README), "exec"), {})
    out = capsys.readouterr().out
    for promised in ("0 hello\n", "3 \n", "timeout\n", "42\n", "new.txt", "CREATE"):
        assert promised in out, f"{promised!r} not in the example's output:\n{out}"


def test_asyncio_example(server_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = "async def main():\n" + textwrap.indent(_example("asyncio"), "    ")
    scope: dict = {}
    exec(compile("import airlock\n" + code, str(README), "exec"), scope)
    asyncio.run(scope["main"]())
    out = capsys.readouterr().out
    assert "hi\n" in out and "None\n" in out, out
