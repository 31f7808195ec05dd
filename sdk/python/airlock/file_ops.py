"""What ``Files`` and ``AsyncFiles`` share beyond the server's file routes (read, write, list), as the
TypeScript SDK does them: ``exists``/``get_info`` list the parent; ``make_dir``, ``rename`` and
``remove`` run ``mkdir``, ``mv`` and ``rm`` in the sandbox as argv (no shell, ``--`` before the
paths), so they are admitted and audited as commands."""

from __future__ import annotations

import posixpath
from typing import List, Mapping, Optional, Tuple

from .errors import AirlockError, CommandExitError, InvalidRequestError
from .types import FileEntry

#: The entry ``get_info("/")`` answers (``/`` has no parent to list).
ROOT_ENTRY = FileEntry(name="/", path="/", type="dir", size=0, mode=0o755, modified_at="1970-01-01T00:00:00.000Z")


def checked_path(where: str, path: object) -> str:
    """``path`` when it is absolute and has no NUL; ``invalid_argument`` otherwise (nothing sent)."""
    if not isinstance(path, str) or not path.startswith("/") or "\0" in path:
        raise InvalidRequestError(f'{where}: "{path}" must be an absolute path inside the sandbox', code="invalid_argument")
    return path


def split(path: str) -> Tuple[str, str]:
    """The parent folder and the name of an absolute path; the name is "" for ``/``."""
    parent, name = posixpath.split(posixpath.normpath(path))
    return parent, name


def find(entries: List[FileEntry], name: str) -> Optional[FileEntry]:
    """The entry called ``name``; None when there is none."""
    return next((entry for entry in entries if entry.name == name), None)


def make_dir_argv(path: str) -> List[str]:
    """Creates a folder and its missing parents."""
    return ["mkdir", "-p", "--", checked_path("files.make_dir", path)]


def rename_argv(old_path: str, new_path: str) -> List[str]:
    """Moves or renames."""
    return ["mv", "--", checked_path("files.rename", old_path), checked_path("files.rename", new_path)]


def remove_argv(path: str) -> List[str]:
    """Removes a file, or a folder with everything in it."""
    return ["rm", "-rf", "--", checked_path("files.remove", path)]


def command_failed(argv: List[str], err: CommandExitError) -> AirlockError:
    """The error for a file command that failed: names the command and its stderr."""
    why = err.stderr.strip() or f"exit {err.exit_code}"
    return InvalidRequestError(f"{argv[0]}: {why}", code="file_operation_failed")


def write_entries(entries: object, data: object, mode: object) -> List[Tuple[str, object]]:
    """The (path, data) pairs of E2B's list form of ``files.write``: each entry a mapping with
    ``path`` and ``data``; ``data`` and ``mode`` beside the list are refused, not ignored."""
    if data is not None or mode is not None:
        raise InvalidRequestError("files.write: with a list of entries, give each entry's path and data in it (no data or mode beside)", code="invalid_argument")
    if not isinstance(entries, (list, tuple)):
        raise InvalidRequestError("files.write: give a path and data, or a list of {'path': ..., 'data': ...}", code="invalid_argument")
    pairs: List[Tuple[str, object]] = []
    for entry in entries:
        # E2B's WriteEntry is a mapping in some versions and an object with attributes in others.
        if isinstance(entry, Mapping) and set(entry) == {"path", "data"}:
            path, content = entry["path"], entry["data"]
        elif not isinstance(entry, Mapping) and hasattr(entry, "path") and hasattr(entry, "data"):
            path, content = getattr(entry, "path"), getattr(entry, "data")
        else:
            raise InvalidRequestError(f"files.write: each entry is {{'path': ..., 'data': ...}}, got {entry!r:.80}", code="invalid_argument")
        pairs.append((checked_path("files.write", path), content))
    return pairs
