"""Wrong flags and missing data give one clear error line (exit 2), no traceback and no result file."""
import json
import zipfile

from inst2vec.cli import main as run_main


def main(argv: list[str]) -> int:
    """The command's exit status, also where argparse refuses a flag (it exits)."""
    try:
        return run_main(argv)
    except SystemExit as exit_:
        return exit_.code


def test_unknown_model_and_platform(tmp_path, capsys, data_root):
    out = tmp_path / "results"
    assert main(["task", "devmap", "--model", "lstm9", "--data-root", str(data_root), "-o", str(out)]) == 2
    assert "unknown devmap model 'lstm9'" in capsys.readouterr().err
    assert main(["task", "threadcoarsening", "--platform", "Volta", "--model", "magni",
                 "--data-root", str(data_root), "-o", str(out)]) == 2
    assert "unknown threadcoarsening platform 'Volta'" in capsys.readouterr().err
    assert main(["task", "devmap", "--platform", "amd", "--platform", "AMDX", "-o", str(out)]) == 2  # before amd runs
    assert "unknown devmap platform 'AMDX'; choose from amd, nvidia" in capsys.readouterr().err
    poj104 = ["--per-class", "1", "--classes", "1", "--work-dir", str(tmp_path / "poj104")]
    assert main(["task", "classifyapp", "--model", "boost", *poj104, "-o", str(out)]) == 2
    assert "unknown classifyapp model 'boost'; choose from ncc, bag, ngram" in capsys.readouterr().err
    assert main(["task", "classifyapp", "--platform", "amd", *poj104, "-o", str(out)]) == 2
    assert "classifyapp has no platforms" in capsys.readouterr().err
    assert not out.exists() or not any(out.iterdir())
    assert not (tmp_path / "poj104").exists()  # refused before POJ-104 was unpacked or compiled


def test_platforms_in_any_case_run_once_under_their_data_set_names(tmp_path, capsys, data_root):
    out = tmp_path / "results"
    assert main(["task", "threadcoarsening", "--platform", "cypress", "--platform", "CYPRESS", "--model", "static",
                 "--data-root", str(data_root), "-o", str(out)]) == 0
    assert sorted(path.name for path in out.iterdir()) == ["threadcoarsening-Cypress-static-none.json"]
    assert capsys.readouterr().out.count("threadcoarsening Cypress static") == 1
    # comma-separated too, as corpus build takes --variants
    assert main(["task", "threadcoarsening", "--platform", "fermi, Kepler", "--model", "static",
                 "--data-root", str(data_root), "-o", str(out)]) == 0
    assert sorted(path.name for path in out.iterdir()) == [f"threadcoarsening-{p}-static-none.json"
                                                          for p in ("Cypress", "Fermi", "Kepler")]
    assert main(["task", "threadcoarsening", "--platform", "fermi,", "--model", "static", "-o", str(out)]) == 2
    assert "unknown threadcoarsening platform ''" in capsys.readouterr().err


def test_first_seed_adds_seeds_to_an_earlier_run(tmp_path, data_root):
    def seeds(*flags: str) -> dict[int, float]:
        out = tmp_path / "-".join(flags)
        assert main(["task", "devmap", "--platform", "amd", "--model", "grewe", *flags,
                     "--data-root", str(data_root), "-o", str(out)]) == 0
        result = json.loads((out / "devmap-amd-grewe-none.json").read_text())
        return {run["seed"]: run["accuracy"] for run in result["seeds"]}

    added = seeds("--seeds", "2", "--first-seed", "1")
    assert sorted(added) == [1, 2]
    assert added == {seed: accuracy for seed, accuracy in seeds("--seeds", "3").items() if seed >= 1}


def test_counts_below_one_are_refused_before_any_work(tmp_path, capsys):
    for flag in ("--seeds", "--epochs", "--batch-size", "--max-length", "--per-class", "--classes"):
        assert main(["task", "classifyapp", "--model", "ncc", "--per-class", "1", "--classes", "1",
                     "--work-dir", str(tmp_path / "poj104"), flag, "0", "-o", str(tmp_path / "r")]) == 2
        assert f"argument {flag}: must be at least 1, not 0" in capsys.readouterr().err
    for flag, value, message in (("--classes", "105", "104 classes"), ("--per-class", "501", "500 programs per class")):
        assert main(["task", "classifyapp", "--work-dir", str(tmp_path / "poj104"), flag, value,
                     "-o", str(tmp_path / "r")]) == 2
        assert f"{flag}: POJ-104 has {message}, not {value}" in capsys.readouterr().err
    assert main(["task", "devmap", "-j", "-1", "-o", str(tmp_path / "r")]) == 2
    assert "argument -j/--jobs: must be at least 0, not -1" in capsys.readouterr().err
    assert not (tmp_path / "r").exists() and not (tmp_path / "poj104").exists()


