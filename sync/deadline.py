"""Deadlines for HTTP requests: a total time, not a time per read.

httpx's timeouts count per socket operation, so a server that accepts and then sends nothing for a
long time, or dribbles its reply one byte at a time, keeps a request (and a `mirari sync`) running for
ever. Here every socket operation of a request made inside `deadline(...)` on the same thread waits at
most until that deadline; past it the operation fails as a timeout (httpx.ReadTimeout and friends).

`transport()` is an httpx transport whose connections honour it (httpcore's network backend, wrapped).
A request made outside any `deadline` block keeps httpx's own per-operation timeouts only.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpcore
import httpx

_local = threading.local()


@contextmanager
def deadline(seconds: float, until: float | None = None) -> Iterator[float]:
    """Requests made on this thread inside the block must end `seconds` from now, or at `until` (a
    time.monotonic() value: e.g. a cycle's own deadline) if that is sooner. Nested blocks only shorten."""
    previous = getattr(_local, "until", None)
    limit = time.monotonic() + seconds
    for other in (until, previous):
        if other is not None:
            limit = min(limit, other)
    _local.until = limit
    try:
        yield limit
    finally:
        _local.until = previous


def remaining() -> float | None:
    """Seconds left before this thread's deadline (None: no deadline)."""
    until = getattr(_local, "until", None)
    return None if until is None else until - time.monotonic()


def _bounded(timeout: float | None, error: type[Exception]) -> float | None:
    left = remaining()
    if left is None:
        return timeout
    if left <= 0:
        raise error("the request's deadline passed")
    return left if timeout is None else min(timeout, left)


class _Stream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream):
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _bounded(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _bounded(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context, server_hostname: str | None = None, timeout: float | None = None):
        return _Stream(self._inner.start_tls(ssl_context, server_hostname, _bounded(timeout, httpcore.ConnectTimeout)))

    def get_extra_info(self, info: str):
        return self._inner.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend):
        self._inner = inner

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        return _Stream(self._inner.connect_tcp(host, port, _bounded(timeout, httpcore.ConnectTimeout),
                                               local_address, socket_options))

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        return _Stream(self._inner.connect_unix_socket(path, _bounded(timeout, httpcore.ConnectTimeout),
                                                       socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def transport(**kwargs) -> httpx.HTTPTransport:
    """An httpx.HTTPTransport (same arguments) whose requests honour `deadline`."""
    made = httpx.HTTPTransport(**kwargs)
    pool = made._pool  # httpcore.ConnectionPool; its backend makes every connection (tests/sync guard this)
    pool._network_backend = _Backend(pool._network_backend)
    return made
