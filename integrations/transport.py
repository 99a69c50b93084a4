"""One bounded HTTP exchange with an address the host policy checked (``hosts.Target``).

- **Pinned.** The socket connects to one of the target's checked addresses; TLS still verifies
  the certificate against the name (SNI) and the Host header is the name, so a DNS answer that
  changes between the check and the call (rebinding) is never followed.
- **Deadline.** The whole exchange (connect, TLS, request, headers, body) ends at ``deadline``
  (a ``time.monotonic()`` value): a watchdog shuts the socket down then, so a server dripping
  one byte a second is cut off however short each read is. Each read also has ``read_timeout``.
- **Size cap.** The body is read in chunks and refused past ``max_bytes`` (a gzip body is
  decompressed in bounded steps against the same cap).
- **No redirects.** An answer is returned as is: the caller refuses a 3xx.

Errors say how far the request got: ``ConnectFailed`` (nothing was sent: safe to send again),
``NoAnswer`` (sent, no complete answer: the provider may have acted on it), ``TooLarge`` and
``TlsFailed`` (not worth another try).
"""

from __future__ import annotations

import contextlib
import functools
import heapq
import http.client
import logging
import os
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from integrations.fields import json_parse
from integrations.hosts import Target

logger = logging.getLogger(__name__)

CHUNK = 64 * 1024
USER_AGENT = "zopi-order-center/0.1"


class ConnectFailed(Exception):
    """No connection could be made (refused, unreachable, connect timeout): nothing was sent."""


class NoAnswer(Exception):
    """The request was sent (or sending began) and no complete answer came."""

    def __init__(self, message: str, *, deadline: bool = False) -> None:
        super().__init__(message)
        self.deadline = deadline  # the call's deadline cut it off (no time left for another try)


class TooLarge(Exception):
    """The answer is bigger than the cap."""


class TlsFailed(Exception):
    """The TLS handshake failed (a certificate not valid for the name, an old protocol, …)."""


class ResponseHeaders(Mapping[str, str]):
    """Answer headers, looked up whatever the case of the name (repeated ones joined by ", ")."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._values: dict[str, str] = {}
        for name, value in pairs:
            key = name.lower()
            self._values[key] = f"{self._values[key]}, {value}" if key in self._values else value

    def __getitem__(self, name: str) -> str:
        return self._values[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


@dataclass(frozen=True)
class Response:
    status_code: int
    headers: ResponseHeaders
    content: bytes
    url: str  # without the query

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The parsed body; ``ValueError`` when it is not JSON (``JsonTooDeep`` when nested too deeply)."""
        return json_parse(self.content)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to ``address``; ``host`` stays the name (Host header)."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float, read_timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address
        self.read_timeout = read_timeout

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(self.read_timeout)


class _PinnedHTTPSConnection(_PinnedHTTPConnection):
    """As above, then TLS verified against the name (SNI, certificate host name)."""

    def __init__(self, host: str, port: int, *, context: ssl.SSLContext, **kwargs: Any) -> None:
        super().__init__(host, port, **kwargs)
        self.context = context

    def connect(self) -> None:
        super().connect()
        self.sock = self.context.wrap_socket(self.sock, server_hostname=self.host)


