"""Run through nsrun: nsrun -- python3 -m pytest -q examples/pytest

Set NSRUN_PYTEST_FAIL=1 to make test_deliberate_failure fail (exit 1).
"""

import os

import pytest

from conftest import PORT
from echo_server import ask


def test_roundtrip(server):
    assert ask("127.0.0.1", PORT, "hello") == "echo: hello"


def test_many_clients(server):
    answers = [ask("127.0.0.1", PORT, f"client {i}") for i in range(20)]
    assert answers == [f"echo: client {i}" for i in range(20)]


def test_refused_without_server():
    with pytest.raises(ConnectionRefusedError):
        ask("127.0.0.1", PORT, "anyone?")


def test_only_loopback(netns):
    assert os.listdir("/sys/class/net") == ["lo"]


def test_deliberate_failure():
    if not os.environ.get("NSRUN_PYTEST_FAIL"):
        pytest.skip("set NSRUN_PYTEST_FAIL=1 to see a failing run give exit 1")
    assert ask.__name__ == "a failing assertion", "failing on request"
