"""The pytest plugin (cfut.pytest_plugin), through pytester: fixtures, marker options and their
validation, strict teardown, the default-runner override, refusal of real commands, and the fake
commands on PATH (sbatch/squeue from a shell, srun inside a job, a job's SLURM_* environment)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from subprocess import PIPE

import pytest

pytestmark = pytest.mark.fake


def run(pytester: pytest.Pytester, source: str, *args: str) -> pytest.RunResult:
    pytester.makepyfile(test_inner=source)
    return pytester.runpytest("-p", "no:cacheprovider", *args)


def test_executor_without_runner_uses_the_fake(pytester: pytest.Pytester) -> None:
    result = run(pytester, """
        import cfut

        def test_it(fake_slurm):
            with cfut.SlurmExecutor() as executor:
                assert executor.submit(pow, 2, 5).result() == 32
                assert fake_slurm.calls[0][0] == "sbatch", "the executor submits to the fake"
                assert list(executor.map(abs, [-1, -2, 3])) == [1, 2, 3]
            assert fake_slurm.command_counts["sbatch"] == 2
            assert fake_slurm.queue() == []

        def test_no_fake_no_override():
            from cfut._runner import SubprocessRunner, default_runner
            assert isinstance(default_runner("Slurm"), SubprocessRunner)
    """)
    result.assert_outcomes(passed=2)


def test_marker_options_configure_the_fake(pytester: pytest.Pytester) -> None:
    result = run(pytester, """
        import pytest

        @pytest.mark.fake_slurm(nodes=2, cpus_per_node=3)
        class TestCluster:
            @pytest.mark.fake_slurm(progression="manual", min_job_age=10, accounting=False)
            def test_closest_marker_wins(self, fake_slurm):
                assert [n.cpus for n in fake_slurm.cluster.nodes] == [3, 3]
                assert fake_slurm.cluster.clock.progression == "manual"
                assert fake_slurm.min_job_age == 10
                out = fake_slurm.run(["sacct", "--jobs=1"])
                assert "accounting storage is disabled" in out.stderr.lower()

            def test_defaults(self, fake_slurm):
                assert fake_slurm.cluster.clock.progression == "immediate"
                assert fake_slurm.execution == "process"
                assert len(fake_slurm.cluster.nodes) == 2
    """)
    result.assert_outcomes(passed=2)


@pytest.mark.parametrize(("marker", "message"), [
    ("fake_slurm(nodez=2)", "@pytest.mark.fake_slurm: unknown option 'nodez'; options are nodes, cpus_per_node"),
    ("fake_slurm(nodes=0)", "option nodes=0 must be a whole number >= 1"),
    ("fake_slurm(cpus_per_node=True)", "option cpus_per_node=True must be a whole number >= 1"),
    ("fake_slurm(progression='fast')", "option progression='fast' must be one of 'immediate', 'manual', 'realtime'"),
    ("fake_slurm(min_job_age=-1)", "option min_job_age=-1 must be a number of seconds >= 0"),
    ("fake_slurm(execution='docker')", "option execution='docker' must be one of 'process', 'inline', 'subprocess'"),
    ("fake_slurm(2)", "@pytest.mark.fake_slurm takes keyword options only, got (2,)"),
    ("fake_condor(accounting=False)", "@pytest.mark.fake_condor: unknown option 'accounting'"),
])
def test_marker_validation_names_the_bad_option(pytester: pytest.Pytester, marker: str, message: str) -> None:
    fixture = marker.split("(")[0]
    result = run(pytester, f"""
        import pytest

        @pytest.mark.{marker}
        def test_it({fixture}):
            pass
    """)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([f"*{message}*"])


LEFTOVER = """
    import pytest

    @pytest.mark.fake_slurm(progression="manual")
    def test_leaves_a_job(fake_slurm):
        assert fake_slurm.run(["sbatch", "--wrap", "sleep 100"]).returncode == 0

    @pytest.mark.fake_slurm(progression="manual")
    def test_fails_and_leaves_a_job(fake_slurm):
        fake_slurm.run(["sbatch", "--wrap", "sleep 100"])
        assert False, "the test's own failure"

    @pytest.mark.fake_slurm(progression="manual", allow_leftover_jobs=True)
    def test_allowed(fake_slurm):
        fake_slurm.run(["sbatch", "--wrap", "sleep 100"])

    def test_cancelled_is_fine(fake_slurm):
        fake_slurm.run(["sbatch", "--wrap", "sleep 100"])
        fake_slurm.run(["scancel", "1"])