class _Alarms:
    """One daemon thread per process running every watchdog's deadline (a heap of them), instead of
    a thread started for each exchange: starting a thread costs more CPU than a loopback call.

    A forked process (a prefork worker) starts its own thread on first use."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.lock = threading.Condition()
        self.heap: list[tuple[float, int, _Watchdog]] = []
        self.sequence = 0
        self.pid = 0

    def add(self, when: float, watchdog: _Watchdog) -> None:
        with self.lock:
            if self.pid != os.getpid():  # first use (and first use after a fork: threads do not follow)
                threading.Thread(target=self._run, name="zopi-http-watchdog", daemon=True).start()
                self.pid = os.getpid()
            self.sequence += 1
            heapq.heappush(self.heap, (when, self.sequence, watchdog))
            if self.heap[0][1] == self.sequence:
                self.lock.notify()

    def _run(self) -> None:
        with self.lock:
            while True:
                now = time.monotonic()
                while self.heap and self.heap[0][0] <= now:
                    _, _, watchdog = heapq.heappop(self.heap)
                    try:
                        watchdog.fire()
                    except Exception:  # never the end of every later deadline
                        logger.exception("an outbound call's watchdog failed")
                self.lock.wait(timeout=self.heap[0][0] - now if self.heap else None)


_ALARMS = _Alarms()
os.register_at_fork(after_in_child=_ALARMS.reset)  # a lock held at the fork stays held otherwise


class _Watchdog:
    """Shuts the connection's socket down at the deadline (a blocked read then returns)."""

    def __init__(self, connection: http.client.HTTPConnection, seconds: float) -> None:
        self.connection: http.client.HTTPConnection | None = connection
        self.seconds = max(0.0, seconds)
        self.armed = False
        self.fired = False

    def fire(self) -> None:
        """At the deadline (on the alarms' thread, under their lock): nothing once disarmed."""
        if not self.armed or self.connection is None:
            return
        self.fired = True
        sock = self.connection.sock
        if sock is not None:
            # The plain socket's shutdown, also under TLS: ``SSLSocket.shutdown`` unwraps first, and a
            # read running meanwhile would fail as a ValueError (taken for "nothing was sent"), not
            # as the cut-off connection it is.
            with contextlib.suppress(OSError):  # already closed
                socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def __enter__(self) -> _Watchdog:
        self.armed = True
        _ALARMS.add(time.monotonic() + self.seconds, self)
        return self

    def __exit__(self, *exc: object) -> None:
        with _ALARMS.lock:  # a fire() running now finishes first; none comes after
            self.armed = False
            self.connection = None  # (the heap keeps this watchdog until its deadline, not the connection)


PoolKey = tuple[str, str, int, str]


@functools.cache
def _tls_context(ca_file: str | None) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca_file)


