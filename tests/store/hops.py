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
    """The name of the store file a hop worked on (None: not a store's hop)."""
    owner = getattr(func, "__self__", None)
    file = getattr(owner, "_file", owner)
    path = getattr(file, "path", None)
    return None if path is None else str(path.name)
