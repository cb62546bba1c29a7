"""The gateway's body buffering (services/gateway/server.py): a body is read
whole before any worker is taken, within its time, capped at the size limit."""

import io

import eventlet

from services.gateway.server import buffer_body


class Trickle(io.RawIOBase):
    """A body that arrives a byte per `pause` seconds."""

    def __init__(self, data, pause):
        self.data, self.pause = data, pause

    def read(self, n=-1):
        if not self.data:
            return b""
        eventlet.sleep(self.pause)
        byte, self.data = self.data[:1], self.data[1:]
        return byte


def environ(body, length=None, chunked=False):
    env = {"wsgi.input": body}
    if chunked:
        env["HTTP_TRANSFER_ENCODING"] = "chunked"
    if length is not None:
        env["CONTENT_LENGTH"] = str(length)
    return env


def test_a_body_is_buffered_whole_and_its_length_set():
    env = environ(io.BytesIO(b'{"a": 1}'), 8)
    assert buffer_body(env, limit=100, seconds=1)
    assert env["wsgi.input"].read() == b'{"a": 1}' and env["CONTENT_LENGTH"] == "8"


def test_a_chunked_body_is_read_up_to_one_byte_past_the_limit_then_left_to_the_413():
    env = environ(io.BytesIO(b"x" * 500), chunked=True)
    assert buffer_body(env, limit=100, seconds=1)
    assert env["CONTENT_LENGTH"] == "101" and "HTTP_TRANSFER_ENCODING" not in env


def test_an_announced_oversized_body_is_not_read():
    body = io.BytesIO(b"x" * 500)
    assert buffer_body(environ(body, 500), limit=100, seconds=1)
    assert body.tell() == 0


def test_a_trickled_body_runs_out_of_time():
    assert not buffer_body(environ(Trickle(b"x" * 50, 0.05), 50), limit=100, seconds=0.5)


def test_no_body_nothing_read():
    env = environ(io.BytesIO(b""))
    assert buffer_body(env, limit=100, seconds=1) and "CONTENT_LENGTH" not in env
