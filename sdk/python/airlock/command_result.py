"""What the sync and async command handles share: collecting a command's output and turning its
exit frame into a result, or into the error a caller who waited gets."""

from __future__ import annotations

import codecs
import time
from typing import Dict, List, Optional

from .errors import CommandExitError, TimeoutError
from .ndjson import ExitFrame, OutputChunk
from .types import CommandResult


class OutputCollector:
    """A command's output so far, and its result once it ended."""

    def __init__(self) -> None:
        self.exec_id = ""
        self._stdout: List[bytes] = []
        self._stderr: List[bytes] = []
        self._started = time.monotonic()
        # Why incremental: a character split across two chunks reaches the listener whole, not as U+FFFD twice.
        self._decoders: Dict[str, codecs.IncrementalDecoder] = {name: codecs.getincrementaldecoder("utf-8")(errors="replace") for name in ("stdout", "stderr")}

    def add(self, chunk: OutputChunk) -> str:
        """Records a chunk of output; returns its text for a listener (a split character waits for its rest)."""
        (self._stdout if chunk.stream == "stdout" else self._stderr).append(chunk.data)
        return self._decoders[chunk.stream].decode(chunk.data)

    def flush(self, stream: str) -> str:
        """The text a listener has not had yet when the stream ends (a character cut short: U+FFFD)."""
        return self._decoders[stream].decode(b"", final=True)

    @property
    def stdout(self) -> str:
        """stdout so far, decoded as UTF-8 as a whole (a character split across chunks stays whole)."""
        return b"".join(self._stdout).decode("utf-8", errors="replace")

    @property
    def stderr(self) -> str:
        """stderr so far."""
        return b"".join(self._stderr).decode("utf-8", errors="replace")

    def result(self, exit_frame: Optional[ExitFrame]) -> CommandResult:
        """The result: from the exit frame, or ``killed`` when the stream was closed before one came."""
        return CommandResult(
            exec_id=self.exec_id,
            stdout=self.stdout,
            stderr=self.stderr,
            exit_code=exit_frame.exit_code if exit_frame else None,
            signal=exit_frame.signal if exit_frame else None,
            termination_reason=exit_frame.termination_reason if exit_frame else "killed",
            duration_ms=exit_frame.duration_ms if exit_frame else (time.monotonic() - self._started) * 1000,
            receipt=exit_frame.receipt if exit_frame else None,
        )


def outcome(result: CommandResult, timeout: Optional[float]) -> CommandResult:
    """``result`` when the command exited 0; otherwise raises ``TimeoutError`` (its limit passed) or
    ``CommandExitError`` (anything else), both carrying the result."""
    if result.termination_reason == "completed" and result.exit_code == 0:
        return result
    if result.termination_reason == "timeout":
        limit = f"{timeout:g} s" if timeout is not None else "the sandbox's per-command limit"
        raise TimeoutError(f"command timed out after {limit}", code="timeout", result=result)
    raise CommandExitError(result)
