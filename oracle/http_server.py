"""The operator's HTTP server: uvicorn (h11) with the limits uvicorn does not have by itself.

uvicorn times out idle keep-alive connections, but not a client that opens a connection and sends
its request head slowly, or never finishes it (slowloris): each such connection would be held for
ever, and with ``limit_concurrency`` a few hundred of them would turn every other client away.
:class:`HeadTimeoutProtocol` closes a connection whose request head is not complete within
``header_timeout`` seconds of the connection (or of the previous response). Body limits and
timeouts are ``oracle.http_guard``'s.
"""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from .settings import HttpSettings


class HeadTimeoutProtocol(H11Protocol):
    """h11 protocol closing connections whose request head does not arrive in time."""

    header_timeout: float = 10.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._head_timer: asyncio.TimerHandle | None = None
        super().connection_made(transport)
        self._arm_head_timer()

    def _arm_head_timer(self) -> None:
        self._cancel_head_timer()
        self._head_timer = self.loop.call_later(self.header_timeout, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        timer = getattr(self, "_head_timer", None)
        if timer is not None:
            timer.cancel()
            self._head_timer = None

    def _waiting_for_head(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def handle_events(self) -> None:
        super().handle_events()
        if not self._waiting_for_head():  # a request head arrived: its body has the guard's deadlines
            self._cancel_head_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self._waiting_for_head():
            self._arm_head_timer()  # the next request on this connection gets the same deadline

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._waiting_for_head() and not self.transport.is_closing():
            self.logger.warning("closing a connection from %s: no complete request head within %.1fs",
                                self.client, self.header_timeout)
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)


def server_config(app: Any, host: str, port: int, http: HttpSettings) -> uvicorn.Config:
    protocol = type("OperatorH11Protocol", (HeadTimeoutProtocol,), {"header_timeout": http.header_timeout_seconds})
    return uvicorn.Config(app, host=host, port=port, http=protocol, log_level="warning", access_log=False,
                          lifespan="off", limit_concurrency=http.max_connections, timeout_keep_alive=5,
                          h11_max_incomplete_event_size=16 * 1024)
