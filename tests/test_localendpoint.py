"""qengine.localendpoint over real HTTP on 127.0.0.1: what every plugin's credential endpoint
gets from it (loopback only, the answer function's replies, 501 for other methods, no body for
HEAD, nothing after the run) and the constant-time secret check."""

from __future__ import annotations

import http.client
from email.message import Message

import pytest

from qengine.localendpoint import METHODS, LocalEndpoint, Reply, same_secret, secret_path


def _request(port: int, method: str, path: str = "/") -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request(method, path, headers={"X-Probe": "yes"})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def _echo(method: str, path: str, headers: Message) -> Reply:
    body = f"{method} {path} {headers.get('X-Probe')}".encode()
    return Reply(200, body, "text/plain", {"Metadata-Flavor": "Google"})


def test_each_request_is_answered_by_the_answer_function() -> None:
    with LocalEndpoint(_echo, name="test endpoint") as endpoint:
        status, headers, body = _request(endpoint.port, "GET", "/a/b?c=1")
    assert (status, body) == (200, b"GET /a/b?c=1 yes")
    assert headers["Metadata-Flavor"] == "Google"
    assert headers["Content-Type"] == "text/plain"
    assert headers["Cache-Control"] == "no-store"
    assert "Python" not in headers["Server"]


def test_a_method_not_taken_is_501_and_the_answer_function_is_not_called() -> None:
    called: list[str] = []

    def answer(method: str, path: str, headers: Message) -> Reply:
        called.append(method)
        return Reply(200, b"{}")

    with LocalEndpoint(answer, name="test endpoint") as endpoint:
        assert _request(endpoint.port, "POST")[0] == 501
        assert _request(endpoint.port, "GET")[0] == 200
    assert called == ["GET"]


def test_a_head_answer_has_no_body() -> None:
    with LocalEndpoint(_echo, name="test endpoint", methods=METHODS) as endpoint:
        status, headers, body = _request(endpoint.port, "HEAD")
    assert (status, body) == (200, b"")
    assert headers["Content-Length"] == str(len(b"HEAD / yes"))


def test_it_listens_on_loopback_only_and_not_after_the_run() -> None:
    with LocalEndpoint(_echo, name="test endpoint") as endpoint:
        port = endpoint.port
        with pytest.raises(ConnectionRefusedError):
            http.client.HTTPConnection("127.0.0.2", port, timeout=2).connect()
    assert not endpoint.running
    with pytest.raises(RuntimeError, match="the test endpoint is not running"):
        _ = endpoint.port
    with pytest.raises(ConnectionRefusedError):
        _request(port, "GET")


def test_an_unknown_method_is_refused_when_built() -> None:
    with pytest.raises(ValueError, match="TRACE"):
        LocalEndpoint(_echo, name="test endpoint", methods=("GET", "TRACE"))


def test_secrets_are_fresh_and_compared_whatever_the_text() -> None:
    one, two = secret_path(), secret_path()
    assert one != two
    assert len(one) >= 30
    assert same_secret(one, one)
    assert not same_secret(one, two)
    # A path decoded from a request may hold any character: compared, not an error.
    assert not same_secret("\u00e9" + one[1:], one)


def test_an_answer_that_fails_is_a_bare_500_and_its_error_is_printed_nowhere(
    capfd: pytest.CaptureFixture[str],
) -> None:
    def answer(method: str, path: str, headers: Message) -> Reply:
        raise RuntimeError("could not mint a token for s3cr3t-client")

    with LocalEndpoint(answer, name="test endpoint") as endpoint:
        status, _, body = _request(endpoint.port, "GET")
    assert status == 500
    assert b"s3cr3t" not in body
    out, err = capfd.readouterr()
    assert "s3cr3t" not in out + err
