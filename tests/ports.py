"""Free loopback ports for the servers the tests start (Orthanc, PostgreSQL, uvicorn).

Asking the kernel for port 0 once per server is not enough: a socket closed right after
``bind`` frees its port, and the next request may be handed the same one (CI saw Orthanc
given one port for both its HTTP and DICOM servers). Ports are therefore chosen while
every socket of the request is still bound, and never handed out twice in a process.
"""

from __future__ import annotations

import contextlib
import socket

_HANDED_OUT: set[int] = set()
#: Tries a server gets to start: another test process (xdist) may take its port between
#: the choice and the server's bind.
START_ATTEMPTS = 3


def free_ports(count: int) -> list[int]:
    """``count`` distinct free loopback ports, none returned before in this process."""
    ports: list[int] = []
    with contextlib.ExitStack() as held:
        while len(ports) < count:
            sock = held.enter_context(socket.socket())
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
            if port not in _HANDED_OUT:
                ports.append(port)
                _HANDED_OUT.add(port)
    return ports


def free_port() -> int:
    """One free loopback port (see :func:`free_ports`)."""
    return free_ports(1)[0]
