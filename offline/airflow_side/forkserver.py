"""One preloaded Airflow process per (environment, module) that forks a child per request.

python -m offline.airflow_side.forkserver <socket> <module>   (inside .venv-airflow/<version>; offline/airflow_env.py starts it)

A DAG check or pipeline run in a new process spends most of its CPU before it reaches the DAG: importing Airflow and,
for a pipeline run, generating Cadwyn's routers for every execution-API version (Cadwyn builds them all on the first
request). Here that happens once, in this server, with `_AIRFLOW__AS_LIBRARY` set so that importing Airflow reads no
home or database yet. Each request then forks: the child takes the caller's stdin, stdout, stderr (passed over the
socket), working directory and environment, initialises Airflow from that environment as `import airflow` would
(`compat.initialize_as_imported`), and runs the module as `python -m <module> <args>` does. The server answers with
the child's exit code, as `subprocess` reports it.

The server forks from a single thread (fork and threads don't mix), exits after IDLE_SECONDS without work, and the
session that started it stops its process group, children included (offline/airflow_env.py: `stop_servers`).
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import json
import os
import runpy
import selectors
import signal
import socket
import sys
import traceback

#: How long a server waits for a request before it exits (a session that ended without stopping it, say).
IDLE_SECONDS = 300
#: stdin, stdout and stderr of each request, in that order.
STANDARD_STREAMS = 3


def _read_request(connection: socket.socket) -> tuple[dict, list[int]]:
    data, fds, _, _ = socket.recv_fds(connection, 1 << 16, STANDARD_STREAMS)
    chunks = [data]
    while chunk := connection.recv(1 << 16):
        chunks.append(chunk)
    return json.loads(b"".join(chunks)), fds


def _child(module: str, request: dict, fds: list[int]) -> None:
    """Become `python -m <module> <args>` in the caller's cwd and environment; never returns."""
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    code: object = 0
    try:
        from offline.airflow_side.compat import initialize_as_imported

        with contextlib.redirect_stdout(sys.stderr):  # where the modules import Airflow: their JSON owns stdout, not its logs
            initialize_as_imported()
        sys.modules.pop(module, None)  # run as __main__ from its file, as -m does (its imports stay preloaded)
        sys.argv = [module, *request["args"]]
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        code = exc.code
    except BaseException:  # what Python does with an uncaught exception: the traceback, then exit 1
        traceback.print_exc()
        code = 1
    finally:
        with contextlib.suppress(BaseException):
            atexit._run_exitfuncs()  # Airflow's (dispose_orm) and logging's, as at a normal exit
            sys.stdout.flush()
            sys.stderr.flush()
    if code is None or isinstance(code, int):
        os._exit(code or 0)
    print(code, file=sys.stderr)  # sys.exit("message"): Python prints it and exits 1
    os._exit(1)


def serve(path: str, module: str) -> int:
    preload = getattr(importlib.import_module(module), "preload", None)
    if preload is not None:
        preload()
    sys.stdout.flush()
    sys.stderr.flush()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(f"{path}.new")
    listener.listen(64)
    os.rename(f"{path}.new", path)  # the socket appears at `path` listening, once the preload is done
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # wakes select() through the pipe
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    selector.register(wake_read, selectors.EVENT_READ)
    running: dict[int, socket.socket] = {}
    while True:
        events = selector.select(timeout=IDLE_SECONDS)
        if not events and not running:
            os.unlink(path)
            return 0
        for key, _ in events:
            if key.fileobj is listener:
                connection, _ = listener.accept()
                request, fds = _read_request(connection)
                if (pid := os.fork()) == 0:
                    listener.close()
                    connection.close()
                    _child(module, request, fds)
                for fd in fds:
                    os.close(fd)
                running[pid] = connection
            else:
                os.read(wake_read, 4096)
        while running and (ended := os.waitpid(-1, os.WNOHANG))[0]:
            connection = running.pop(ended[0])
            with contextlib.suppress(OSError):  # a caller that gave up
                connection.sendall(str(os.waitstatus_to_exitcode(ended[1])).encode())
            connection.close()


if __name__ == "__main__":
    sys.exit(serve(sys.argv[1], sys.argv[2]))
