"""Execution engines: where the per-series work of a run happens.

    with open_engine("processes", workers=2) as engine:
        results = engine.map(fit_chunk, chunks, on_result=advance)

One small interface, three implementations, chosen by configuration (``GPCAST_ENGINE``):

    inline                 in this process, one task after the other
    processes              local processes through joblib's loky executor (the default)
    dask                   a Dask LocalCluster of ``workers`` processes on 127.0.0.1
    dask://host:port       an existing Dask cluster's scheduler (tcp://host:port)

Every engine runs each task with BLAS pinned to one thread, so a task's result is the
same bits wherever it runs, and returns results in the order of the items. A worker that
dies mid-run is replaced and its tasks run again: Dask's scheduler does it by itself
(``distributed.scheduler.allowed-failures``), the process engine resubmits the tasks that
had not returned. Exceptions raised *by* a task are not retried: they are bugs or bad
data, and rerunning them elsewhere gives the same answer.

Dask rather than Ray: it is a pip-only, pure-Python install, a LocalCluster listens on
127.0.0.1 and needs no daemon, and its scheduler address is all a user configures.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar

from gpcast.errors import ConfigError

T = TypeVar("T")
R = TypeVar("R")
OnResult = Callable[[int, Any], None]

ENGINES = ("inline", "processes", "dask")
RETRIES = 2  # process engine: resubmissions after a lost worker
MALLOC_TRIM = "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"


class Engine(Protocol):
    """Runs ``fn`` over ``items``; results in item order, ``on_result`` as each lands."""

    name: str
    workers: int

    def map(self, fn: Callable[[T], R], items: Sequence[T],
            on_result: OnResult | None = None) -> list[R]: ...

    def close(self) -> None: ...


def one_blas_thread() -> Any:
    """A context that pins BLAS/OpenMP to one thread: the GP's small matrices run about
    10x faster on 2 cores without BLAS threads competing with the other workers (62 s →
    5 s measured for the GP backtest of the bundled data), and results do not depend on
    how many threads summed them."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1)


def call(fn: Callable[[T], R], item: T) -> R:
    """Run one task the way every engine does: BLAS pinned to one thread."""
    with one_blas_thread():
        return fn(item)


def _indexed(fn: Callable[[T], R], index: int, item: T) -> tuple[int, R]:
    return index, call(fn, item)


IDLE_WORKER_S = 300  # as joblib's Parallel: a worker idle this long exits
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
               "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def watch_parent(parent: int, interval: float = 0.5) -> None:
    """In a worker process (its initializer): exit as soon as ``parent`` is gone.

    A worker whose parent was killed (SIGKILL gives it no chance to shut its executor
    down) would otherwise finish its task and idle on, holding hundreds of MB; when the
    parent dies the worker is re-parented, which this thread notices within ``interval``.
    """
    if os.getppid() != parent:  # the parent died while this worker was starting
        os._exit(70)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os._exit(70)

    threading.Thread(target=watch, name="gpcast-parent-watch", daemon=True).start()


class InlineEngine:
    """Every task in this process: the reference the other engines must match."""

    name = "inline"
    workers = 1

    def map(self, fn: Callable[[T], R], items: Sequence[T],
            on_result: OnResult | None = None) -> list[R]:
        out = []
        for i, item in enumerate(items):
            out.append(call(fn, item))
            if on_result:
                on_result(i, out[-1])
        return out

    def close(self) -> None:
        pass


