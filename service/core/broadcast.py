"""Server-sent events to every open dashboard page, published from any thread, replayable.

Every event has an id ``<epoch>-<n>``: ``epoch`` names this process, ``n`` counts. The last
``keep`` events are kept, so a page that reconnects (``Last-Event-ID``) or that subscribes after
its state was rendered (``since``, the id the state was made at) gets what it missed; when that
is no longer kept, or the id is from another process, it gets a ``reset`` and reloads the state.
Streams are short-lived on purpose (see the events route): a server can only stop once its
open responses have ended.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
from collections import deque
from typing import Any

RESET = "event: reset\ndata: {}\n\n"


class Broadcaster:
    """Fan events out to subscribers (one ``asyncio.Queue`` each, on its own loop).

    A subscriber that falls ``max_queue`` events behind is dropped (its page reconnects and
    catches up from the kept events) rather than letting memory grow without bound.
    """

    def __init__(self, max_queue: int = 1000, keep: int = 2000) -> None:
        self.max_queue = max_queue
        self.epoch = secrets.token_hex(4)
        self._subs: dict[asyncio.Queue[str | None], asyncio.AbstractEventLoop] = {}
        self._recent: deque[tuple[int, str]] = deque(maxlen=keep)
        self._lock = threading.Lock()
        self._n = 0

    @property
    def last_id(self) -> str:
        """The id of the newest event (``<epoch>-0`` before the first)."""
        with self._lock:
            return f"{self.epoch}-{self._n}"

    def _replay(self, since: str | None) -> list[str]:
        if since is None:
            return []
        epoch, _, n = since.partition("-")
        if epoch != self.epoch or not n.isdigit() or int(n) > self._n:
            return [RESET]
        seen = int(n)
        if seen < self._n and (not self._recent or self._recent[0][0] > seen + 1):
            return [RESET]  # some of what it missed is no longer kept
        return [frame for i, frame in self._recent if i > seen]

    def subscribe(self, since: str | None = None) -> asyncio.Queue[str | None]:
        """A queue of SSE frames for the calling coroutine, starting after event ``since``.

        ``None`` in the queue means the subscriber was dropped: end the stream.
        """
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        with self._lock:  # replay and registration in one step: nothing lost, nothing twice
            for frame in self._replay(since):
                queue.put_nowait(frame)
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
        with self._lock:
            self._n += 1
            frame = f"id: {self.epoch}-{self._n}\nevent: {event}\ndata: {json.dumps(data)}\n\n"
            self._recent.append((self._n, frame))
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
            queue.put_nowait(None)
            return
        queue.put_nowait(frame)
