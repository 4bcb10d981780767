"""The local backend: a pool of spawned worker processes that die with their parent, and
points that survive a worker's death.

* Every worker watches its parent (``PR_SET_PDEATHSIG`` on Linux, and a thread polling the
  parent PID everywhere): a sweep killed by SIGKILL leaves no worker (nor, since the workers
  hold its pipe, the multiprocessing resource tracker) behind. SIGTERM and Ctrl-C of the sweep
  terminate the workers before it exits.
* A worker that dies mid-point (killed, out of memory, a crash in native code) breaks the pool;
  the points it had not returned are then run one per fresh process, each retried once, and a
  point whose process dies twice is recorded as failed with the cause (``worker died: ...``), so
  the sweep, and every later resume, goes on.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.connection import Connection, wait
from typing import Any

#: Runs of a point in a fresh process before it is recorded as failed.
ATTEMPTS = 2


def _watch_parent(parent: int) -> None:
    """Exit this worker as soon as ``parent`` is gone (called in every worker)."""
    with contextlib.suppress(Exception):  # Linux: the kernel signals us when the parent dies
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:
        os._exit(1)

    def poll() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=poll, daemon=True, name="parent-watch").start()


def _terminate(procs: list[Any]) -> None:
    for p in procs:
        with contextlib.suppress(Exception):
            p.terminate()
    for p in procs:
        with contextlib.suppress(Exception):
            p.join(2)
            if p.is_alive():
                p.kill()


def run_local(tasks: list[Any], workers: int, on_result: Callable[[dict], None],
              run_point: Callable[[Any], dict]) -> None:
    """Run ``run_point`` on every task in ``workers`` spawned processes (see the module
    docstring); ``on_result`` gets each row in the parent."""
    ctx = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_watch_parent,
                               initargs=(os.getpid(),))
    done: set[str] = set()
    broken = False
    futures: dict[Any, Any] = {}  # filled one by one, so a failing submit leaves it defined
    try:
        for t in tasks:
            futures[pool.submit(run_point, t)] = t
        for fut in as_completed(futures):
            try:
                res = fut.result()
            except BrokenProcessPool:
                broken = True
                break
            done.add(res["id"])
            on_result(res)
    finally:
        procs = list(getattr(pool, "_processes", {}).values())
        if broken or not all(f.done() for f in futures):
            _terminate(procs)
        pool.shutdown(wait=True, cancel_futures=True)
    if broken:
        run_isolated([t for t in tasks if t.id not in done], workers, on_result, run_point)


def _isolated_main(run_point: Callable[[Any], dict], task: Any, conn: Connection,
                   parent: int) -> None:
    _watch_parent(parent)
    conn.send(run_point(task))
    conn.close()


def _death(code: int | None) -> str:
    if code is not None and code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
    return f"exit code {code}"


def run_isolated(tasks: list[Any], workers: int, on_result: Callable[[dict], None],
                 run_point: Callable[[Any], dict]) -> None:
    """Each task in its own fresh process, ``workers`` at a time, ``ATTEMPTS`` runs at most."""
    ctx = multiprocessing.get_context("spawn")
    queue = deque((t, 1) for t in tasks)
    running: dict[Any, tuple[Any, Connection, Any, int]] = {}
    try:
        while queue or running:
            while queue and len(running) < workers:
                task, attempt = queue.popleft()
                recv, send = ctx.Pipe(duplex=False)
                proc = ctx.Process(target=_isolated_main, daemon=True,
                                   args=(run_point, task, send, os.getpid()))
                proc.start()
                send.close()
                running[recv] = (proc, recv, task, attempt)
            for ready in wait(list(running), timeout=1.0):
                proc, recv, task, attempt = running.pop(ready)  # type: ignore[call-overload]
                try:
                    res = recv.recv()
                except (EOFError, OSError):
                    res = None
                recv.close()
                proc.join()
                if res is not None:
                    on_result(res)
                elif attempt < ATTEMPTS:
                    queue.append((task, attempt + 1))
                else:
                    on_result({"id": task.id, "status": "error", "metrics": {},
                               "error": f"worker died: {_death(proc.exitcode)} "
                                        f"({ATTEMPTS} runs, each in a fresh process)"})
    finally:
        _terminate([p for p, _, _, _ in running.values()])
