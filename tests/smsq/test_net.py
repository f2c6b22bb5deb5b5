"""The ports ``smsq dev`` binds: the same ones from one start to the next."""

from __future__ import annotations

import socket

from smsq.net import free_port, port_or_free


def _left_in_time_wait() -> int:
    """A port whose server closed a connection first: the kernel keeps it in TIME_WAIT for a
    minute, though nothing listens on it any more (what a stopped ``smsq dev`` leaves behind)."""
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port: int = listener.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)) as client:
            served, _ = listener.accept()
            served.close()  # the server side closes first: its end goes to TIME_WAIT
            client.recv(1)
    return port


def test_a_port_left_in_time_wait_is_taken_again() -> None:
    port = _left_in_time_wait()

    assert port_or_free(port) == port
    with socket.socket() as server:  # and a server can listen there, as the dev stack's do
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", port))
        server.listen()


def test_a_port_something_listens_on_is_not() -> None:
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", 0))
        server.listen()
        taken = server.getsockname()[1]

        other = port_or_free(taken)

    assert other != taken
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", other))


def test_a_free_port_is_returned_as_asked() -> None:
    port = free_port()

    assert port_or_free(port) == port
