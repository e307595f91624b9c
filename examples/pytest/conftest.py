import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from echo_server import EchoServer  # noqa: E402

# A fixed, well-known port: fine in a namespace of our own, where no other
# run of this suite (nor anything on the host) can hold it.
PORT = 8080


@pytest.fixture
def server():
    with EchoServer("127.0.0.1", PORT) as srv:
        yield srv


@pytest.fixture
def netns():
    name = os.environ.get("NSRUN_NETNS")
    if not name:
        pytest.skip("not run through nsrun")
    return name
