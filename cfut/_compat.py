"""clusterfutures 0.5's module-level helpers, kept working."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ._executor import ClusterExecutor


def map(executor: concurrent.futures.Executor, func: Callable[..., Any], args: Iterable[Any],
        ordered: bool = True) -> Iterator[Any]:
    """Map ``func`` over ``args`` as cluster jobs, yielding results (clusterfutures 0.5).

    Everything is submitted when this is called, as one array job on a cluster executor (one job
    per item on any other executor). With ``ordered=False`` results come as jobs finish. The executor
    is shut down once the results are consumed, as in 0.5, which used it as a context manager.
    Raises what the executor's ``submit`` raises, at the call; the function's exceptions while iterating.
    """
    try:
        if isinstance(executor, ClusterExecutor):
            futures: list[concurrent.futures.Future[Any]] = list(executor.map_futures(func, args))
        else:
            futures = [executor.submit(func, arg) for arg in args]
    except BaseException:
        executor.shutdown(wait=False, cancel_futures=True)
        raise

    def results() -> Iterator[Any]:
        with executor:
            for future in (futures if ordered else concurrent.futures.as_completed(futures)):
                yield future.result()

    return results()
