"""A loopback port that accepts connections and never answers (a hung server)."""

from __future__ import annotations

import socket
from types import TracebackType


class BlackHole:
    """``with BlackHole() as hole:``; ``hole.url`` connects at once, then hangs forever.

    The kernel completes TCP handshakes into the listen backlog, so a client's connect
    succeeds and its request waits for an answer that never comes.
    """

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> BlackHole:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._sock.close()
