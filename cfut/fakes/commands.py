"""A fake scheduler's commands as real executables on ``PATH``, for code that runs ``sbatch`` itself.

:class:`FakeCommandServer` writes small executables (``sbatch``, ``squeue``, ... or HTCondor's
``condor_submit``, ...) into a directory and answers them, over a private Unix socket, from a fake
in this process; put :meth:`FakeCommandServer.path_with_commands` first on ``PATH`` of a shell,
a subprocess or a library under test. :class:`Ticker` lets the fake progress on its own (real time)
while nobody polls it. The pytest plugin's ``fake_slurm``/``fake_condor`` fixtures and
``python -m cfut.fakes slurm|condor --bin-dir DIR`` use both.

```python
fake = FakeSlurm()
with FakeCommandServer(fake) as server:
    subprocess.run(["sbatch", "--wrap", "true"], env={**os.environ, "PATH": server.path_with_commands()})
```
"""

from ._shims.server import FakeCommandServer
from ._shims.ticker import Ticker

__all__ = ["FakeCommandServer", "Ticker"]
