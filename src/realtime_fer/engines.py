"""Where ``batch`` runs its tasks: ``local`` (spawned processes on this machine) or ``dask`` (the workers
of a Dask distributed cluster: a running scheduler's address, else a ``LocalCluster`` started here for
the batch and closed after it). Dask is the ``cluster`` extra, imported only when ``dask`` is chosen.
"""

from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from realtime_fer.choices import check_choice

ENGINES = ("local", "dask")
DASK_MODULE = "distributed"  # what --engine dask imports: the cluster extra's package
CONNECT_TIMEOUT_S = 10
Key = TypeVar("Key", bound=Hashable)  # what names a task: batch's input files


class EngineError(ValueError):
    """A scheduler address that is malformed or where no scheduler answers."""


@contextmanager
def submitted(
    function: Callable[..., Any], tasks: dict[Key, tuple], engine: str = "local", workers: int = 1,
    address: str | None = None,
) -> Iterator[Iterator[tuple[Key, Any]]]:
    """``function(*args)`` for every ``key: args`` of ``tasks``, ``workers`` at a time (a running
    scheduler's ``address`` decides that itself): the block gets ``(key, future)`` as each finishes, and
    the workers stop when it ends. The future's ``result()`` raises where its worker died. Both engines
    pickle ``function`` by name, so it must be importable where it runs."""
    check_choice("engine", engine, ENGINES)
    if engine == "local":  # spawned processes: nothing inherited from this one
        from concurrent.futures import ProcessPoolExecutor, as_completed
        from multiprocessing import get_context

        with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
            futures = {pool.submit(function, *args): key for key, args in tasks.items()}
            yield ((futures[future], future) for future in as_completed(futures))
        return
    import distributed

    with _client(distributed, workers, address) as client:
        futures = {client.submit(function, *args, pure=False): key for key, args in tasks.items()}
        yield ((futures[future], future) for future in distributed.as_completed(futures))


@contextmanager
def _client(distributed, workers: int, address: str | None) -> Iterator[Any]:
    """A client of the scheduler at ``address``, else of a ``LocalCluster`` of ``workers`` processes with
    one thread each, on 127.0.0.1 only and without a dashboard."""
    if address is None:
        with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                      host="127.0.0.1", dashboard_address=None) as cluster, \
                distributed.Client(cluster) as client:
            yield client
        return
    try:
        client = distributed.Client(address, timeout=CONNECT_TIMEOUT_S)
    except ValueError as error:  # no port, an unknown scheme
        raise EngineError(f"--address {address}: {error}") from None
    except OSError as error:  # refused, timed out, or no such host
        raise EngineError(f"--address {address}: no Dask scheduler answers there ({error})") from None
    with client:
        yield client
