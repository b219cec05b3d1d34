"""`--workers N` on Linux: worker processes forked from a process that has already imported
everything, instead of each importing Beam and our stages anew.

A worker's first seconds go to imports (2.5–4 CPU-s each on this machine, with
`worker_main`'s skips), while the stages wait for it. `zygote()` (used by `launch`) starts one
process as soon as the run begins, so that its imports overlap with the launcher's graph
building; it imports what a worker needs and then waits on a Unix socket. FnApiRunner still
starts each worker with its usual command (`python -m pipeline.worker_main`, a few ms of
Python start-up), which finds `ZYGOTE_ENV` set, sends its environment (the runner's control
and logging addresses, the options) to the zygote and waits: the zygote forks, the child
takes that environment and runs Beam's SDK worker, and on exit sends its status back, which
the waiting command exits with. So to the runner it is an ordinary worker process.

The zygote runs one Python thread and never opens a gRPC channel before forking (pyarrow's
jemalloc keeps a background OS thread, which jemalloc's own fork handlers cover); each child
reseeds `random` (Beam's Reshuffle draws its keys from it). When the zygote cannot start
(not Linux, or it dies), `worker_main` runs the worker itself as before.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Iterator

from pipeline.lean_imports import skip_optional_imports

ZYGOTE_ENV = "BERT_SHARDS_WORKER_ZYGOTE"
"""The zygote's socket path, in the environment the runner's worker commands inherit."""
PRELOAD = ("apache_beam.runners.worker.sdk_worker_main", "pipeline.stages", "pipeline.summary",
           "transforms.tokenize", "transforms.pack_beam", "transforms.mask_beam",
           "transforms.shards", "transforms.vocab_build", "transforms.stats",
           "transforms.summary")
"""What a worker imports to run our stages (the modules of every DoFn of the jobs)."""
_LENGTH = struct.Struct("<I")
_REQUEST_TIMEOUT_S = 10.0
"""How long the zygote waits for a connected worker command to send its environment."""


def _send(conn: socket.socket, data: bytes) -> None:
    conn.sendall(_LENGTH.pack(len(data)) + data)


def _receive(conn: socket.socket) -> bytes | None:
    """One length-prefixed message, or None if the peer closed first."""
    data = b""
    while len(data) < _LENGTH.size:
        chunk = conn.recv(_LENGTH.size - len(data))
        if not chunk:
            return None
        data += chunk
    (n,) = _LENGTH.unpack(data)
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


_running = False
"""Whether this process has a zygote running (`zygote()` inside `zygote()` reuses it)."""


@contextlib.contextmanager
def zygote() -> Iterator[None]:
    """Run a zygote for this run's worker processes (Linux; elsewhere nothing happens).
    Inside another `zygote()` block (the CLI starts one before importing Beam, `launch` asks
    again) the running one serves."""
    global _running
    if _running or not sys.platform.startswith("linux"):
        yield
        return
    _running = True
    try:
        with _started_zygote():
            yield
    finally:
        _running = False


@contextlib.contextmanager
def _started_zygote() -> Iterator[None]:
    with tempfile.TemporaryDirectory(prefix="bert-shards-zygote-") as tmp:
        path = os.path.join(tmp, "socket")
        process = subprocess.Popen([sys.executable, "-m", "pipeline.worker_main", "--zygote",
                                    path, str(os.getpid())])
        previous = os.environ.get(ZYGOTE_ENV)
        os.environ[ZYGOTE_ENV] = path
        try:
            yield
        finally:
            if previous is None:
                os.environ.pop(ZYGOTE_ENV, None)
            else:
                os.environ[ZYGOTE_ENV] = previous
            process.terminate()  # it then waits for its workers, which the runner ended
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


class _Stop(Exception):
    """SIGTERM from the launcher: the run is over."""


def _stop(*_) -> None:
    raise _Stop


def serve(path: str, parent: int, run_worker) -> None:
    """The zygote: bind `path`, import Beam lean (pipeline/lean_imports.py) and `PRELOAD`,
    then fork one `run_worker()` per request on `path` until the launcher (`parent`) is
    gone or terminates it; then wait for the workers, so
    that their CPU time and peak RSS reach the launcher's `wait` (benchmarks read them).
    A launcher that is gone (killed: it removes the socket's directory itself when it ends
    normally) leaves that directory to the zygote to remove."""
    import importlib

    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(64)  # a worker that asks while we import waits in the backlog
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the launcher, which ends us
    try:
        skip_optional_imports()  # after the bind: a worker that asks meanwhile waits for us
        for name in PRELOAD:
            importlib.import_module(name)
        gc.freeze()  # the children's collections skip the imports (and keep their pages shared)
        server.settimeout(1.0)
        while os.getppid() == parent:
            _fork_on_request(server, run_worker)
    except _Stop:
        pass
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the wait
    server.close()
    if os.getppid() != parent:
        shutil.rmtree(os.path.dirname(path), ignore_errors=True)
    with contextlib.suppress(ChildProcessError):
        while True:
            os.waitpid(-1, 0)


def _fork_on_request(server: socket.socket, run_worker) -> None:
    """Serve one request, if one comes within the server's timeout; the child never returns."""
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    try:
        conn, _ = server.accept()
    except TimeoutError:
        return
    conn.settimeout(_REQUEST_TIMEOUT_S)  # a client that never sends must not block us
    try:
        environ = _receive(conn)
    except TimeoutError:
        environ = None
    if environ is None or os.fork():
        conn.close()
        return
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    server.close()
    status = 1
    try:
        os.environ.clear()
        os.environ.update(json.loads(environ))
        random.seed()
        run_worker()
        status = 0
    except SystemExit as e:
        status = e.code if isinstance(e.code, int) else int(e.code is not None)
    except BaseException:
        traceback.print_exc()  # os._exit below would otherwise swallow it
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        with contextlib.suppress(OSError):
            _send(conn, str(status).encode())
        os._exit(status)


def run_in_zygote() -> int | None:
    """Have the zygote of `ZYGOTE_ENV` run this worker; its exit status, or None when there
    is no zygote to ask (then the caller runs the worker itself)."""
    path = os.environ.get(ZYGOTE_ENV)
    if not path:
        return None
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(path)
    except OSError:
        return None
    with conn:
        _send(conn, json.dumps(dict(os.environ)).encode())
        status = _receive(conn)
    return 1 if status is None else int(status)