class Transport:
    """Connections of one client, kept alive between calls that may be repeated (reads).

    Not shared between threads: one per provider client.
    """

    def __init__(self, *, ca_file: str | None = None) -> None:
        self.ca_file = ca_file or None
        self.idle: dict[PoolKey, http.client.HTTPConnection] = {}

    @property
    def context(self) -> ssl.SSLContext:
        """The TLS context, built on first use: loading the CA bundle costs ~10 ms of CPU, more than
        the rest of a supplier call, and a client that only talks to the loopback sandbox (or is
        built and never used) needs none. Shared: an ``SSLContext`` may wrap sockets from any thread."""
        return _tls_context(self.ca_file)

    def close(self) -> None:
        for connection in self.idle.values():
            connection.close()
        self.idle.clear()

    def _connect(
        self, target: Target, *, connect_timeout: float, read_timeout: float, deadline: float
    ) -> tuple[PoolKey, http.client.HTTPConnection]:
        last: OSError | None = None
        for address in target.addresses:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            options: dict[str, Any] = {
                "address": address,
                "timeout": min(connect_timeout, remaining),
                "read_timeout": read_timeout,
            }
            connection: http.client.HTTPConnection
            if target.scheme == "https":
                connection = _PinnedHTTPSConnection(target.host, target.port, context=self.context, **options)
            else:
                connection = _PinnedHTTPConnection(target.host, target.port, **options)
            try:
                with _Watchdog(connection, remaining):
                    connection.connect()
            except ssl.SSLError as error:  # includes certificate errors
                connection.close()
                raise TlsFailed(str(error.reason or error)) from error
            except OSError as error:
                connection.close()
                last = error
                continue
            return (target.scheme, target.host, target.port, address), connection
        raise ConnectFailed(type(last).__name__ if last else "no time left to connect")

    def exchange(
        self,
        target: Target,
        *,
        method: str,
        path: str,
        headers: Mapping[str, str],
        body: bytes,
        connect_timeout: float,
        read_timeout: float,
        deadline: float,
        max_bytes: int,
        reuse: bool,
    ) -> Response:
        """One request and its whole answer. ``reuse``: the call may be repeated, so a kept-alive
        connection may serve it (a write that may not be repeated always gets a fresh one, so a
        stale keep-alive can never make its outcome unknown)."""
        headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "gzip", **headers}
        for key in [key for key in self.idle if key[:3] == (target.scheme, target.host, target.port)]:
            if reuse and key[3] in target.addresses:
                connection = self.idle.pop(key)
                try:
                    return self._send(key, connection, method, path, headers, body, deadline, max_bytes, stale_ok=True)
                except _Stale:
                    break  # the server closed it while idle: a fresh connection below
            self.idle.pop(key).close()
        key, connection = self._connect(
            target, connect_timeout=connect_timeout, read_timeout=read_timeout, deadline=deadline
        )
        try:
            return self._send(key, connection, method, path, headers, body, deadline, max_bytes, stale_ok=False)
        except _Stale as stale:
            raise NoAnswer(str(stale)) from None

    def _send(
        self,
        key: PoolKey,
        connection: http.client.HTTPConnection,
        method: str,
        path: str,
        headers: Mapping[str, str],
        body: bytes,
        deadline: float,
        max_bytes: int,
        *,
        stale_ok: bool,
    ) -> Response:
        keep = False
        watchdog = _Watchdog(connection, deadline - time.monotonic())
        try:
            with watchdog:
                try:
                    connection.request(method, path, body=body or None, headers=dict(headers))
                    answer = connection.getresponse()
                except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as error:
                    if stale_ok and not watchdog.fired:
                        raise _Stale(type(error).__name__) from error
                    raise
                content = _read_body(answer, deadline=deadline, max_bytes=max_bytes)
            keep = not answer.will_close and not watchdog.fired
            return Response(
                status_code=answer.status,
                headers=ResponseHeaders(answer.getheaders()),
                content=content,
                url=f"{key[0]}://{key[1]}:{key[2]}{path.split('?', 1)[0]}",
            )
        except (OSError, http.client.HTTPException) as error:
            if watchdog.fired or time.monotonic() >= deadline:
                raise NoAnswer("no complete answer before the call's deadline", deadline=True) from error
            kind = "timed out" if isinstance(error, TimeoutError) else f"failed ({type(error).__name__})"
            raise NoAnswer(kind) from error
        finally:
            if keep:
                self.idle[key] = connection
            else:
                connection.close()


class _Stale(Exception):
    """A kept-alive connection the server had closed: nothing of the request was taken."""


def _read_body(answer: http.client.HTTPResponse, *, deadline: float, max_bytes: int) -> bytes:
    declared = answer.getheader("Content-Length")
    if declared is not None and declared.strip().isdigit() and int(declared) > max_bytes:
        raise TooLarge(f"the answer declares {int(declared)} bytes, more than the {max_bytes} allowed")
    gzipped = (answer.getheader("Content-Encoding") or "").strip().lower() == "gzip"
    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzipped else None
    content = bytearray()
    while True:
        if time.monotonic() >= deadline:
            raise TimeoutError("deadline")
        chunk = answer.read1(CHUNK)
        if not chunk:
            break
        if decoder is not None:
            try:
                chunk = decoder.decompress(chunk, max_bytes - len(content) + 1)
            except zlib.error as error:
                raise http.client.HTTPException(f"bad gzip body: {error}") from error
            if decoder.unconsumed_tail:
                raise TooLarge(f"the answer is more than the {max_bytes} bytes allowed")
        content += chunk
        if len(content) > max_bytes:
            raise TooLarge(f"the answer is more than the {max_bytes} bytes allowed")
    if answer.length:  # the connection ended before the declared length (EOF, or the watchdog)
        raise http.client.IncompleteRead(bytes(content[-16:]), answer.length)
    if decoder is not None:
        content += decoder.flush()
        if len(content) > max_bytes:
            raise TooLarge(f"the answer is more than the {max_bytes} bytes allowed")
    answer.close()  # read to the end: the connection is free for the next request
    return bytes(content)
