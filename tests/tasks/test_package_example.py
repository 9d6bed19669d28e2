"""The Python example in the tasks package's docstring runs as printed, on the real data sets."""
import textwrap

import tasks


def test_tasks_docstring_example_runs(data_root, monkeypatch, capsys):
    monkeypatch.setenv("INST2VEC_DATA", str(data_root))  # the example's data_root() reads it
    code = textwrap.dedent(tasks.__doc__.split("::\n\n", 1)[1].split("\n\nModels", 1)[0])
    exec(compile(code, tasks.__file__, "exec"), {})  # the package's own text, not data
    devmap_line, coarsening_line = capsys.readouterr().out.split("\n")[:2]
    accuracy, speedup = map(float, devmap_line.split())
    assert accuracy > 0.85 and speedup > 2.5  # boosted trees on AMD: 0.937 and 3.54 with seed 0 when written
    assert 0.5 < float(coarsening_line) < 1.5  # Magni et al. on Fermi: 0.936
