"""Futures as arguments: a call that takes another call's future runs after it, with its result.

``b = ex.submit(inc, a)`` (``a`` a :class:`~cfut.ClusterFuture`) returns at once. Where the argument
is found (at top level of ``args``/``kwargs``, or inside lists, tuples and dict values, at any depth):

* a future already resolved: its value is passed directly (no scheduler dependency); a failure or a
  cancellation fails the new call at once with :class:`~cfut.DependencyFailed`;
* a future still outstanding: the argument travels as a :class:`~cfut._wire.DependencyRef` naming the
  call; the batch is submitted with ``--dependency=afterok:<ids>`` (``aftercorr:<array>`` where a
  map depends element-wise on a map), and on the node the worker replaces each reference by the
  value it reads, verified, from the dependency's result file. That file stays in the work
  directory while a call that needs it has not run.

A dependency that fails (raises, dies, is cancelled) fails its dependants with ``DependencyFailed``
(its error as ``__cause__``) without running them, and their jobs leave the queue. On a scheduler
without dependencies (HTCondor) the executor holds the dependant's submission back itself until
its dependencies have their values, then submits it with the values in place.
"""

from __future__ import annotations

TYPE_CHECKING = False  # (a worker imports this module: typing would cost it at each job start)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from ._future import ClusterFuture


def find_futures(obj: Any, cls: type[ClusterFuture]) -> list[ClusterFuture]:
    """Every ``cls`` instance in ``obj``: itself, or inside lists, tuples and dict values (any depth)."""
    found: list[ClusterFuture] = []

    def walk(value: Any) -> None:
        if isinstance(value, cls):
            found.append(value)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)

    walk(obj)
    return found


def substitute(obj: Any, replace: Callable[[Any], Any], match: Callable[[Any], bool]) -> Any:
    """``obj`` rebuilt with every value ``match`` accepts replaced by ``replace(value)`` (inside lists,
    tuples, namedtuples and dict values); containers without a match come back as they were."""
    if match(obj):
        return replace(obj)
    if isinstance(obj, list):
        items = [substitute(item, replace, match) for item in obj]
        return items if any(a is not b for a, b in zip(items, obj)) else obj
    if isinstance(obj, tuple):
        items = [substitute(item, replace, match) for item in obj]
        if not any(a is not b for a, b in zip(items, obj)):
            return obj
        return type(obj)(*items) if hasattr(obj, "_fields") else type(obj)(items)
    if isinstance(obj, dict):
        changed = {key: substitute(value, replace, match) for key, value in obj.items()}
        if not any(changed[k] is not obj[k] for k in obj):
            return obj
        result = obj.copy()
        result.update(changed)
        return result
    return obj
