"""A method that is a class method when called on the class and an instance method when called on
an instance, as E2B's ``Sandbox.kill(id)`` and ``sandbox.kill()`` are."""

from __future__ import annotations

import functools
from typing import Any, Callable, Generic, Optional, TypeVar

T = TypeVar("T")


class hybridmethod(Generic[T]):  # noqa: N801 - used like classmethod
    """``@hybridmethod`` on the class form ``f(cls, ...)``; ``.instance`` sets the instance form ``g(self, ...)``."""

    def __init__(self, on_class: Callable[..., Any], on_instance: Optional[Callable[..., Any]] = None) -> None:
        self._on_class = on_class
        self._on_instance = on_instance
        functools.update_wrapper(self, on_class)  # type: ignore[arg-type]

    def instance(self, on_instance: Callable[..., Any]) -> "hybridmethod[T]":
        """Sets the form called on an instance."""
        return type(self)(self._on_class, on_instance)

    def __get__(self, obj: Optional[T], cls: type) -> Callable[..., Any]:
        if obj is not None and self._on_instance is not None:
            return self._on_instance.__get__(obj, cls)
        return self._on_class.__get__(cls, cls)
