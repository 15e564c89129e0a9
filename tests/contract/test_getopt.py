"""The fake's option tables against the real commands' getopt tables (Slurm 22.05, glibc's getopt_long).

For every command FakeSlurm answers, every letter as an abbreviation (``--L``, ``--L=x``) and every
option of the fake's table by its whole name (``--NAME``, ``--NAME=x``) are given to the real
command; wherever the real one complains as getopt does (unrecognized, ambiguous with its list of
possibilities in the table's order, an argument missing or not allowed), the fake's table must
complain with the same words, and wherever the real one takes the option, so must the fake's.
Nothing is submitted: sbatch runs with ``--test-only``, and every value is ``x``, which names no job,
user or partition.
"""

from __future__ import annotations

import re
import string
import subprocess
from pathlib import Path

import pytest

from cfut.fakes._getopt import GetoptError, OptionTable
from cfut.fakes._slurm.options import TABLES
from tests.support.real_slurm import require as require_real_slurm

pytestmark = pytest.mark.slurm

_GETOPT = re.compile(r"(unrecognized option '[^']*'|option '[^']*' is ambiguous; possibilities:.*"
                     r"|option '[^']*' requires an argument|option '[^']*' doesn't allow an argument)")


def real_complaint(command: str, word: str, cwd: Path) -> str | None:
    """getopt's complaint of the real command about ``word`` (None: it took the option)."""
    extra = ["--test-only"] if command == "sbatch" else []
    done = subprocess.run([command, *extra, word], capture_output=True, text=True, input="", cwd=cwd,
                          timeout=60, check=False)
    found = _GETOPT.search(done.stderr)
    return found.group(1) if found else None


def fake_complaint(table: OptionTable, word: str) -> str | None:
    """The fake table's complaint about ``word``, as the last word of a command line."""
    try:
        table.parse([word], permute=True)
    except GetoptError as exc:
        return exc.message
    return None


@pytest.mark.parametrize("command", list(TABLES))
def test_option_table_matches_the_real_command(command: str, tmp_path: Path) -> None:
    require_real_slurm()
    table, _ = TABLES[command]
    words = [f"--{letter}{value}" for letter in string.ascii_letters for value in ("", "=x")]
    words += [f"--{option.long}{value}" for option in table.options for value in ("", "=x")]
    differences = []
    for word in words:
        real = real_complaint(command, word, tmp_path)
        fake = fake_complaint(table, word)
        if real != fake:
            differences.append(f"{command} {word}: real {real!r}, fake {fake!r}")
    assert not differences, "\n".join(differences)
