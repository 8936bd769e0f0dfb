"""Server-sent events to every open dashboard page, published from any thread."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
from typing import Any


class Broadcaster:
    """Fan events out to subscribers (one ``asyncio.Queue`` each, on its own loop).

    A subscriber that falls ``max_queue`` events behind is dropped (its page reconnects and
    reloads the state) rather than letting memory grow without bound.
    """

    def __init__(self, max_queue: int = 1000) -> None:
        self.max_queue = max_queue
        self._subs: dict[asyncio.Queue[str | None], asyncio.AbstractEventLoop] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    def subscribe(self) -> asyncio.Queue[str | None]:
        """A queue of SSE frames for the calling coroutine (``None``: dropped, reconnect)."""
        queue: asyncio.Queue[str | None] = asyncio.Queue(self.max_queue + 1)
        with self._lock:
            self._subs[queue] = asyncio.get_running_loop()
        return queue

    def unsubscribe(self, queue: asyncio.Queue[str | None]) -> None:
        with self._lock:
            self._subs.pop(queue, None)

    @property
    def subscribers(self) -> int:
        return len(self._subs)

    def publish(self, event: str, data: dict[str, Any]) -> None:
        """Send ``event`` with JSON ``data`` to every subscriber (from any thread)."""
        frame = f"id: {next(self._ids)}\nevent: {event}\ndata: {json.dumps(data)}\n\n"
        with self._lock:
            subs = list(self._subs.items())
        for queue, loop in subs:
            try:
                loop.call_soon_threadsafe(self._offer, queue, frame)
            except RuntimeError:  # the subscriber's loop is closed
                self.unsubscribe(queue)

    def _offer(self, queue: asyncio.Queue[str | None], frame: str) -> None:
        with self._lock:
            if queue not in self._subs:  # dropped while this frame was on its way
                return
        if queue.qsize() >= self.max_queue:
            self.unsubscribe(queue)
            queue.put_nowait(None)  # the one slot kept free for it: "reconnect"
            return
        queue.put_nowait(frame)
