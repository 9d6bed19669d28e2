"""The scripts that read sys.argv themselves answer --help with their usage, and too few arguments with it too."""
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
READ_ARGV = sorted(p.name for p in SCRIPTS.glob("*.py") if "exit_with_usage_on_help(__doc__" in p.read_text())


def _run(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *arguments], capture_output=True, text=True, timeout=300)


def test_every_script_without_argparse_uses_the_helper():
    plain = sorted(p.name for p in SCRIPTS.glob("*.py")
                   if "sys.argv[" in p.read_text() and "argparse" not in p.read_text() and p.name != "script_help.py")
    assert plain == READ_ARGV and len(READ_ARGV) >= 10


@pytest.mark.parametrize("script", ["plot_results.py", "resume_check.py"])
def test_help_prints_the_usage_and_does_nothing_else(script, tmp_path):
    """``plot_results.py --help`` took --help for its results folder and redrew the committed plots."""
    done = subprocess.run([sys.executable, str(SCRIPTS / script), "--help"], capture_output=True, text=True,
                          cwd=tmp_path, timeout=300)
    assert done.returncode == 0 and "Usage" in done.stdout and not any(tmp_path.iterdir())


def test_too_few_arguments_print_the_usage():
    done = _run(str(SCRIPTS / "resume_check.py"), "data")
    assert done.returncode == 2 and "Usage: resume_check.py DATA_ROOT CHECKPOINT EPOCHS" in done.stderr


def test_the_script_that_needs_numba_says_how_to_install_it():
    """numba is no dependency: the compiled-loop benchmark ended in an ImportError traceback, even for --help."""
    if importlib.util.find_spec("numba") is not None:
        pytest.skip("numba is installed here")
    done = _run(str(SCRIPTS / "bench_host_kernels.py"), "--help")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "needs numba, which is no dependency of the project: .venv/bin/pip install --target /tmp/nb" in done.stderr


def test_the_per_file_work_of_two_builds_side_by_side(tmp_path):
    """`corpus_overhead.py` reads the manifests of corpora built by two versions of the code (docs/corpus.md)."""
    from ir_corpus import Manifest, Variant, build_corpus

    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.c").write_text("int twice(int x) { return 2 * x; }\n")
    (tmp_path / "src" / "b.cu").write_text("__global__ void k() {}\n")  # skipped without clang: not counted
    for corpus in ("one", "two"):
        build_corpus([tmp_path / "src"], tmp_path / corpus, [Variant.parse("O0")], jobs=1, progress=False)
    done = _run(str(SCRIPTS / "corpus_overhead.py"), str(tmp_path / "one"), str(tmp_path / "two"))
    assert done.returncode == 0, done.stderr
    rows = {line.split(" | ")[0].strip("| "): line.split(" | ") for line in done.stdout.splitlines()[2:]}
    assert set(rows) == {"src", "all"} and rows["all"][1] == rows["all"][5] == "1"
    record = next(iter(Manifest(tmp_path / "one")))
    assert record["status"] == "ok" and float(rows["all"][2]) == round(record["seconds"], 1)
