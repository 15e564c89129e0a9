"""Re-record the contract golden files on a real Slurm 22.05 cluster (the ci/slurm-docker/ one).

    python tests/golden/record_slurm.py [SCENARIO ...]

Runs the scenarios of tests/contract/scenarios.py against the real cluster (all of them at once, in
threads, so the slow ones overlap) and writes each normalised report to
tests/golden/slurm-22.05/contract/<scenario>.txt. The cluster must be configured as
``backends.CI_CLUSTER`` (what the fake side mirrors): otherwise nothing is recorded. Review the diff
before committing: a change is a change in Slurm's behaviour (or in the cluster's configuration),
and the fake must follow it.
"""

from __future__ import annotations

import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "contract"))

from backends import CI_CLUSTER, ClusterConfig, RealBackend, read_config, real_slurm_available  # noqa: E402
from scenarios import SCENARIOS, unmet  # noqa: E402

GOLDEN = HERE / "slurm-22.05" / "contract"


def record(name: str, config: ClusterConfig) -> tuple[str, float]:
    began = time.monotonic()
    reason = unmet(config, name)
    if reason is not None:
        print(f"{name}: not recorded: {reason}", file=sys.stderr)
        return name, 0.0
    with tempfile.TemporaryDirectory(prefix=f"cfut-record-{name}-") as tmp:
        directory = Path(tmp) / "jobs"
        directory.mkdir()
        backend = RealBackend(directory, config=config)
        try:
            report = SCENARIOS[name](backend)
        finally:
            backend.cleanup_jobs()
    (GOLDEN / f"{name}.txt").write_text(report)
    return name, time.monotonic() - began


def main(argv: list[str]) -> int:
    if not real_slurm_available():
        print("no Slurm cluster answers here", file=sys.stderr)
        return 1
    names = argv or list(SCENARIOS)
    unknown = set(names) - set(SCENARIOS)
    if unknown:
        print(f"unknown scenarios: {', '.join(sorted(unknown))}; known: {', '.join(SCENARIOS)}", file=sys.stderr)
        return 2
    config = read_config()
    if config != CI_CLUSTER:
        # the fake side of the contract is configured as CI_CLUSTER: goldens come from that cluster
        print(f"this cluster is not configured as backends.CI_CLUSTER, which the fake mirrors:\n  {config}\n"
              f"  {CI_CLUSTER}\nrecord on the CI cluster (or update CI_CLUSTER with it)", file=sys.stderr)
        return 1
    GOLDEN.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(len(names)) as pool:
        for name, seconds in pool.map(lambda n: record(n, config), names):
            print(f"{name}: {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
