"""The README's Python example runs as printed, on a real kernel of the thread-coarsening data; its shell
commands parse."""
import re
import shutil
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_python_example_runs(data_root, tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) == 1, "the README has one Python example; this test runs it"
    shutil.copy(data_root / "threadcoarsening" / "kernels_ir" / "blackscholes.ll", tmp_path / "kernel.ll")
    monkeypatch.chdir(tmp_path)
    names: dict = {}
    exec(compile(blocks[0], str(README), "exec"), names)  # the README's own text, not data
    statements, vectors, pooled = names["statements"], names["vectors"], names["pooled"]
    assert len(statements) > 10 and vectors.shape == (len(statements), names["emb"].dim)
    assert names["graph"].number_of_edges() > 0 and sum(names["pairs"].values()) > 0
    assert pooled.flow.shape == (names["emb"].dim,) and np.isfinite(pooled.flow).all() and pooled.functions


def test_readme_commands_are_accepted_by_the_cli(tmp_path):
    """Every `inst2vec …` line of the README's shell examples parses as the CLI reads it (a renamed or dropped
    flag, or a command that is gone, would be refused). Nothing runs: only the arguments are read."""
    import shlex

    from inst2vec.cli import _parser

    commands = []
    for block in re.findall(r"```bash\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = re.split(r"\s+#", line)[0].strip()  # the comment after a command
            found = re.search(r"(?:^|[\s/])inst2vec\s+(.*)$", line)
            if found and not line.startswith("#"):
                commands.append(found.group(1))
    assert len(commands) > 30
    for command in commands:
        argv = shlex.split(command)
        argv = [str(tmp_path) if before == "-I" else arg for before, arg in zip([""] + argv, argv)]  # folders there
        try:
            _parser().parse_args(argv)
        except SystemExit as refused:
            assert not refused.code, f"the README's `inst2vec {command}` is refused"
