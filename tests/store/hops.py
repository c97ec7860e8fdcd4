"""Thread hand-offs counted as they happen: each store call that runs on a worker thread goes
through `anyio.to_thread.run_sync`, so a counter wrapped around it (the real one still does the
work) sees every hop and the callable behind it. For tests and the speed benchmark."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import anyio.to_thread


@contextmanager
def counted_hops() -> Iterator[list[Callable[..., Any]]]:
    """Yields the list of callables sent to a worker thread while the block runs."""
    real = anyio.to_thread.run_sync
    hops: list[Callable[..., Any]] = []

    async def counting(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        hops.append(func)
        return await real(func, *args, **kwargs)

    anyio.to_thread.run_sync = counting  # type: ignore[assignment]
    try:
        yield hops
    finally:
        anyio.to_thread.run_sync = real


def store_file(func: Callable[..., Any]) -> str | None:
    """The name of the store file a hop worked on (None: not a store's hop); the writes after an
    answer, made in one hop, name each file they write, joined by "+"."""
    owner = getattr(func, "__self__", None)
    names = _file_name(owner) or [
        name for part in getattr(owner, "__dict__", {}).values() for name in _file_name(part)
    ]
    return "+".join(names) or None


def _file_name(store: object) -> list[str]:
    path = getattr(getattr(store, "_file", store), "path", None)
    return [] if path is None else [str(path.name)]
