"""NDJSON reading for exec streams: one JSON value per line, lines split across network chunks
joined back, and the exec frame protocol checked (output frames, then exactly one exit frame, or
an error frame). A stream that ends before its exit frame is an error, never a silent success.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Union

from .errors import AirlockError, error_from_envelope

#: Longest line accepted (bytes); a longer one means the stream is not what we expect.
MAX_LINE_LENGTH = 16 * 1024 * 1024


@dataclass(frozen=True)
class OutputChunk:
    """A piece of a command's output as it arrived."""

    #: ``stdout`` or ``stderr``.
    stream: str
    #: The bytes the command wrote.
    data: bytes

    @property
    def text(self) -> str:
        """The bytes decoded as UTF-8 (invalid bytes become U+FFFD)."""
        return self.data.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class ExitFrame:
    """The last frame of an exec stream: how the command ended."""

    exit_code: Optional[int]
    signal: Optional[str]
    termination_reason: str
    duration_ms: float
    receipt: Optional[Dict[str, Any]]


Frame = Union[OutputChunk, ExitFrame]


def _invalid(message: str) -> AirlockError:
    return AirlockError(message, code="invalid_response")


def _output(frame: Dict[str, Any]) -> OutputChunk:
    kind, data, encoding = frame.get("type"), frame.get("data"), frame.get("encoding")
    if not isinstance(data, str) or encoding not in ("utf8", "base64"):
        raise _invalid(f"malformed {kind} frame")
    try:
        raw = base64.b64decode(data, validate=True) if encoding == "base64" else data.encode("utf-8")
    except ValueError as err:
        raise _invalid(f"malformed {kind} frame: {err}") from err
    return OutputChunk(stream=str(kind), data=raw)


def _exit(frame: Dict[str, Any]) -> ExitFrame:
    code, signal, reason, duration = frame.get("exit_code"), frame.get("signal"), frame.get("termination_reason"), frame.get("duration_ms")
    if (code is not None and not isinstance(code, int)) or (signal is not None and not isinstance(signal, str)) or not isinstance(reason, str):
        raise _invalid("malformed exit frame")
    receipt = frame.get("receipt")
    return ExitFrame(
        exit_code=code,
        signal=signal,
        termination_reason=reason,
        duration_ms=float(duration) if isinstance(duration, (int, float)) else 0.0,
        receipt=receipt if isinstance(receipt, dict) else None,
    )


def _error(frame: Dict[str, Any]) -> AirlockError:
    error = frame.get("error") if isinstance(frame.get("error"), dict) else {}
    code = error.get("code") if isinstance(error.get("code"), str) else "exec_failed"
    message = error.get("message") if isinstance(error.get("message"), str) else "the exec failed after streaming began"
    request_id = error.get("request_id") if isinstance(error.get("request_id"), str) else None
    return error_from_envelope(code, message, None, request_id=request_id)


class FrameReader:
    """Turns the bytes of an exec stream into frames: feed it chunks as they arrive, then ``end()``."""

    def __init__(self, max_line_length: int = MAX_LINE_LENGTH) -> None:
        self._pending = b""
        self._max = max_line_length
        self.exit: Optional[ExitFrame] = None

    def feed(self, chunk: bytes) -> List[Frame]:
        """The frames completed by ``chunk``: output, then the exit frame (always last). Raises the
        typed error of an error frame."""
        if self.exit is not None:
            return []
        lines = (self._pending + chunk).split(b"\n")
        self._pending = lines.pop()
        if len(self._pending) > self._max:
            raise _invalid(f"NDJSON line longer than {self._max} bytes")
        frames: List[Frame] = []
        for line in lines:
            frame = self._line(line)
            if frame is not None:
                frames.append(frame)
                if isinstance(frame, ExitFrame):
                    break
        return frames

    def end(self) -> List[Frame]:
        """The frame of a last line without a newline, if any; raises ``stream_ended`` when the stream
        ended without an exit frame."""
        frames: List[Frame] = []
        if self.exit is None and self._pending.strip():
            try:
                json.loads(self._pending)
            except ValueError as err:
                # An unparsable line with no newline after it is a stream cut short, not a malformed one.
                raise AirlockError("the stream ended in the middle of a line (connection lost?)", code="stream_ended") from err
            frame = self._line(self._pending)
            if frame is not None:
                frames.append(frame)
        self._pending = b""
        if self.exit is None:
            raise AirlockError("the exec stream ended without an exit frame (connection lost or server stopped)", code="stream_ended")
        return frames

    def _line(self, line: bytes) -> Optional[Frame]:
        if not line.strip() or self.exit is not None:
            return None
        try:
            value = json.loads(line)
        except ValueError as err:
            raise _invalid(f"invalid NDJSON line from the server: {line[:100]!r}") from err
        if not isinstance(value, dict):
            return None
        kind = value.get("type")
        if kind in ("stdout", "stderr"):
            return _output(value)
        if kind == "exit":
            self.exit = _exit(value)
            return self.exit
        if kind == "error":
            raise _error(value)
        # Unknown frame types are a newer server's additions: skipped, as the TypeScript SDK does.
        return None
