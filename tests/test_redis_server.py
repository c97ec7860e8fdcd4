"""The Redis test fixture itself: a real server that answers, and stops and starts by pid."""

import socket

import pytest

from tests.redis_server import RedisServer


def _ping(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as connection:
        connection.sendall(b"PING\r\n")
        return connection.recv(16)


def test_the_fixture_runs_a_real_redis_that_stops_and_starts_again(
    redis_server: RedisServer, redis_url: str
) -> None:
    assert redis_url == f"redis://127.0.0.1:{redis_server.port}/0"
    assert _ping(redis_server.port) == b"+PONG\r\n"
    redis_server.stop()
    with pytest.raises(ConnectionRefusedError):
        _ping(redis_server.port)
    redis_server.start()
    assert _ping(redis_server.port) == b"+PONG\r\n"