def test_flag_combinations_are_checked(tmp_path, capsys, data_root):
    assert main(["task", "devmap", "--model", "ncc", "--resume", "--data-root", str(data_root),
                 "-o", str(tmp_path)]) == 2
    assert "--resume needs --checkpoint-dir" in capsys.readouterr().err
    # A folder of an earlier run's checkpoints without --resume: the new run replaced them epoch by epoch.
    checkpoints = tmp_path / "ckpt"
    checkpoints.mkdir()
    (checkpoints / "threadcoarsening-Fermi-seed0-fold0.npz").write_bytes(b"an earlier run's")
    tiny = ["task", "threadcoarsening", "--model", "ncc", "--platform", "fermi", "--seeds", "1", "--epochs", "1",
            "--max-length", "16", "--checkpoint-dir", str(checkpoints), "--data-root", str(data_root)]
    assert main([*tiny, "-o", str(tmp_path / "r")]) == 2
    assert f"--checkpoint-dir {checkpoints} holds checkpoints of an earlier run " \
        "(threadcoarsening-Fermi-seed0-fold0.npz); add --resume to go on with it" in capsys.readouterr().err
    assert (checkpoints / "threadcoarsening-Fermi-seed0-fold0.npz").read_bytes() == b"an earlier run's"
    assert not (tmp_path / "r").exists()
    assert main(["task", "devmap", "--model", "boost", "--distributed", "--data-root", str(data_root),
                 "-o", str(tmp_path)]) == 2
    assert "--distributed trains the neural model" in capsys.readouterr().err
    assert main(["task", "devmap", "--seeds", "0", "-o", str(tmp_path)]) == 2
    assert main(["task", "devmap", "--model", "ncc", "--optimizer", "sgd:fast", "--data-root", str(data_root),
                 "-o", str(tmp_path)]) == 2
    assert "not 'sgd:fast'" in capsys.readouterr().err
    assert main(["task", "devmap", "--model", "ncc", "--simulate-link", "1", "--data-root", str(data_root),
                 "-o", str(tmp_path)]) == 2
    assert "it needs --distributed" in capsys.readouterr().err
    assert main(["task", "devmap", "--model", "ncc", "--distributed", "--simulate-link", "0",
                 "--data-root", str(data_root), "-o", str(tmp_path)]) == 2
    assert "argument --simulate-link: must be above 0, not 0" in capsys.readouterr().err


def test_flags_the_run_would_ignore_are_refused_before_any_work(tmp_path, capsys):
    out, nowhere = tmp_path / "r", str(tmp_path / "nowhere")
    for task, flags, message in (
            ("threadcoarsening", ["--split", "grouped"], "--split is for devmap; threadcoarsening does not use it"),
            ("devmap", ["--per-class", "5"], "--per-class is for classifyapp; devmap does not use it"),
            ("devmap", ["--work-dir", nowhere], "--work-dir is for classifyapp; devmap does not use it"),
            ("devmap", ["--epochs", "5"],
             "--epochs is for the neural model (--model ncc); devmap boost does not use it"),
            ("devmap", ["--model", "grewe", "--recalibrate-bn"], "devmap grewe does not use it"),
            ("classifyapp", ["--model", "bag", "--resume"], "--resume is for the neural model"),
            ("threadcoarsening", ["--checkpoint-dir", nowhere], "threadcoarsening neighbours does not use it"),
            ("threadcoarsening", ["--model", "magni", "--embeddings", "ours"],
             "--embeddings is for the models that read the code (ncc, boost, neighbours, bag, ngram)")):
        assert main(["task", task, *flags, "--data-root", nowhere, "-o", str(out)]) == 2
        assert message in capsys.readouterr().err
    assert not out.exists() and not (tmp_path / "nowhere").exists()


