"""Real servers on 127.0.0.1 for the outbound client's tests: each connection's requests are
answered by the next step of a script (an answer, a drip, a hang, a reset, 50 MB, …), and every
connection and request is counted, so a test can assert that nothing reached a host."""

from __future__ import annotations

import contextlib
import gzip
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

Step = Callable[[socket.socket, "Request"], None]


@dataclass(frozen=True)
class Request:
    method: str
    target: str  # path and query as sent
    headers: dict[str, str]  # lower-cased names
    body: bytes


def answer(status: int = 200, body: bytes = b'{"ok": true}', headers: dict[str, str] | None = None) -> Step:
    def step(conn: socket.socket, request: Request) -> None:
        head = {"Content-Type": "application/json", "Content-Length": str(len(body)), **(headers or {})}
        lines = "".join(f"{name}: {value}\r\n" for name, value in head.items())
        conn.sendall(f"HTTP/1.1 {status} X\r\n{lines}\r\n".encode() + body)

    return step


def hang(seconds: float) -> Step:
    """Takes the request and says nothing for ``seconds``."""

    def step(conn: socket.socket, request: Request) -> None:
        time.sleep(seconds)

    return step


def reset() -> Step:
    """Takes the request, then resets the connection (RST) without a word."""

    def step(conn: socket.socket, request: Request) -> None:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    return step


def drip(every: float = 1.0, total: int = 10_000, *, in_headers: bool = False) -> Step:
    """Answers one byte every ``every`` seconds (each read is quick, the whole answer is not)."""

    def step(conn: socket.socket, request: Request) -> None:
        head = b"HTTP/1.1 200 OK\r\n"
        try:
            # In the headers: one header line that never ends; else a body that never completes.
            conn.sendall(head + (b"X-Slow: " if in_headers else f"Content-Length: {total}\r\n\r\n".encode()))
            for _ in range(total):
                conn.sendall(b"y" if in_headers else b"x")
                time.sleep(every)
        except OSError:
            return  # the client hung up: what the test wants

    return step


def flood(size: int, *, declared: bool = False) -> Step:
    """Sends ``size`` bytes as fast as the client reads (chunked unless ``declared``)."""

    def step(conn: socket.socket, request: Request) -> None:
        block = b"[" + b"0," * 32_767 + b"0"
        try:
            if declared:
                conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n".encode())
            else:
                conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            sent = 0
            while sent < size:
                if declared:
                    conn.sendall(block)
                else:
                    conn.sendall(f"{len(block):x}\r\n".encode() + block + b"\r\n")
                sent += len(block)
        except OSError:
            return

    return step


def gzip_bomb(size: int) -> Step:
    packed = gzip.compress(b" " * size, compresslevel=9)
    return answer(200, packed, {"Content-Encoding": "gzip"})


@dataclass
class Server:
    """Answers the n-th request with ``script[n]`` (the last step repeats). Keep-alive: a
    connection's further requests are read too. ``tls``: an SSL context to serve https."""

    script: list[Step]
    tls: ssl.SSLContext | None = None
    requests: list[Request] = field(default_factory=list)
    connections: int = 0

    def __post_init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"
        self.lock = threading.Lock()
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while self.running:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        try:
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
            conn.settimeout(30)
            reader = conn.makefile("rb")
            while True:
                request = _read_request(reader)
                if request is None:
                    return
                with self.lock:
                    index = len(self.requests)
                    self.requests.append(request)
                self.script[min(index, len(self.script) - 1)](conn, request)
        except (OSError, ssl.SSLError):
            return
        finally:
            conn.close()

    def close(self) -> None:
        self.running = False
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accept() under way
        self.sock.close()
        self.thread.join(timeout=5)


def _read_request(reader: object) -> Request | None:
    readline = reader.readline  # type: ignore[attr-defined]
    first = readline(65536)
    if not first:
        return None
    method, target, _ = first.decode().split(" ", 2)
    headers: dict[str, str] = {}
    while True:
        line = readline(65536)
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode().partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0") or 0)
    body = reader.read(length) if length else b""  # type: ignore[attr-defined]
    return Request(method, target, headers, body)


@contextmanager
def serving(*script: Step, tls: ssl.SSLContext | None = None) -> Iterator[Server]:
    server = Server(list(script), tls=tls)
    try:
        yield server
    finally:
        server.close()
