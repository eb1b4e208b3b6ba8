"""`serve`: bind the address first (a port in use is one line, before any work), load the run index, then hand the
socket to uvicorn. Every failure a user can cause is a UserError line, never a traceback."""
import errno
import socket
from pathlib import Path

from utils.core.errors import UserError


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port, or one line saying why not (in use, not an address of this machine)."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    except socket.gaierror as error:
        raise UserError(f"--host {host} is not a known address ({error.strerror}); e.g. --host 127.0.0.1.", exit_code=2)
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
        listener.listen(128)
    except OSError as error:
        listener.close()
        if error.errno == errno.EADDRINUSE:
            raise UserError(f"port {port} on {host} is already in use (another serve?); pass a free one: --port N.")
        if error.errno == errno.EACCES:
            raise UserError(f"port {port} needs privileges to bind; pass --port 1024 or above.")
        raise UserError(f"cannot listen on {host}:{port}: {error.strerror}; pass another --host or --port.")
    return listener


def serve(outputs, host: str, port: int, task: str) -> int:
    if not Path(outputs).is_dir():
        what = "is a file, not a folder" if Path(outputs).exists() else "does not exist"
        raise UserError(f"--outputs {outputs} {what}; pass the folder that holds the run folders.", exit_code=2)
    import uvicorn

    from utils.serve.app import create_app
    from utils.serve.live import RunStore

    listener = bind(host, port)
    store = RunStore(outputs).start()
    shown_host = f"[{host}]" if ":" in host else host
    count = len(store.snapshot.rows)
    print(f"serving {count:,} run{'s' if count != 1 else ''} of {outputs} at http://{shown_host}:{listener.getsockname()[1]}/ "
          f"(read-only; Ctrl-C stops)", flush=True)
    server = uvicorn.Server(uvicorn.Config(create_app(store, task), log_level="warning", access_log=False))
    try:
        server.run(sockets=[listener])
    finally:
        store.stop()
        listener.close()
    return 0