"""


def test_strict_teardown_fails_leftover_jobs_quietly_after_a_failure(pytester: pytest.Pytester) -> None:
    result = run(pytester, LEFTOVER)
    result.assert_outcomes(passed=3, failed=1, errors=1)
    result.stdout.fnmatch_lines([
        "*ERROR at teardown of test_leaves_a_job*",
        "*fake_slurm: 1 job(s) left in the queue at the end of the test: 1 (PENDING)*allow_leftover_jobs=True*",
    ])
    assert "the test's own failure" in result.stdout.str()
    assert "teardown of test_fails_and_leaves_a_job" not in result.stdout.str()


def test_strict_teardown_fails_refused_commands(pytester: pytest.Pytester) -> None:
    result = run(pytester, """
        import pytest
        from cfut.fakes import FakeUnsupported

        def test_swallows_a_refusal(fake_slurm):
            try:
                fake_slurm.run(["squeue", "--json"])
            except FakeUnsupported:
                pass

        def test_acknowledges_it(fake_slurm):
            with pytest.raises(FakeUnsupported):
                fake_slurm.run(["squeue", "--json"])
            assert len(fake_slurm.refused) == 1
            fake_slurm.refused.clear()
    """)
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*fake_slurm: 1 command(s) refused during the test:*", "*squeue --json*",
                                 "*FakeUnsupported: squeue option '--json' is not modelled*"])


def test_real_commands_are_refused(pytester: pytest.Pytester) -> None:
    pytester.mkdir("realbin")
    script = pytester.path / "realbin" / "squeue"
    script.write_text("#!/bin/sh\necho REAL SLURM\n")
    script.chmod(0o755)
    result = run(pytester, f"""
        import pytest
        import cfut
        from cfut._runner import RealCommandRefused, SubprocessRunner

        REAL = {str(script)!r}

        @pytest.mark.fake_slurm(path=False)
        def test_without_path(fake_slurm):
            with pytest.raises(RealCommandRefused, match="refusing to run the real 'squeue'"):
                SubprocessRunner().run(["squeue"])
            with pytest.raises(RealCommandRefused):
                SubprocessRunner().run([REAL])
            with pytest.raises(RealCommandRefused):
                cfut.SlurmExecutor(runner=SubprocessRunner(), submit_linger=0).submit(abs, 1)
            assert SubprocessRunner().run(["true"]).ok   # other commands run
            assert len(fake_slurm.refused) == 3
            fake_slurm.refused.clear()

        def test_with_path_the_fake_commands_are_allowed(fake_slurm):
            result = SubprocessRunner().run(["squeue"])
            assert result.ok and result.stdout.split()[0] == "JOBID"
            with pytest.raises(RealCommandRefused):
                SubprocessRunner().run([REAL])
            fake_slurm.refused.clear()

        def test_an_unacknowledged_refusal_fails(fake_slurm):
            with pytest.raises(RealCommandRefused):
                SubprocessRunner().run([REAL])
    """)
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(["*the real '*/realbin/squeue' was refused (a fake Slurm is active)*"])


def test_fake_commands_on_path(pytester: pytest.Pytester) -> None:
    pytester.makefile(".sh", submit="""
        #!/bin/sh
        set -e
        job=$(sbatch --parsable --job-name=from-script --output=script.out --wrap 'echo done by $SLURM_JOB_NAME')
        echo "submitted $job"
        squeue --noheader --format=%i --jobs="$job"
    """)
    result = run(pytester, r"""
        import os, pathlib, shutil, subprocess
        import pytest

        def sh(command):
            return subprocess.run(["sh", "-c", command], capture_output=True, text=True)

        @pytest.mark.fake_slurm(execution="subprocess")
        def test_wrap_then_squeue(fake_slurm, tmp_path):
            assert shutil.which("sbatch") == os.path.join(fake_slurm.bin_dir, "sbatch")
            out = sh("cd %s && sbatch --wrap 'echo hi' && squeue" % tmp_path)
            assert out.returncode == 0, out.stderr
            lines = out.stdout.splitlines()
            assert lines[0] == "Submitted batch job 1"
            assert lines[1].split()[:3] == ["JOBID", "PARTITION", "NAME"]
            assert fake_slurm.join(timeout=30)
            assert (tmp_path / "slurm-1.out").read_text() == "hi\n"
            assert "COMPLETED" in sh("sacct --noheader --allocations --format=State --jobs=1").stdout

        @pytest.mark.fake_slurm(execution="subprocess")
        def test_job_environment_and_srun(fake_slurm, tmp_path):
            script = tmp_path / "job.sh"
            script.write_text("#!/bin/sh\n"
                              "echo job $SLURM_JOB_ID on $SLURMD_NODENAME\n"
                              "srun -n2 sh -c 'echo step $SLURM_STEP_ID task $SLURM_PROCID of $SLURM_NTASKS'"
                              " | sort\n"
                              "srun sh -c 'exit 3'\n"
                              "echo srun said $?\n")
            out = sh("cd %s && sbatch --output=job.out job.sh" % tmp_path)
            assert out.stdout == "Submitted batch job 1\n", out.stderr
            assert fake_slurm.join(timeout=30)
            assert (tmp_path / "job.out").read_text().splitlines() == [
                "job 1 on node1", "step 0 task 0 of 2", "step 0 task 1 of 2",
                "srun: error: node1: task 0: Exited with exit code 3", "srun said 3"]
            assert [(s.job_id, s.step_id, s.ntasks) for s in fake_slurm.steps] == [("1", 0, 2), ("1", 1, 1)]
            assert fake_slurm.job(1).state == "COMPLETED"
            # as on real Slurm: each srun is a step ID.N, named after its command, with its own state
            steps = sh("sacct --noheader --parsable2 --jobs=1 --format=JobID,JobName,State,ExitCode").stdout
            assert steps.splitlines() == ["1|job.sh|COMPLETED|0:0", "1.batch|batch|COMPLETED|0:0",
                                          "1.0|sh|COMPLETED|0:0", "1.1|sh|FAILED|3:0"]

        @pytest.mark.fake_slurm(execution="subprocess")
        def test_shell_script_calls_sbatch(fake_slurm):
            out = sh("sh submit.sh")
            assert out.returncode == 0, out.stderr
            assert out.stdout.splitlines()[0] == "submitted 1"
            assert fake_slurm.join(timeout=30)
            assert pathlib.Path("script.out").read_text() == "done by from-script\n"

        def test_stdin_script_and_srun_outside_a_job(fake_slurm):
            out = subprocess.run(["sbatch"], input="#!/bin/sh\necho from stdin\n", capture_output=True, text=True)
            assert out.stdout == "Submitted batch job 1\n", out.stderr
            fake_slurm.run(["scancel", "1"])
            out = sh("srun true")
            assert out.returncode == 1 and "srun outside a batch job" in out.stderr
            assert [argv for argv, _ in fake_slurm.refused] == [("srun", "true")]
            fake_slurm.refused.clear()
    """)
    result.assert_outcomes(passed=4)


def test_fake_condor_fixture(pytester: pytest.Pytester) -> None:
    result = run(pytester, """
        import subprocess
        import cfut

        def test_condor(fake_condor):
            with cfut.CondorExecutor() as executor:
                assert executor.submit(pow, 3, 2).result() == 9
                assert fake_condor.command_counts["condor_submit"] == 1, "the executor submits to the fake"
            out = subprocess.run(["condor_q", "-af", "ClusterId"], capture_output=True, text=True)
            assert out.returncode == 0, out.stderr

        def test_both(fake_slurm, fake_condor):
            with cfut.SlurmExecutor() as slurm, cfut.CondorExecutor() as condor:
                assert slurm.submit(abs, -4).result() == 4 and condor.submit(abs, -5).result() == 5
            assert fake_slurm.command_counts["sbatch"] == 1 and fake_condor.command_counts["condor_submit"] == 1
    """)
    result.assert_outcomes(passed=2)


def test_downstream_project_gets_the_plugin_from_the_entry_point(pytester: pytest.Pytester) -> None:
    """A project that only installs clusterfutures: no conftest, no -p, a fresh interpreter."""
    pytester.makepyprojecttoml("""
        [project]
        name = "downstream"
        version = "0"
        dependencies = ["clusterfutures"]
    """)
    pytester.mkpydir("downstream")
    pytester.path.joinpath("downstream", "jobs.py").write_text(
        "import cfut\n\ndef total(numbers):\n"
        "    with cfut.SlurmExecutor() as executor:\n"
        "        return sum(executor.map(abs, numbers))\n")
    pytester.makepyfile(test_downstream="""
        import subprocess
        import pytest
        from downstream.jobs import total

        @pytest.mark.fake_slurm(nodes=2)
        def test_total(fake_slurm):
            assert total([-1, 2, -3]) == 6
            assert fake_slurm.command_counts["sbatch"] == 1

        def test_shell(fake_slurm):
            out = subprocess.run("sbatch --wrap 'echo hi' && scancel 1 && squeue --noheader",
                                 shell=True, capture_output=True, text=True)
            assert out.stdout == "Submitted batch job 1\\n", out.stderr
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_python_m_cfut_fakes_serves_commands_until_interrupted(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    server = subprocess.Popen([sys.executable, "-m", "cfut.fakes", "slurm", "--bin-dir", str(bin_dir)],
                              stdout=PIPE, stdin=subprocess.DEVNULL)
    try:
        assert server.stdout is not None
        lines = [server.stdout.readline().decode() for _ in range(4)]
        assert lines[3].strip() == f"export PATH={bin_dir}:$PATH"
        env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
        # The job sleeps so that squeue still lists it however slow this machine is.
        shell = subprocess.Popen(["sh", "-c", "sbatch --wrap 'sleep 60' && squeue --noheader --format=%i"],
                                 cwd=str(tmp_path), env=env, stdout=PIPE, stdin=subprocess.DEVNULL)
        out, _ = shell.communicate(timeout=30)
        assert out.decode().splitlines() == ["Submitted batch job 1", "1"]
    finally:
        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=30) == 0
        if server.stdout is not None:
            server.stdout.close()


