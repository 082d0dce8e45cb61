"""The checks of HOST:PORT that scripts/run_dev.sh makes (`make run`), standard library only.

server_port.py free HOST PORT             status 0 when a server can listen there; otherwise 1 and a
                                          sentence saying what to set instead
server_port.py wait HOST PORT PID [PID…]  status 0 once something accepts connections there, 1 as soon
                                          as one of the processes PID has ended, 2 after --timeout seconds
"""

import argparse
import errno
import os
import signal
import socket
import sys
import time
from pathlib import Path

# How far above a taken port to look for a free one to suggest.
SUGGESTION_RANGE = 100


def address(host: str, port: int) -> tuple[socket.AddressFamily, tuple]:
    """The socket address runserver binds for HOST: IPv6 for an IPv6 literal ([::1] or ::1), IPv4 otherwise."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    info = socket.getaddrinfo(host.strip("[]"), port, family, socket.SOCK_STREAM)
    return info[0][0], info[0][4]


def bind_error(host: str, port: int) -> OSError | None:
    """Why a server could not listen on host:port now, or None when it could."""
    family, sockaddr = address(host, port)
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As runserver does: a port whose last connections are only closing (TIME_WAIT) is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(sockaddr)
        except OSError as error:
            return error
    return None


def free_port_above(host: str, port: int) -> int | None:
    for candidate in range(port + 1, min(port + SUGGESTION_RANGE, 65535) + 1):
        if bind_error(host, candidate) is None:
            return candidate
    return None


def refusal(host: str, port_text: str) -> str | None:
    """The sentence saying why nothing can serve on host:port_text and what to set, or None when it is free."""
    if not (port_text.isascii() and port_text.isdigit() and 1 <= int(port_text) <= 65535):
        return f"PORT={port_text} is not a port number: set PORT to one from 1 to 65535, e.g. PORT=8000."
    port = int(port_text)
    try:
        error = bind_error(host, port)
    except (socket.gaierror, UnicodeError):
        return f"HOST={host} is not a host name or address this machine knows: set HOST=127.0.0.1 (or 0.0.0.0)."
    if error is None:
        return None
    if error.errno == errno.EADDRINUSE:
        other = free_port_above(host, port)
        instead = f"PORT={other}" if other else "PORT=…"
        return f"Port {port} on {host} is taken (by another server?): set {instead} to use another."
    if error.errno == errno.EACCES:
        return f"Port {port} on {host} needs privileges this user lacks (ports below 1024 do): set PORT=8000."
    if error.errno == errno.EADDRNOTAVAIL:
        return f"{host} is not an address of this machine: set HOST=127.0.0.1 (or 0.0.0.0 for every address)."
    return f"Cannot serve on port {port} of {host}: {error.strerror}."


def is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # An ended child its parent has not collected yet still answers kill; Linux says it is a zombie.
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def answers(host: str, port: int) -> bool:
    """Whether something accepts connections on host:port (a wildcard host is asked on loopback)."""
    asked = {"0.0.0.0": "127.0.0.1", "::": "::1", "[::]": "::1"}.get(host, host)
    family, sockaddr = address(asked, port)
    with socket.socket(family, socket.SOCK_STREAM) as connection:
        connection.settimeout(1.0)
        try:
            connection.connect(sockaddr)
        except OSError:
            return False
    return True


def wait_until_answering(host: str, port: int, pids: list[int], timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while True:
        if not all(is_running(pid) for pid in pids):
            return 1
        if answers(host, port):
            return 0
        if time.monotonic() >= deadline:
            return 2
        time.sleep(0.2)


def main(argv: list[str]) -> int:
    # A Ctrl-C while this runs is for the script that called it: end quietly, without a traceback.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    free = commands.add_parser("free", help="whether a server can listen on HOST:PORT")
    free.add_argument("host")
    free.add_argument("port")
    wait = commands.add_parser("wait", help="wait until something accepts connections on HOST:PORT")
    wait.add_argument("host")
    wait.add_argument("port", type=int)
    wait.add_argument("pids", type=int, nargs="+", metavar="PID", help="stop waiting when one of these has ended")
    wait.add_argument("--timeout", type=float, default=60.0, help="seconds (default 60)")
    options = parser.parse_args(argv)
    if options.command == "free":
        sentence = refusal(options.host, options.port)
        if sentence is not None:
            print(sentence, file=sys.stderr)
            return 1
        return 0
    return wait_until_answering(options.host, options.port, options.pids, options.timeout)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
