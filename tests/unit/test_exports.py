"""The public API is exactly ``cfut.__all__``: nothing else public, sorted, every error under one root."""

from __future__ import annotations

import importlib
import inspect
import os
import pkgutil
import subprocess
import sys

import cloudpickle
import pytest

import cfut
import cfut.fakes


def _public(module: object) -> set[str]:
    # "@py_builtins"/"@pytest_ar": pytest rewrites the asserts of the cfut distribution, since it
    # ships a pytest11 plugin (cfut.pytest_plugin).
    return {name for name in dir(module) if not name.startswith(("_", "@"))}


def test_public_names_are_exactly_all_and_sorted() -> None:
    submodules = {info.name for info in pkgutil.iter_modules(cfut.__path__)}
    public = _public(cfut) - submodules - {"annotations"}
    assert public == set(cfut.__all__) - {"__version__"}
    assert cfut.__all__ == sorted(cfut.__all__)


def test_implementation_modules_are_private() -> None:
    """Public modules: the package, the worker's 0.5 name, the runner seam's earlier name (a
    re-export), the fakes and the pytest plugin."""
    names = {info.name for info in pkgutil.iter_modules(cfut.__path__)}
    assert {n for n in names if not n.startswith("_")} == {"fakes", "pytest_plugin", "remote", "runner"}
    runner = importlib.import_module("cfut.runner")
    assert {getattr(runner, n) for n in runner.__all__} <= {getattr(cfut, n) for n in cfut.__all__}


def test_earlier_forms_still_read() -> None:
    """Code written against the pre-0.6 layout: ``statistics()`` as a dict, the fake commands' module."""
    commands = importlib.import_module("cfut.fakes.commands")
    stats = cfut.Statistics({}, 0, 0, 0, 3, 1, 2, {"sbatch": 1}, {}, 0, 0, 0, 0, 0.5)
    assert stats["calls"] == {"done": 3, "failed": 1, "cancelled": 2} and stats["commands"] == {"sbatch": 1}
    with pytest.raises(KeyError):
        stats["nope"]
    assert commands.FakeCommandServer.__name__ == "FakeCommandServer"


def test_errors_share_one_root() -> None:
    for name in cfut.__all__:
        obj = getattr(cfut, name)
        if isinstance(obj, type) and issubclass(obj, BaseException) and obj is not cfut.RemoteTraceback:
            assert issubclass(obj, cfut.CfutError), name
    assert issubclass(cfut.BrokenClusterExecutor, __import__("concurrent.futures").futures.BrokenExecutor)


def test_executor_signatures_have_no_catch_all_keywords() -> None:
    for executor in (cfut.SlurmExecutor, cfut.CondorExecutor):
        kinds = {p.kind for p in inspect.signature(executor).parameters.values()}
        assert inspect.Parameter.VAR_KEYWORD not in kinds, executor
        assert inspect.Parameter.VAR_POSITIONAL not in kinds, executor
    positional = [p.name for p in inspect.signature(cfut.SlurmExecutor).parameters.values()
                  if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]
    assert positional == ["debug", "keep_logs", "additional_setup_lines", "additional_import_paths"], (
        "clusterfutures 0.5's positional parameters")


def test_the_worker_module_runs_without_a_runpy_warning() -> None:
    """``python -m cfut.remote`` (0.5's worker name) is imported by nothing in cfut, so runpy does not
    warn "found in sys.modules after import of package" at the top of every job log."""
    importlib.import_module("cfut")
    assert "cfut.remote" not in sys.modules
    done = subprocess.run([sys.executable, "-W", "error", "-m", "cfut.remote", "--help"], capture_output=True,
                          text=True, check=True)
    assert "RuntimeWarning" not in done.stderr and "python -m cfut.remote" in done.stdout


def test_debug_does_not_configure_the_users_logging(tmp_path: object) -> None:
    import logging

    handlers = list(logging.getLogger().handlers)
    cfut.SlurmExecutor(debug=True, runner=cfut.fakes.FakeSlurm(), workdir=str(tmp_path), background_polling=False)
    assert logging.getLogger().handlers == handlers


#: What a job's worker must not load for a call of a by-reference function returning a plain value:
#: each is milliseconds of every job's start (100 one-call jobs on 2 CPUs paid about 2 s for them).
HEAVY_FOR_A_WORKER = ("cloudpickle", "typing_extensions", "argparse", "socket", "concurrent.futures", "logging",
                      "secrets", "dataclasses", "inspect", "traceback")

WORKER_DRIVER = """
import sys
from cfut._worker import main
code = main(sys.argv[1:])
print(" ".join(sorted(name for name in {heavy!r} if name in sys.modules)))
sys.exit(code)
"""


@pytest.mark.parametrize(("function", "argument", "loads_cloudpickle"), [
    (abs, -7, False),  # pickled by reference, a plain result: nothing heavy at all
    (lambda x: (lambda: x), 7, True),  # by value, and a result only cloudpickle can write
])
def test_a_worker_starts_lean_and_still_writes_any_result(tmp_path: object, function: object, argument: int,
                                                           loads_cloudpickle: bool) -> None:
    import pathlib

    from cfut import _keys
    from tests.support.payloads import read_result, write_task

    directory = pathlib.Path(str(tmp_path))
    payload = write_task(directory, "t", [("c", function, (argument,), {})])  # type: ignore[list-item]
    env = {**os.environ, "CFUT_HMAC_KEY": _keys.load_key().hex()}
    done = subprocess.run([sys.executable, "-c", WORKER_DRIVER.format(heavy=HEAVY_FOR_A_WORKER), payload],
                          capture_output=True, text=True, env=env, cwd=str(directory))
    assert done.returncode == 0, done.stderr
    loaded = set(done.stdout.split())
    # a by-value function brings cloudpickle and what it imports; nothing else brings anything
    assert ("cloudpickle" in loaded) if loads_cloudpickle else not loaded, loaded
    record = read_result(directory, "c")
    value = cloudpickle.loads(record.data) if record.data is not None else None
    assert record.ok and (value == 7 if function is abs else value() == 7)


def test_a_worker_with_cloudpickle_loaded_writes_results_as_cloudpickle_does(tmp_path: object) -> None:
    """Once cloudpickle is loaded (a by-value function, or the job's own register_pickle_by_value),
    its rules hold for results: an object of a module registered by value is written by value,
    where plain pickle would write a reference the submitting process cannot resolve."""
    import pathlib
    import pickle

    from cfut import _wire

    directory = pathlib.Path(str(tmp_path))
    (directory / "nodeonly_mod.py").write_text("class Thing:\n    def __init__(self, n):\n        self.n = n\n")
    sys.path.insert(0, str(directory))
    try:
        module = importlib.import_module("nodeonly_mod")
        cloudpickle.register_pickle_by_value(module)
        try:
            value = module.Thing(7)
            written = _wire.dumps(value, "result", plain_first=True)
            assert written == cloudpickle.dumps(value, protocol=pickle.DEFAULT_PROTOCOL)
            assert written != pickle.dumps(value, protocol=pickle.DEFAULT_PROTOCOL), "pickle writes a reference"
        finally:
            cloudpickle.unregister_pickle_by_value(module)
    finally:
        sys.path.remove(str(directory))
        sys.modules.pop("nodeonly_mod", None)
