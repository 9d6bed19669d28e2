"""The collectives in real MPI processes: ``mpiexec -n 2``, ``-n 3`` and ``-n 4 --oversubscribe``."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent


def mpiexec(ranks: int, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    launcher = Path(sys.executable).parent / "mpiexec"
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    return subprocess.run([str(launcher), "-n", str(ranks), "--oversubscribe", sys.executable, *args],
                          env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("ranks", [2, 3, 4])
def test_sparse_allreduce_equals_the_dense_sum(ranks):
    done = mpiexec(ranks, str(HERE / "mpi_checks.py"))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"ok {ranks} ranks" in done.stdout
