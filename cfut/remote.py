"""``python -m cfut.remote PAYLOAD``: the worker's command name since clusterfutures 0.5.

Batch scripts (and 0.5's) run this module; the worker itself is :mod:`cfut._worker`. Nothing in
cfut imports this module, so running it with ``-m`` never meets an already-imported copy (which is
what makes :mod:`runpy` warn at the top of every job log).
"""

import sys

from cfut._worker import main

if __name__ == "__main__":
    sys.exit(main())
