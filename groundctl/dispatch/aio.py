"""asyncio helpers."""

from __future__ import annotations

import asyncio
import contextlib


async def cancel_and_wait(task: asyncio.Task[object], timeout_s: float = 30.0) -> None:
    """Cancel `task` and wait for it to end.

    Cancels again while it runs: on Python 3.11, `asyncio.wait_for` (used inside aiomqtt
    for SUBACK / PUBACK waits) drops a cancellation that arrives just as the awaited reply
    does, and a single `cancel()` can then leave the task running forever.
    """
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not task.done():
        task.cancel()
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            raise TimeoutError(f"task {task.get_name()} did not stop within {timeout_s:g} s")
        await asyncio.wait({task}, timeout=min(1.0, remaining))
    with contextlib.suppress(asyncio.CancelledError):
        task.exception()