def test_flags_left_out_take_their_defaults(tmp_path, data_root):
    out = tmp_path / "r"
    assert main(["task", "devmap", "--platform", "amd", "--model", "static", "--seeds", "1",
                 "--data-root", str(data_root), "-o", str(out)]) == 0
    result = json.loads((out / "devmap-amd-static-none.json").read_text())
    assert result["protocol"]["split"] == "stratified" and result["embeddings"] == "none"
    # a model that does not train in epochs records none (it said "epochs": 50, "batch_size": 64 …)
    assert not {"epochs", "batch_size", "max_length", "optimizer"} & set(result["protocol"])


def test_a_result_of_other_arguments_is_not_replaced(tmp_path, data_root, capsys):
    """A run with another --split (or seeds, epochs …) wrote over the earlier result of the same task, platform,
    model and embeddings, silently; it is now refused before any work. A rerun of the same arguments replaces it."""
    out = tmp_path / "r"
    run = ["task", "devmap", "--platform", "amd", "--model", "grewe", "--seeds", "1", "--data-root", str(data_root),
           "-o", str(out)]
    result = out / "devmap-amd-grewe-none.json"
    assert main(run) == 0
    assert json.loads(result.read_text())["arguments"] == {"model": "grewe", "embeddings": "none", "first_seed": 0,
                                                           "seeds": 1, "split": "stratified"}
    before = result.read_bytes()
    for other, change in ((["--split", "grouped"], "split 'stratified' there, 'grouped' here"),
                          (["--first-seed", "1"], "first_seed 0 there, 1 here")):
        assert main([*run, *other]) == 2
        assert f"{result} holds the result of a run with other arguments ({change}); give this run another -o " \
            "folder, or delete that file to replace it" in capsys.readouterr().err
        assert result.read_bytes() == before
    assert main([*run[:3], "AMD", *run[4:]]) == 0  # the same arguments: a rerun replaces it
    earlier = json.loads(result.read_text())
    del earlier["arguments"]  # a result written before results recorded their arguments is replaced
    result.write_text(json.dumps(earlier))
    assert main([*run, "--split", "grouped"]) == 0
    assert json.loads(result.read_text())["protocol"]["split"] == "grouped"