class ProcessEngine:
    """Local worker processes (loky, reused between calls of one run, shut down at its
    end; each worker exits by itself if the run is killed)."""

    name = "processes"

    def __init__(self, workers: int) -> None:
        self.workers = workers

    def map(self, fn: Callable[[T], R], items: Sequence[T],
            on_result: OnResult | None = None) -> list[R]:
        from concurrent.futures import as_completed

        from joblib.externals.loky import get_reusable_executor
        from joblib.externals.loky.process_executor import TerminatedWorkerError

        done: dict[int, R] = {}
        for attempt in range(RETRIES + 1):
            pending = [i for i in range(len(items)) if i not in done]
            if not pending:
                break
            # One size and joblib's idle timeout for the whole run: resizing, or workers
            # idling out (loky's default is 10 s) while tasks are queued, makes loky warn
            # and replace workers.
            executor = get_reusable_executor(
                max_workers=self.workers, timeout=IDLE_WORKER_S, initializer=watch_parent,
                initargs=(os.getpid(),), env=dict.fromkeys(THREAD_VARS, "1"))
            futures = [executor.submit(_indexed, fn, i, items[i]) for i in pending]
            try:
                for future in as_completed(futures):
                    i, result = future.result()
                    done[i] = result
                    if on_result:
                        on_result(i, result)
            except TerminatedWorkerError:
                if attempt == RETRIES:
                    raise
        return [done[i] for i in range(len(items))]

    def close(self) -> None:
        """Stop the worker processes now (loky keeps them for reuse otherwise, and they
        outlive a command that ends before its interpreter's exit handlers run)."""
        from joblib.externals.loky import reusable_executor

        executor = reusable_executor._executor  # None if no task ever ran
        if executor is not None:
            executor.shutdown(wait=True, kill_workers=True)


class DaskEngine:
    """A Dask cluster: an existing scheduler, or a LocalCluster on 127.0.0.1."""

    name = "dask"

    def __init__(self, address: str | None, workers: int) -> None:
        from distributed import Client, LocalCluster

        self.cluster = None
        if address is None:
            import dask

            # Dask's nanny sets MALLOC_TRIM_THRESHOLD_=65536, which turns off glibc's
            # adaptive mmap threshold: every kernel matrix above 128 KB then costs an
            # mmap/munmap and fresh page faults, and the GP runs 1.6x slower (measured).
            with dask.config.set({MALLOC_TRIM: None}):
                # No dashboard; the scheduler's own HTTP server (metrics, health) on a free
                # loopback port, not Dask's fixed 8787, so that two clusters can run at once.
                self.cluster = LocalCluster(n_workers=workers, threads_per_worker=1,
                                            processes=True, host="127.0.0.1",
                                            dashboard_address=None,
                                            scheduler_kwargs={"dashboard_address":
                                                              "127.0.0.1:0"})
            self.client = Client(self.cluster)
        else:
            self.client = Client(address, timeout="30s")
        self.workers = max(1, len(self.client.scheduler_info(n_workers=-1)["workers"]))

    def map(self, fn: Callable[[T], R], items: Sequence[T],
            on_result: OnResult | None = None) -> list[R]:
        from distributed import as_completed

        futures = [self.client.submit(call, fn, item, pure=False) for item in items]
        index = {f.key: i for i, f in enumerate(futures)}
        done: dict[int, R] = {}
        for future in as_completed(futures):  # each result is fetched once, as it lands
            i = index[future.key]
            done[i] = future.result()
            if on_result:
                on_result(i, done[i])
        return [done[i] for i in range(len(items))]

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def make_engine(spec: str, workers: int = 2) -> Engine:
    """The engine named by ``spec`` (see the module docstring)."""
    if workers < 1:
        raise ConfigError(f"engine workers must be at least 1, got {workers}",
                          field="engine_workers")
    if spec == "inline":
        return InlineEngine()
    if spec == "processes":
        return ProcessEngine(workers) if workers > 1 else InlineEngine()
    if spec == "dask":
        return DaskEngine(None, workers)
    for prefix in ("dask://", "tcp://", "tls://"):
        if spec.startswith(prefix):
            scheme = "tls://" if prefix == "tls://" else "tcp://"
            return DaskEngine(scheme + spec.removeprefix(prefix), workers)
    raise ConfigError(f"unknown engine {spec!r}: use one of {', '.join(ENGINES)} or "
                      "dask://host:port", field="engine", value=spec)


@contextmanager
def open_engine(spec: str, workers: int = 2) -> Iterator[Engine]:
    engine = make_engine(spec, workers)
    try:
        yield engine
    finally:
        engine.close()


__all__ = ["ENGINES", "DaskEngine", "Engine", "InlineEngine", "ProcessEngine", "call",
           "make_engine", "one_blas_thread", "open_engine"]
