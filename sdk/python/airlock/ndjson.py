"""NDJSON reading for exec and one-shot streams: one JSON value per line, lines split across
network chunks joined back, and the frame protocol checked (output frames, then exactly one
closing frame — ``exit`` for an exec, ``result`` for a one-shot — or an error frame). A stream that
ends before its closing frame is an error, never a silent success.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any, Callable, Dict, Generic, List, Optional, TypeVar, Union, overload

from .errors import AirlockError, error_from_envelope
from .types import ExecuteResult

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


@dataclass(frozen=True)
class ResultFrame:
    """The last frame of a streamed one-shot: its result, as ``execute`` returns it."""

    result: ExecuteResult


Frame = Union[OutputChunk, ExitFrame]
#: A frame of a streamed one-shot: output, or the result frame (always last).
OneShotFrame = Union[OutputChunk, ResultFrame]

#: The closing frame a reader ends on.
C = TypeVar("C")


@dataclass(frozen=True)
class ClosingFrame(Generic[C]):
    """The frame that ends a stream: its ``type``, what the stream is called in messages, and how
    the frame is read (raising ``invalid_response`` when it is malformed)."""

    type: str
    stream: str
    read: Callable[[Dict[str, Any]], C]

    @property
    def missing(self) -> str:
        """The message of a stream that ended without this frame."""
        article = "an" if self.type[:1] in ("a", "e", "i", "o", "u") else "a"
        return f"the {self.stream} stream ended without {article} {self.type} frame (connection lost or server stopped)"


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


def _result(frame: Dict[str, Any]) -> ResultFrame:
    identifier, success, reason = frame.get("execution_id"), frame.get("success"), frame.get("termination_reason")
    if not isinstance(identifier, str) or not isinstance(success, bool) or not isinstance(reason, str):
        raise _invalid("malformed result frame")
    # The frame is the plain answer plus its type: ``raw`` is the answer, as ``execute`` keeps it.
    return ResultFrame(result=ExecuteResult.from_json({k: v for k, v in frame.items() if k != "type"}))


#: An exec stream ends on its exit frame.
EXIT = ClosingFrame("exit", "exec", _exit)
#: A streamed one-shot ends on its result frame.
RESULT = ClosingFrame("result", "execution", _result)


def _error(frame: Dict[str, Any]) -> AirlockError:
    error = frame.get("error") if isinstance(frame.get("error"), dict) else {}
    code = error.get("code") if isinstance(error.get("code"), str) else "exec_failed"
    message = error.get("message") if isinstance(error.get("message"), str) else "the exec failed after streaming began"
    request_id = error.get("request_id") if isinstance(error.get("request_id"), str) else None
    return error_from_envelope(code, message, None, request_id=request_id)


class FrameReader(Generic[C]):
    """Turns the bytes of a stream into frames: feed it chunks as they arrive, then ``end()``.
    ``closing`` is the frame that ends the stream: ``EXIT`` (the default, an exec) or ``RESULT``
    (a one-shot)."""

    @overload
    def __init__(self: "FrameReader[ExitFrame]", max_line_length: int = MAX_LINE_LENGTH) -> None: ...

    @overload
    def __init__(self, max_line_length: int = MAX_LINE_LENGTH, *, closing: ClosingFrame[C]) -> None: ...

    def __init__(self, max_line_length: int = MAX_LINE_LENGTH, *, closing: Any = EXIT) -> None:
        self._pending = b""
        self._max = max_line_length
        self._closing: ClosingFrame[C] = closing
        #: The closing frame once read; nothing is read after it.
        self.final: Optional[C] = None

    @property
    def exit(self) -> Optional[ExitFrame]:
        """An exec stream's exit frame once read (None before, and for other streams)."""
        return self.final if isinstance(self.final, ExitFrame) else None

    def feed(self, chunk: bytes) -> List[Union[OutputChunk, C]]:
        """The frames completed by ``chunk``: output, then the closing frame (always last). Raises the
        typed error of an error frame."""
        if self.final is not None:
            return []
        lines = (self._pending + chunk).split(b"\n")
        self._pending = lines.pop()
        if len(self._pending) > self._max:
            raise _invalid(f"NDJSON line longer than {self._max} bytes")
        frames: List[Union[OutputChunk, C]] = []
        for line in lines:
            frame = self._line(line)
            if frame is not None:
                frames.append(frame)
                if self.final is not None:
                    break
        return frames

    def end(self) -> List[Union[OutputChunk, C]]:
        """The frame of a last line without a newline, if any; raises ``stream_ended`` when the stream
        ended without its closing frame."""
        frames: List[Union[OutputChunk, C]] = []
        if self.final is None and self._pending.strip():
            try:
                json.loads(self._pending)
            except ValueError as err:
                # An unparsable line with no newline after it is a stream cut short, not a malformed one.
                raise AirlockError("the stream ended in the middle of a line (connection lost?)", code="stream_ended") from err
            frame = self._line(self._pending)
            if frame is not None:
                frames.append(frame)
        self._pending = b""
        if self.final is None:
            raise AirlockError(self._closing.missing, code="stream_ended")
        return frames

    def _line(self, line: bytes) -> Optional[Union[OutputChunk, C]]:
        if not line.strip() or self.final is not None:
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
        if kind == self._closing.type:
            self.final = self._closing.read(value)
            return self.final
        if kind == "error":
            raise _error(value)
        # Unknown frame types are a newer server's additions: skipped, as the TypeScript SDK does.
        return None
