"""A Ray address that answers but is not Ray (a plain HTTP or TCP server) is one line within the README's bound
(seconds), with no screens of Ray warnings, no traceback and no sweep folder."""
import http.server
import socket
import threading
import time

import pytest

from conftest import assert_one_line, cli

pytest.importorskip("ray", reason="pip install -r requirements-optional.txt")
BOUND_SECONDS = 10  # README, Sweeps: "one line within 10 seconds"


class QuietHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *arguments):  # the test reads stderr: the server keeps quiet
        pass


def http_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), QuietHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server.server_address[1], server.shutdown


def silent_tcp_server():
    """Accepts connections and never says a word."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted = []
    threading.Thread(target=lambda: accepted.extend(iter(lambda: listener.accept()[0], None)), daemon=True).start()
    return listener.getsockname()[1], listener.close


@pytest.mark.parametrize("server", [http_server, silent_tcp_server], ids=["http", "silent-tcp"])
def test_an_address_that_is_not_ray_is_one_line_within_the_bound(tmp_path, capfd, server):
    import keras  # noqa: F401  (its import logs come before the command's output is read)

    capfd.readouterr()
    port, stop = server()
    outputs = tmp_path / "outputs"
    started = time.monotonic()
    try:
        code = cli("mnist", ["sweep", "--grid", "learning_rate=0.01", "-m", "mlp_one_layer", "--executor", "ray",
                             "--ray-address", f"127.0.0.1:{port}", "--outputs", outputs])
    finally:
        stop()
    assert time.monotonic() - started < BOUND_SECONDS
    assert_one_line(capfd, code, 2, f"127.0.0.1:{port}", "is not a Ray cluster")
    assert not outputs.exists() or list(outputs.iterdir()) == []
    assert sorted(path.name for path in tmp_path.iterdir()) in ([], ["outputs"])