def test_python_m_cfut_fakes_takes_the_clusters_shape(tmp_path: Path) -> None:
    """GPUs, memory and the first job id from the command line, as the marker takes them."""
    bin_dir = tmp_path / "bin"
    server = subprocess.Popen([sys.executable, "-m", "cfut.fakes", "slurm", "--bin-dir", str(bin_dir),
                               "--gpus-per-node=2", "--memory-per-node=8000", "--first-job-id=500"],
                              stdout=PIPE, stdin=subprocess.DEVNULL)
    try:
        assert server.stdout is not None
        [server.stdout.readline() for _ in range(4)]
        env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
        shell = subprocess.run(["sh", "-c", "sinfo --noheader --format='%G %m' && sbatch --parsable --gpus=1 "
                                "--wrap 'sleep 60' && scancel 500"],
                               cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=30)
        assert shell.stdout.splitlines() == ["gpu:2 8000", "500"], shell.stderr
    finally:
        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=30) == 0
        if server.stdout is not None:
            server.stdout.close()
    refused = subprocess.run([sys.executable, "-m", "cfut.fakes", "condor", "--bin-dir", str(bin_dir),
                              "--gpus-per-node=2"], capture_output=True, text=True, timeout=30)
    assert refused.returncode == 2 and "--gpus-per-node is a Slurm option" in refused.stderr
