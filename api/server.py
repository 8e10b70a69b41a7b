"""How `sentinel api` runs uvicorn: timeouts for idle and slow connections, bounded request heads.

uvicorn closes a keep-alive connection after `timeout_keep_alive` idle seconds once a response was
sent, and bounds a request head to `h11_max_incomplete_event_size` bytes, but it has no deadline for
the head itself: a client that opens a connection and sends nothing, or half a header line, holds
it forever. HeaderTimeoutH11 adds that deadline. Slow *bodies* are the guard's (api.guard: 408).

Example:
    uvicorn.Server(uvicorn_config(create_app(app), host="127.0.0.1", port=8000)).run()
"""

from __future__ import annotations

from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

KEEP_ALIVE_S = 5  # idle seconds between requests on one connection
HEADER_TIMEOUT_S = 10.0  # from the first byte of a request (or the connection) to the end of its head
MAX_HEAD_BYTES = 16 * 1024  # request line and headers; real ones are well under 8 KB


def header_timeout_protocol(timeout_s: float) -> type[H11Protocol]:
    """uvicorn's h11 protocol, closing a connection whose request head does not arrive within `timeout_s`."""

    class HeaderTimeoutH11(H11Protocol):
        _head_timer = None

        def connection_made(self, transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()  # a connection that never sends a byte is closed too

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self._between_requests():
                if self._head_timer is None:
                    self._arm()  # the next request has begun: its head must be complete in time
            else:
                self._disarm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _between_requests(self) -> bool:
            return self.cycle is None or self.cycle.response_complete

        def _arm(self) -> None:
            self._head_timer = self.loop.call_later(timeout_s, self._head_too_slow)

        def _disarm(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_too_slow(self) -> None:
            self._head_timer = None
            if self._between_requests() and not self.transport.is_closing():
                self.transport.close()

    return HeaderTimeoutH11


def uvicorn_config(asgi_app: Any, *, host: str, port: int, log_level: str = "info",
                   header_timeout_s: float = HEADER_TIMEOUT_S, **extra: Any) -> uvicorn.Config:
    """The uvicorn.Config `sentinel api` serves with (tests serve the same one)."""
    return uvicorn.Config(asgi_app, host=host, port=port, log_level=log_level, server_header=False,
                          http=header_timeout_protocol(header_timeout_s), timeout_keep_alive=KEEP_ALIVE_S,
                          h11_max_incomplete_event_size=MAX_HEAD_BYTES, **extra)