def test_distributed_flags_are_checked_before_any_work(tmp_path, capsys):
    ncc = ["task", "devmap", "--model", "ncc", "--data-root", str(tmp_path / "nowhere"), "-o", str(tmp_path / "r")]
    assert main([*ncc, "--compression", "topk:0.01"]) == 2  # was ignored: a single-process run
    assert "--compression sets how MPI ranks exchange gradients: it needs --distributed" in capsys.readouterr().err
    for flags, named in ((["--algorithm", "ssar_rd"], "--algorithm sets"),  # the default's name was not noticed
                         (["--compression", "none"], "--compression sets"),
                         (["--compression", "fp16", "--algorithm", "ssar_rd"], "--compression, --algorithm set")):
        assert main([*ncc, *flags]) == 2
        assert f"{named} how MPI ranks exchange gradients: it needs --distributed" in capsys.readouterr().err
    for flags, message in ((["--compression", "topk:0"], "--compression: top-k density must be in (0, 1], not 0"),
                           (["--compression", "qsgd:3"], "--compression: QSGD packs 2, 4 or 8 bits per value"),
                           (["--compression", "terngrad:2"], "compression 'terngrad' takes no argument"),
                           (["--algorithm", "ring"], "--algorithm: unknown allreduce algorithm 'ring'"),
                           (["--compression", "qsgd:4", "--algorithm", "dsar"],
                            "--algorithm dsar sums sparse payloads (topk, topk_fast, randomk); --compression qsgd:4 is "
                            "gathered and decoded rank by rank"),  # was ignored, and the result said dsar
                           (["--algorithm", "dsar"], "--compression none is summed by a dense allreduce"),
                           (["--compression", "fp16", "--algorithm", "ssar_rd"],  # ssar_rd was not noticed
                            "--compression fp16 is gathered and decoded rank by rank"),
                           (["--compression", "fp16", "--no-error-feedback"],
                            "--no-error-feedback: --compression fp16 keeps no error feedback")):
        assert main([*ncc, "--distributed", *flags]) == 2  # before MPI starts or the data root is read
        assert message in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_missing_data_root_names_the_path(tmp_path, capsys):
    assert main(["task", "devmap", "--model", "grewe", "--data-root", str(tmp_path / "nowhere"),
                 "-o", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "nowhere/devmap/cgo17-amd.csv: not found" in err and "INST2VEC_DATA" in err


def test_predict_refuses_files_that_are_not_models(tmp_path, capsys):
    bogus = tmp_path / "model.keras"
    bogus.write_text("not a model")
    assert main(["predict", str(bogus), "x.ll"]) == 2
    assert "not a model saved by `inst2vec task --save-models`" in capsys.readouterr().err
    program = tmp_path / "prog.ll"
    program.write_text("define void @f() {\n  ret void\n}\n")
    assert main(["predict", str(program), str(bogus)]) == 2  # arguments swapped
    assert "the model comes first: inst2vec predict MODEL FILE.ll" in capsys.readouterr().err
    # With its description beside it, a damaged .keras file is an error naming it, not Keras' traceback.
    description = {"embeddings": "published", "labels": ["CPU", "GPU"], "max_length": 32}
    (tmp_path / "model.keras.json").write_text(json.dumps(description))
    assert main(["predict", str(bogus), str(program)]) == 2
    assert "model.keras: not a Keras model (a .keras file is a zip archive)" in capsys.readouterr().err
    with zipfile.ZipFile(bogus, "w") as archive:
        archive.writestr("config.json", "{}")
    assert main(["predict", str(bogus), str(program)]) == 2
    assert "model.keras: cannot read the Keras model: " in capsys.readouterr().err
    (tmp_path / "model.keras.json").write_text(json.dumps({**description, "kind": {}}))  # found by random edits
    assert main(["predict", str(bogus), str(program)]) == 2
    assert "model.keras.json: unknown model kind {} (expected a .keras ncc model or kind" in capsys.readouterr().err


def test_a_keras_backend_that_cannot_be_loaded_is_refused_before_any_work(tmp_path):
    """KERAS_BACKEND naming a backend that is not installed: one line, before POJ-104 is unpacked (the backend is
    chosen when Keras is first imported, so the commands run in a process of their own)."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, KERAS_BACKEND="no_such_backend")
    work, out = tmp_path / "poj104", tmp_path / "results"
    model = tmp_path / "model.keras"  # checked only after Keras is imported
    model.write_text("not a model")
    (tmp_path / "model.keras.json").write_text(json.dumps({"embeddings": "published", "labels": ["a", "b"],
                                                           "max_length": 32}))
    program = tmp_path / "prog.ll"
    program.write_text("define void @f() {\n  ret void\n}\n")
    for argv in (["task", "classifyapp", "--model", "ncc", "--per-class", "1", "--classes", "2",
                  "--work-dir", str(work), "-o", str(out)],
                 ["predict", str(model), str(program)]):
        done = subprocess.run([sys.executable, "-m", "inst2vec.cli", *argv], env=env, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 2, done.stderr[-2000:]
        assert "Traceback" not in done.stderr
        assert "error: Keras cannot load KERAS_BACKEND=no_such_backend: " in done.stderr
    assert not work.exists() and not out.exists()


def test_a_result_that_does_not_fit_is_named_and_leaves_no_folder(tmp_path, data_root):
    """A full disk (here the file size limit, `ulimit -f`) left the results folder behind, empty."""
    import resource
    import signal
    import subprocess
    import sys

    def limit_file_size():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # then a write past the limit fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (500, 500))

    out = tmp_path / "results"
    done = subprocess.run([sys.executable, "-m", "inst2vec.cli", "task", "threadcoarsening", "--platform", "Fermi",
                           "--model", "static", "--data-root", str(data_root), "-o", str(out)],
                          preexec_fn=limit_file_size, capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr == f"error: {out}/threadcoarsening-Fermi-static-none.json: cannot write it: File too large\n"
    assert not out.exists()


def test_the_source_revision_of_a_result_leaves_the_git_index_alone(tmp_path):
    """`git status`, asked for the commit a result was made with, refreshed the checkout's index under
    .git/index.lock: a `git commit` at that moment failed, and a full disk left the lock behind."""
    import os
    import subprocess

    from tasks.results import _git

    git = lambda *args: subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)
    git("init", "-q")
    (tmp_path / "a.txt").write_text("a\n")
    git("add", "a.txt")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "a")
    os.utime(tmp_path / "a.txt", (1e9, 1e9))  # its stat data differ from the index's: a refresh would rewrite it
    index = (tmp_path / ".git" / "index").read_bytes()
    assert _git(tmp_path, "status", "--porcelain", "--untracked-files=no") == ""
    assert (tmp_path / ".git" / "index").read_bytes() == index
