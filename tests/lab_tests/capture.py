"""A packet capture on the machine's side of the lab hosts' veths (every frame a host sends or
receives on a bridge crosses its veth; the bridge device itself sees only the machine's own
traffic), kept in memory to look for a string sent in clear.

Example::

    with Capture(["pq1c1s", "pq1c2s"]) as capture:
        ...                                   # traffic between the hosts
    assert b"marker" not in capture.data
"""

from __future__ import annotations

import socket
import threading

ETH_P_ALL = 0x0003  # every protocol


class Capture:
    """Raw frames of ``interfaces`` (AF_PACKET, root) between ``__enter__`` and ``__exit__``."""

    def __init__(self, interfaces: list[str]) -> None:
        self.interfaces = interfaces
        self.frames: list[bytes] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> "Capture":
        for name in self.interfaces:
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
            sock.bind((name, 0))
            sock.settimeout(0.2)
            thread = threading.Thread(target=self._read, args=(sock,), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def _read(self, sock: socket.socket) -> None:
        with sock:
            while not self._stop.is_set():
                try:
                    self.frames.append(sock.recv(65535))
                except socket.timeout:
                    continue

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    @property
    def data(self) -> bytes:
        """Every captured frame, one after the other."""
        return b"".join(self.frames)
