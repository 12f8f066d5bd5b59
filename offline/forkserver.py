"""Preloaded processes that fork a child per command, so a command skips the imports every new process repeats.

python -m offline.forkserver <socket> <module>   (started by `call`, in whichever environment runs <module>)
python -m offline.forkserver --session <command> [args]   (a session for every command <command> starts: .ci/run)

A DAG check or pipeline run spends most of its CPU before it reaches the DAG: importing Airflow and, for a run,
generating Cadwyn's routers for every execution-API version; a command of the toolchain spends most of its own
importing the Pulumi providers' modules its program uses. A server imports <module> and calls its `preload()` once.
Each request then forks: the child takes the caller's stdin, stdout and stderr (passed over the socket), working
directory and environment, calls the module's `after_fork()` if it has one (the Airflow side sets Airflow up from the
request's environment there: airflow_side/compat.py), and runs as `python -m <module> <args>` does. The caller gets
the child's exit code as `subprocess` reports it, so `call` stands in for `subprocess.run(..., capture_output=True)`.

Servers belong to a session, a folder named by $OFFLINE_FORK_SERVERS that every process the session starts inherits (a
`bin/offline` run, a pytest session, or all that `--session <command>` starts, as CI does): the first caller that needs
a server for (interpreter, module, checkout) starts it, the rest share it, and the process that made the folder stops
every server and its children when it exits. The Airflow side's servers stand for the content of offline/ rather than
for a checkout, so CI's fork-like copy forks from the main checkout's. A server also exits after IDLE_SECONDS without
work. OFFLINE_FORK=0 runs each command in a new process instead (to compare, or to rule the servers out). Only the
standard library: it runs in the toolchain and in every Airflow environment.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import gc
import hashlib
import importlib
import importlib.util
import json
import os
import runpy
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

#: The folder of this session's servers, inherited by every process the session starts.
SERVERS = "OFFLINE_FORK_SERVERS"
#: Set to 0 for a new process per command instead.
FORK = "OFFLINE_FORK"
#: How long a server waits for a request before it exits (a session that ended without stopping it, say).
IDLE_SECONDS = 300
#: stdin, stdout and stderr of each request, in that order.
STANDARD_STREAMS = 3
#: What a server sends once it has forked a request's child; the child's exit code follows when it ends.
_STARTED_MARK = b"+"


# --- the caller's side -------------------------------------------------------------------------------------------


def call(
    python: Path,
    module: str,
    args: list[str],
    cwd: Path,
    env: dict[str, str],
    stdin: str = "",
    server_env: dict[str, str] | None = None,
    shared_by: Path | None = None,
    preloaded_by: str | None = None,
) -> subprocess.CompletedProcess:
    """`python -m <module> <args>` in `cwd` with `env`, forked from the session's server for (python, module, cwd),
    which starts with `server_env` (default `env`) if it isn't running; reported as `subprocess.run(..., text=True,
    capture_output=True)` reports it. With `shared_by`, a package whose children import only from there and from the
    paths of the request, the content of that package stands for `cwd`: checkouts with the same sources there share a
    server (the Airflow side, for CI's fork-like copy). With `preloaded_by`, the server is that module's (its preload
    and after_fork), which then runs `module` (pytest, inside an Airflow environment)."""
    if os.environ.get(FORK) == "0":
        command = [str(python), "-m", module, *args]
        return subprocess.run(command, input=stdin, capture_output=True, text=True, cwd=cwd, env=env)
    request = {"module": module, "args": args, "cwd": str(cwd), "env": env}
    identity = _sources_digest(shared_by) if shared_by else str(cwd)
    server_module = preloaded_by or module
    path, pid = _server(python, server_module, identity, cwd, server_env or env)
    try:
        return _forked(path, request, stdin)
    except _NotStartedError:  # its server stopped before it took the request (idle, or killed): another one runs it
        return _forked(_server(python, server_module, identity, cwd, server_env or env, replacing=pid)[0], request, stdin)


def _sources_digest(package: Path) -> str:
    """A digest of the Python files under `package`, by relative path and content."""
    digest = hashlib.sha256()
    for file in sorted(package.rglob("*.py")):
        if "__pycache__" not in file.parts:
            digest.update(file.relative_to(package).as_posix().encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()


def session() -> Path:
    """This session's folder: inherited, or made now and cleaned up (servers stopped) when this process exits.

    A command calls it before it starts the processes that should share its servers."""
    if folder := os.environ.get(SERVERS):
        return Path(folder)
    # Under /tmp where there is one: a socket's path must stay short (104 bytes on macOS, whose $TMPDIR alone is ~50).
    folder = Path(tempfile.mkdtemp(prefix="fork-servers-", dir="/tmp" if os.path.isdir("/tmp") else None))
    os.environ[SERVERS] = str(folder)
    atexit.register(stop_servers, folder)
    return folder


def stop_servers(folder: Path) -> None:
    """Stop every server of a session, with whatever it is still running (each leads its own process group)."""
    for pid_file in folder.glob("*.pid"):
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.killpg(int(pid_file.read_text()), signal.SIGTERM)
    shutil.rmtree(folder, ignore_errors=True)


def within_session(command: list[str]) -> int:
    """Run `command` in a session of its own: every command it starts shares its servers (CI's phases, one after
    another and side by side, each preload once), and they stop when it ends; returns its exit code."""
    session()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))  # stopped: its servers go too (atexit)
    try:
        return subprocess.run(command).returncode
    except KeyboardInterrupt:  # Ctrl-C reached the command too, which says what it stopped; no traceback from here
        return 128 + signal.SIGINT


_STARTED: list[subprocess.Popen] = []  # kept so that Popen doesn't warn that they still run; the OS reaps them


def _server(python: Path, module: str, identity: str, cwd: Path, env: dict[str, str], replacing: int | None = None) -> tuple[Path, int]:
    """(socket, pid) of the session's server for (python, module, identity), started in `cwd` and preloaded first if it
    isn't running, or if it is the server `replacing` names (one that failed to take a request: stopped for good here)."""
    folder = session()
    environment = python.parent.resolve() / python.name  # a linked environment (the fork-like copy's) is the same one
    key = hashlib.sha256(f"{environment}\0{module}\0{identity}".encode()).hexdigest()[:12]
    path, pid_file, log = folder / f"{key}.sock", folder / f"{key}.pid", folder / f"{key}.log"
    with (folder / f"{key}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one starter per server, across threads and processes
        running = _running(pid_file)
        if running is not None and running == replacing:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(running, signal.SIGKILL)
        elif running is not None and path.exists():
            return path, running
        path.unlink(missing_ok=True)
        with log.open("w") as output:
            server = subprocess.Popen(
                [str(python), "-m", "offline.forkserver", str(path), module],
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stopping it stops its children
            )
        _STARTED.append(server)
        pid_file.write_text(str(server.pid))
        while not path.exists():
            if server.poll() is not None:
                raise RuntimeError(f"the fork server for {module} in {python} exited ({server.returncode}):\n{log.read_text()[-4000:]}")
            time.sleep(0.02)
    return path, server.pid


def _running(pid_file: Path) -> int | None:
    """The pid in `pid_file` if that process still runs."""
    try:
        pid = int(pid_file.read_text())
        with contextlib.suppress(ChildProcessError):  # started by this process: reap it if it has ended
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return None
        os.kill(pid, 0)
    except (FileNotFoundError, ProcessLookupError, ValueError):
        return None
    return pid


class _NotStartedError(ConnectionError):
    """The server closed the connection before it acknowledged the request: nothing ran."""


def _forked(path: Path, request: dict, stdin: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryFile() as given, tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        given.write(stdin.encode())
        given.seek(0)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            try:
                connection.connect(str(path))
                socket.send_fds(connection, [json.dumps(request).encode()], [given.fileno(), out.fileno(), err.fileno()])
                connection.shutdown(socket.SHUT_WR)
                started = connection.recv(1) == _STARTED_MARK
            except (ConnectionError, FileNotFoundError) as exc:
                raise _NotStartedError(path) from exc
            if not started:
                raise _NotStartedError(path)
            answer = b""
            with contextlib.suppress(ConnectionError):  # the server died: reported below, as no exit code
                answer = b"".join(iter(lambda: connection.recv(64), b""))
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    if not answer:
        raise RuntimeError(f"the fork server at {path} stopped before its child finished:\n{stderr[-4000:]}")
    return subprocess.CompletedProcess([request["module"], *request["args"]], int(answer), stdout, stderr)


# --- the server's side -------------------------------------------------------------------------------------------


def _main_module(module: str) -> str:
    """What `python -m <module>` executes: the module, or a package's __main__."""
    spec = importlib.util.find_spec(module)
    return f"{module}.__main__" if spec is not None and spec.submodule_search_locations is not None else module


def _read_request(connection: socket.socket) -> tuple[dict, list[int]]:
    data, fds, _, _ = socket.recv_fds(connection, 1 << 16, STANDARD_STREAMS)
    chunks = [data]
    while chunk := connection.recv(1 << 16):
        chunks.append(chunk)
    return json.loads(b"".join(chunks)), fds


def _child(target: str, request: dict, fds: list[int]) -> None:
    """Become `python -m <module> <args>` in the caller's cwd and environment; never returns."""
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    for standard, fd in enumerate(fds):
        os.dup2(fd, standard)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    code: object = 0
    try:
        after_fork = getattr(sys.modules[target], "after_fork", None)
        if after_fork is not None:
            after_fork()
        # Run from its file as __main__, as -m does (what it imports stays preloaded).
        sys.modules.pop(_main_module(request["module"]), None)
        sys.argv = [request["module"], *request["args"]]
        runpy.run_module(request["module"], run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        code = exc.code
    except BaseException:  # what Python does with an uncaught exception: the traceback, then exit 1
        traceback.print_exc()
        code = 1
    finally:
        with contextlib.suppress(BaseException):
            atexit._run_exitfuncs()  # the module's own (Airflow's dispose_orm, logging's), as at a normal exit
            sys.stdout.flush()
            sys.stderr.flush()
    if code is None or isinstance(code, int):
        os._exit(code or 0)
    print(code, file=sys.stderr)  # sys.exit("message"): Python prints it and exits 1
    os._exit(1)


def serve(path: str, module: str) -> int:
    target = _main_module(module)
    preload = getattr(importlib.import_module(target), "preload", None)
    if preload is not None:
        preload()
    gc.freeze()  # what the preload made stays out of the children's collections, which would touch (copy) its pages
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
                if (pid := os.fork()) == 0:  # from this single thread: fork and threads don't mix
                    listener.close()
                    connection.close()
                    _child(target, request, fds)
                for fd in fds:
                    os.close(fd)
                with contextlib.suppress(OSError):  # a caller that gave up
                    connection.sendall(_STARTED_MARK)
                running[pid] = connection
            else:
                os.read(wake_read, 4096)
        while running and (ended := os.waitpid(-1, os.WNOHANG))[0]:
            connection = running.pop(ended[0])
            with contextlib.suppress(OSError):  # a caller that gave up
                connection.sendall(str(os.waitstatus_to_exitcode(ended[1])).encode())
            connection.close()


if __name__ == "__main__":
    sys.exit(within_session(sys.argv[2:]) if sys.argv[1] == "--session" else serve(sys.argv[1], sys.argv[2]))
