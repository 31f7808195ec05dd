"""Watching a folder in a sandbox (``files.watch_dir``) by listing it and comparing listings: the
server has no push channel for file changes, so the SDK polls, as the TypeScript SDK does. A change
made and undone between two listings is not seen; a rename is a ``remove`` and a ``create``.

``WatchHandle`` is E2B's synchronous form (``get_new_events()`` lists now and returns what changed
since the last call); ``AsyncWatchHandle`` its asyncio form (a task lists every ``interval`` seconds
and calls ``on_event``)."""

from __future__ import annotations

import asyncio
import enum
import inspect
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Dict, List, Optional

from .errors import AirlockError
from .types import FileEntry

#: Shortest polling interval, seconds: each listing is a request to the server.
MIN_INTERVAL = 0.1


class FilesystemEventType(str, enum.Enum):
    """What happened to an entry of the watched folder (E2B's names; ``rename`` is never sent here)."""

    CREATE = "create"
    WRITE = "write"
    CHMOD = "chmod"
    REMOVE = "remove"


@dataclass(frozen=True)
class FilesystemEvent:
    """One change of the watched folder: the entry's name in it, and what happened."""

    name: str
    type: FilesystemEventType


Snapshot = Dict[str, FileEntry]


def snapshot_of(entries: List[FileEntry]) -> Snapshot:
    """A listing by name."""
    return {entry.name: entry for entry in entries}


def changes(before: Snapshot, after: Snapshot) -> List[FilesystemEvent]:
    """The events that turn listing ``before`` into ``after``: an entry that changed type is removed
    and created again; a different size or modification time is a write; only the mode, a chmod."""
    events: List[FilesystemEvent] = []
    for name, entry in after.items():
        old = before.get(name)
        if old is None or old.type != entry.type:
            if old is not None:
                events.append(FilesystemEvent(name, FilesystemEventType.REMOVE))
            events.append(FilesystemEvent(name, FilesystemEventType.CREATE))
        elif old.size != entry.size or old.modified_at != entry.modified_at:
            events.append(FilesystemEvent(name, FilesystemEventType.WRITE))
        elif old.mode != entry.mode:
            events.append(FilesystemEvent(name, FilesystemEventType.CHMOD))
    events.extend(FilesystemEvent(name, FilesystemEventType.REMOVE) for name in before if name not in after)
    return events


def refuse_recursive(recursive: bool) -> None:
    """``recursive=True`` is refused, saying why (nothing is silently ignored)."""
    if recursive:
        raise AirlockError("files.watch_dir: recursive is not supported: only the folder itself is watched, not its subfolders", code="invalid_argument")


class WatchHandle:
    """A watch of one folder (``sandbox.files.watch_dir(path)``): ``get_new_events()`` lists the folder
    and returns what changed since the previous call (or since the watch began); ``stop()`` ends it."""

    def __init__(self, list_folder: Callable[[], List[FileEntry]]) -> None:
        """Takes the first listing: a folder that isn't there raises ``FileNotFoundError``."""
        self._list = list_folder
        self._snapshot = snapshot_of(list_folder())
        self._stopped = False

    def get_new_events(self) -> List[FilesystemEvent]:
        """The changes since the last call. Raises once the folder is gone or the sandbox ended, and
        ``invalid_argument`` after ``stop()``."""
        if self._stopped:
            raise AirlockError("files.watch_dir: the watch was stopped", code="invalid_argument")
        after = snapshot_of(self._list())
        events = changes(self._snapshot, after)
        self._snapshot = after
        return events

    def stop(self) -> None:
        """Ends the watch (nothing runs on the server for it; later ``get_new_events()`` calls raise)."""
        self._stopped = True


#: Receives each event; may be a coroutine function.
AsyncEventListener = Callable[[FilesystemEvent], Any]
#: Called once when the watch ends: with the error that ended it, or None after ``stop()`` or the timeout.
AsyncExitListener = Callable[[Optional[BaseException]], Any]


async def _call(listener: Callable[..., Any], *args: Any) -> None:
    returned = listener(*args)
    if inspect.isawaitable(returned):
        await returned


class AsyncWatchHandle:
    """A watch of one folder for asyncio (``await sandbox.files.watch_dir(path, on_event)``): lists it
    every ``interval`` seconds and calls ``on_event`` for each change; ``await stop()`` ends it."""

    def __init__(self, list_folder: Callable[[], Awaitable[List[FileEntry]]], on_event: AsyncEventListener, *, on_exit: Optional[AsyncExitListener], timeout: float, interval: float) -> None:
        """Use ``sandbox.files.watch_dir``."""
        if isinstance(interval, bool) or not isinstance(interval, (int, float)) or interval < MIN_INTERVAL:
            raise AirlockError(f"files.watch_dir: interval must be at least {MIN_INTERVAL} seconds, got {interval!r}", code="invalid_argument")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0:
            raise AirlockError(f"files.watch_dir: timeout must be 0 (no limit) or more seconds, got {timeout!r}", code="invalid_argument")
        self._list, self._on_event, self._on_exit = list_folder, on_event, on_exit
        self._timeout, self._interval = float(timeout), float(interval)
        self._snapshot: Snapshot = {}
        self._task: "Optional[asyncio.Task[None]]" = None
        self._exited = False

    async def start(self) -> None:
        """Takes the first listing (a folder that isn't there raises) and starts polling."""
        self._snapshot = snapshot_of(await self._list())
        self._task = asyncio.get_running_loop().create_task(self._watch())

    async def stop(self) -> None:
        """Stops watching; no event is delivered afterwards, and ``on_exit`` has been called when this returns."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        # Why here too: a task cancelled before it first ran never enters _watch.
        await self._exit(None)

    async def _exit(self, error: Optional[BaseException]) -> None:
        if self._exited:
            return
        self._exited = True
        if self._on_exit is not None:
            await _call(self._on_exit, error)

    async def _watch(self) -> None:
        error: Optional[BaseException] = None
        try:
            if self._timeout > 0:
                await asyncio.wait_for(self._poll(), self._timeout)
            else:
                await self._poll()
        except asyncio.TimeoutError:
            pass
        except asyncio.CancelledError:
            pass
        except Exception as err:  # noqa: BLE001 - the folder gone, the sandbox ended, a listener that raised: handed to on_exit
            error = err
        await self._exit(error)

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            after = snapshot_of(await self._list())
            events = changes(self._snapshot, after)
            self._snapshot = after
            for event in events:
                await _call(self._on_event, event)
