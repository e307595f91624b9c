"""A tiny line-echo TCP server and client, the code under test."""

import socket
import socketserver
import threading


class _Handler(socketserver.StreamRequestHandler):
    def handle(self):
        for line in self.rfile:
            self.wfile.write(b"echo: " + line)


class EchoServer(socketserver.ThreadingTCPServer):
    """Echoes each line back, prefixed with "echo: "."""

    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, host="127.0.0.1", port=0):
        super().__init__((host, port), _Handler)
        self._thread = threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.shutdown()
        self.server_close()


def ask(host, port, text, timeout=5.0):
    """Sends one line and returns the server's answer without the newline."""
    with socket.create_connection((host, port), timeout=timeout) as conn:
        conn.sendall(text.encode() + b"\n")
        reply = conn.makefile("rb").readline()
    return reply.decode().rstrip("\n")
