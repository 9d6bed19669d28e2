"""The inst2vec command: batch runs go on past bad files, exit 1, and leave no partial output."""
import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from inst2vec.cli import SAMPLES, main
from inst2vec.errors import OutputError
from inst2vec.io import atomic_path, atomic_write
from inst2vec.statements import file_statements
from inst2vec.vocabulary import Vocabulary

IR_GOOD = "define void @f() #0 {\n  ret void\n}\n"
IR_BAD = "define void @f() #0 {\n  frobnicate void\n}\n"


@pytest.fixture
def ir_dir(tmp_path, data_root):
    folder = tmp_path / "ir"
    folder.mkdir()
    for name in ("mt.ll", "sgemm.ll", "reduce.ll"):
        (folder / name).write_bytes((data_root / "threadcoarsening" / "kernels_ir" / name).read_bytes())
    return folder


def test_statements_jsonl(ir_dir, capsys):
    assert main(["statements", str(ir_dir), "--format", "jsonl", "--no-progress"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["file"] for r in rows] == sorted(str(p) for p in ir_dir.iterdir())
    assert rows[0]["statements"] == file_statements(rows[0]["file"])
    assert rows[0]["n_statements"] == len(rows[0]["statements"])


def test_statements_format_follows_a_jsonl_output_name(ir_dir, tmp_path):
    """`-o out.jsonl` without --format wrote text into it; an explicit --format still wins. `-o out.json` is
    refused without --format (it got text)."""
    assert main(["statements", str(ir_dir / "mt.ll"), "-o", str(tmp_path / "s.jsonl")]) == 0
    assert json.loads((tmp_path / "s.jsonl").read_text())["statements"] == file_statements(ir_dir / "mt.ll")
    assert main(["statements", str(ir_dir / "mt.ll"), "-o", str(tmp_path / "t.jsonl"), "--format", "text"]) == 0
    assert (tmp_path / "t.jsonl").read_text().startswith("; file ")
    # `-o out.json` wrote text there: refused before any work, unless --format says which
    assert main(["statements", str(ir_dir / "mt.ll"), "-o", str(tmp_path / "s.json")]) == 2
    assert not (tmp_path / "s.json").exists()
    assert main(["statements", str(ir_dir / "mt.ll"), "-o", str(tmp_path / "s.json"), "--format", "jsonl"]) == 0


def test_statements_into_a_gz_file_are_compressed(ir_dir, tmp_path):
    """`-o s.txt.gz` wrote plain text under that name (CLAMR's PowerParser.cc: 2.7 GB; compressed, 28 MB); the
    name before `.gz` gives the format, as without it."""
    assert main(["statements", str(ir_dir), "-o", str(tmp_path / "s.txt"), "--no-progress"]) == 0
    assert main(["statements", str(ir_dir), "-o", str(tmp_path / "s.txt.gz"), "--no-progress"]) == 0
    assert gzip.decompress((tmp_path / "s.txt.gz").read_bytes()) == (tmp_path / "s.txt").read_bytes()
    assert main(["statements", str(ir_dir / "mt.ll"), "-o", str(tmp_path / "s.jsonl.gz")]) == 0
    assert json.loads(gzip.decompress((tmp_path / "s.jsonl.gz").read_bytes()))["statements"] == \
        file_statements(ir_dir / "mt.ll")
    assert main(["statements", str(ir_dir / "mt.ll"), "-o", str(tmp_path / "s.json.gz")]) == 2  # as s.json
    assert not (tmp_path / "s.json.gz").exists()


def test_files_may_follow_the_flags(ir_dir, tmp_path, capsys):
    """`statements a.ll -o out b.ll` was refused ("unrecognized arguments: b.ll"), as argparse reads the
    positionals of a command in one run."""
    first, second = sorted(ir_dir.iterdir())[:2]
    assert main(["statements", str(first), "--format", "jsonl", "--no-progress", str(second)]) == 0
    assert [json.loads(line)["file"] for line in capsys.readouterr().out.splitlines()] == [str(first), str(second)]
    assert main(["vocab", "build", "-o", str(tmp_path / "v.json"), str(first), "--cutoff", "0", str(second)]) == 0
    assert json.loads(capsys.readouterr().out)["files"] == 2


def test_statements_text_parallel(ir_dir, capsys):
    assert main(["statements", str(ir_dir), "-j", "2", "--no-progress"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"; file {sorted(ir_dir.iterdir())[0]}" and len(out) == 3 + sum(
        len(file_statements(p)) for p in ir_dir.iterdir())


def test_batch_goes_on_past_bad_files(ir_dir, tmp_path, capsys):
    (ir_dir / "bad.ll").write_text(IR_BAD)
    (ir_dir / "empty.ll").write_text("")
    out = tmp_path / "out.jsonl"
    code = main(["statements", str(ir_dir), str(tmp_path / "missing.ll"), "--format", "jsonl", "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 1
    assert f"error: {ir_dir / 'bad.ll'}:2: unknown instruction 'frobnicate'" in err
    assert f"error: {ir_dir / 'empty.ll'}: empty file" in err
    assert "missing.ll: no such file" in err and "skipped 3 of 6 file(s); 3 done" in err
    assert len(out.read_text().splitlines()) == 3


def test_source_files_are_compiled_where_ir_is_read(data_root, tmp_path, capsys):
    """`inst2vec statements prog.c`: the IR `corpus build prog.c --variants O0` makes; compile errors name the line."""
    import tarfile

    from ir_corpus import Variant, build_corpus

    with tarfile.open(data_root / "ir-corpus-sources" / "gpgpu-polybench-gpu-1.0.tar.gz") as tar:
        names = [f"polybench-gpu-1.0/OpenCL/2MM/2mm.{suffix}" for suffix in ("c", "cl")]
        tar.extractall(tmp_path, members=[tar.getmember(n) for n in names + ["polybench-gpu-1.0/common/"
                                                                             "polybenchUtilFuncts.h"]],
                       filter="data")
    host, kernel = (tmp_path / n for n in names)
    (tmp_path / "bad.c").write_text("int g(int a) {\n  int x = 1;\n  return a * y;\n}\n")
    (tmp_path / "k.cu").write_text("__global__ void k() {}\n")
    assert main(["statements", str(host), str(kernel), str(tmp_path / "bad.c"), str(tmp_path / "k.cu"),
                 "--format", "jsonl"]) == 1
    captured = capsys.readouterr()
    rows = [json.loads(line) for line in captured.out.splitlines()]
    build_corpus([host, kernel], tmp_path / "corpus", [Variant.parse("O0")], jobs=1, progress=False)
    for row, ir in zip(rows, ("2mm.c.O0.ll", "2mm.cl.O0.ll")):
        assert row["statements"] == file_statements(tmp_path / "corpus" / "ir" / "2MM" / ir)
    assert [r["file"] for r in rows] == [str(host), str(kernel)] and rows[0]["n_statements"] > 500
    assert (f"error: {tmp_path / 'bad.c'}:3: does not compile with clang-14 -O0: use of undeclared identifier 'y'"
            in captured.err)
    assert f"error: {tmp_path / 'k.cu'}: CUDA needs the CUDA toolkit" in captured.err
    assert "skipped 2 of 4 file(s)" in captured.err
    assert main(["xfg", str(kernel), "--output-dir", str(tmp_path / "graphs")]) == 0
    assert (tmp_path / "graphs" / "2mm.graphml").is_file()
    folder = host.parent
    for command in (["statements"], ["vocab", "build", "-o", str(tmp_path / "v.json")]):  # folders: IR only
        assert main([*command, str(folder)]) == 2
        assert (f"no .ll or .bc files found in the inputs; {folder} holds C, C++, OpenCL or CUDA files, but "
                f"folders are searched for IR only: compile the folder with `inst2vec corpus build {folder} -o OUT` "
                "and use OUT/ir, or name C, C++ and OpenCL files one by one") in capsys.readouterr().err
    (folder / "other.ll").write_bytes((tmp_path / "corpus" / "ir" / "2MM" / "2mm.cl.O0.ll").read_bytes())
    unread_note = ("note: {}: {} C, C++, OpenCL or CUDA file(s) not read (folders are searched for .ll and .bc files "
                   "only): name them one by one, or compile the folder with `inst2vec corpus build {} -o OUT`\n")
    assert main(["statements", str(folder), str(host), "--format", "jsonl"]) == 0  # named too: read, not noted
    assert capsys.readouterr().err == unread_note.format(folder, 1, folder)
    for ir_of_host, n_unread in ((None, 2), ("2mm.c.O0.ll", 1), ("2mm.ll", 0)):  # a note on sources without IR
        if ir_of_host:
            (folder / ir_of_host).write_bytes((tmp_path / "corpus" / "ir" / "2MM" / "2mm.c.O0.ll").read_bytes())
        assert main(["statements", str(folder), "--format", "jsonl"]) == 0
        captured = capsys.readouterr()
        assert [json.loads(line)["file"] for line in captured.out.splitlines()][-1] == str(folder / "other.ll")
        assert captured.err == (unread_note.format(folder, n_unread, folder) if n_unread else "")


def test_include_folders_and_macros_for_named_sources(data_root, tmp_path, monkeypatch, capsys):
    """-I and -D reach clang in every worker; relative folders are the caller's, not the source's; a missing header
    says to name its folder; $INST2VEC_CFLAGS is read as well and left as it was."""
    import os
    import tarfile

    from ir_corpus import Variant, build_corpus
    from ir_corpus.compile import SOURCE_FLAGS_VARIABLE

    suite = tmp_path / "polybench"
    with tarfile.open(data_root / "ir-corpus-sources" / "polybench-c-4.2.1.tar.gz") as tar:
        names = ["linear-algebra/blas/gemm/gemm.c", "linear-algebra/blas/gemm/gemm.h", "utilities/polybench.h"]
        tar.extractall(suite, members=[tar.getmember(n) for n in names], filter="data")
    gemm = suite / names[0]
    (tmp_path / "wide.c").write_text("#ifdef WIDE\nlong f(long a) { return a; }\n#else\nint f(int a) { return a; }\n"
                                     "#endif\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(SOURCE_FLAGS_VARIABLE, raising=False)
    assert main(["statements", str(gemm)]) == 2
    assert (f"error: {gemm}:18: does not compile with clang-14 -O0: 'polybench.h' file not found (name the folder "
            "that holds it with -I DIR, or in $INST2VEC_CFLAGS)") in capsys.readouterr().err

    assert main(["statements", str(gemm), "wide.c", "-I", "polybench/utilities", "-D", "WIDE", "-j", "2",
                 "--format", "jsonl"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    build_corpus([suite], tmp_path / "corpus", [Variant.parse("O0")], jobs=1, progress=False)  # finds utilities/
    corpus_ir = tmp_path / "corpus" / "ir" / "polybench" / "linear-algebra" / "blas" / "gemm" / "gemm.c.O0.ll"
    assert rows[0]["statements"] == file_statements(corpus_ir)
    assert "ret i64 <%ID>" in rows[1]["statements"]
    assert SOURCE_FLAGS_VARIABLE not in os.environ

    monkeypatch.setenv(SOURCE_FLAGS_VARIABLE, "-I polybench/utilities")
    assert main(["statements", str(gemm), "wide.c", "--format", "jsonl"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows[0]["statements"] == file_statements(corpus_ir)
    assert "ret i32 <%ID>" in rows[1]["statements"]
    assert os.environ[SOURCE_FLAGS_VARIABLE] == "-I polybench/utilities"

    monkeypatch.setenv(SOURCE_FLAGS_VARIABLE, "-I 'polybench")
    assert main(["statements", str(gemm), "wide.c"]) == 2  # refused once, before any file
    assert capsys.readouterr().err == (f"error: ${SOURCE_FLAGS_VARIABLE} (\"-I 'polybench\") cannot be split into "
                                       "flags: No closing quotation\n")
    for bad in (["-I", "nowhere"], ["-D", "1X"], ["-D", ""]):
        with pytest.raises(SystemExit) as exit_:
            main(["statements", "wide.c", *bad])
        assert exit_.value.code == 2


def test_folder_entries_that_are_no_regular_file_are_reported_not_read(ir_dir, capsys):
    """A broken link or a pipe named like IR in a folder is named and skipped (opening a pipe would wait for ever)."""
    import os

    os.mkfifo(ir_dir / "pipe.ll")
    (ir_dir / "gone.bc").symlink_to(ir_dir / "nowhere.bc")
    (ir_dir / "loop").symlink_to(ir_dir)
    assert main(["statements", str(ir_dir), "--format", "jsonl", "--no-progress"]) == 1
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 3
    assert f"error: {ir_dir / 'gone.bc'}: a broken link, not read" in captured.err
    assert f"error: {ir_dir / 'pipe.ll'}: not a regular file, not read" in captured.err
    assert "skipped 2 of 5 file(s); 3 done" in captured.err


def test_vocab_build_and_pairs(ir_dir, tmp_path, capsys):
    vocab = tmp_path / "vocab.json"
    assert main(["vocab", "build", str(ir_dir), "-o", str(vocab), "--cutoff", "1"]) == 0
    summary = json.loads(capsys.readouterr().out)
    v = Vocabulary.load(vocab)
    assert summary["vocabulary"] == len(v) and v.cutoff == 1 and min(v.counts[1:]) >= 2
    pairs = tmp_path / "pairs.npz"
    assert main(["pairs", str(ir_dir), "--vocab", str(vocab), "--subsample", "0", "-o", str(pairs)]) == 0
    data = np.load(pairs)
    assert len(data["target"]) == len(data["context"]) == json.loads(capsys.readouterr().out)["pairs"] > 0
    assert data["target"].max() < len(v)
    # without --vocab, the rows are those of the vocabulary `vocab build` writes with its default cutoff (0)
    assert main(["vocab", "build", str(ir_dir), "-o", str(tmp_path / "v0.json")]) == 0
    for vocab_flag, name in (([], "built.npz"), (["--vocab", str(tmp_path / "v0.json")], "given.npz")):
        assert main(["pairs", str(ir_dir), *vocab_flag, "--subsample", "0", "-o", str(tmp_path / name)]) == 0
    built, given = np.load(tmp_path / "built.npz"), np.load(tmp_path / "given.npz")
    assert all(np.array_equal(built[k], given[k]) for k in ("target", "context"))
    # the name picks compression; a name that is no JSON file is refused (JSON went into v.npz or v.txt)
    assert main(["vocab", "build", str(ir_dir), "-o", str(tmp_path / "v.json.gz"), "--cutoff", "1"]) == 0
    assert (tmp_path / "v.json.gz").read_bytes()[:2] == b"\x1f\x8b"  # gzip
    assert Vocabulary.load(tmp_path / "v.json.gz").statements == v.statements
    for name in ("v.npz", "v.txt"):
        with pytest.raises(SystemExit):
            main(["vocab", "build", str(ir_dir), "-o", str(tmp_path / name)])
        assert "the output is JSON; its name must end in .json" in capsys.readouterr().err
        assert not (tmp_path / name).exists()


def test_dash_output_is_standard_output(ir_dir, tmp_path, capfd, monkeypatch):
    """`-o -` wrote a file named '-'; it is standard output, as for most commands (a file is `-o ./-`)."""
    monkeypatch.chdir(tmp_path)
    assert main(["statements", str(ir_dir / "mt.ll"), "-o", "-"]) == 0
    assert capfd.readouterr().out.startswith(f"; file {ir_dir / 'mt.ll'}\ndefine spir_kernel void <@ID>(")
    assert main(["vocab", "build", str(ir_dir / "mt.ll"), "-o", "-"]) == 0
    printed = capfd.readouterr()  # the vocabulary alone, one JSON document; the summary went to stderr
    assert json.loads(printed.out)["format"] == "inst2vec-vocabulary" and printed.out.endswith("}\n")
    assert json.loads(printed.err)["vocabulary"] > 10
    assert not (tmp_path / "-").exists()
    assert main(["statements", str(ir_dir / "mt.ll"), "-o", "./-"]) == 0
    assert (tmp_path / "-").read_text().startswith("; file ")


def test_xfg_command(ir_dir, tmp_path, capsys):
    out = tmp_path / "g.json"
    assert main(["xfg", str(ir_dir / "mt.ll"), "-o", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["weakly_connected"] and json.loads(out.read_text())["edges"]
    for name in ("g.txt", "-"):  # refused before the graph is built; a stream has no name to give the format
        with pytest.raises(SystemExit):
            main(["xfg", str(ir_dir / "mt.ll"), "-o", name if name == "-" else str(tmp_path / name)])
        assert f"{name}': the name gives the graph's format; it must end in .graphml or .json" in \
            capsys.readouterr().err
    # A missing input is named as by the other commands (it was "[Errno 2] No such file or directory: '…'")
    assert main(["xfg", str(tmp_path / "none.ll"), "-o", str(out)]) == 2
    assert capsys.readouterr().err == f"error: {tmp_path / 'none.ll'}: no such file or directory\n"


def test_xfg_batch_mirrors_folders_and_goes_on(ir_dir, tmp_path, capsys):
    (ir_dir / "sub").mkdir()
    (ir_dir / "mt.ll").rename(ir_dir / "sub" / "mt.ll")
    (ir_dir / "bad.ll").write_text(IR_BAD)
    single = tmp_path / "single.json"
    assert main(["xfg", str(ir_dir / "sub" / "mt.ll"), "-o", str(single)]) == 0
    capsys.readouterr()
    out = tmp_path / "graphs"
    assert main(["xfg", str(ir_dir), "--output-dir", str(out), "--format", "json", "-j", "2", "--no-progress"]) == 1
    captured = capsys.readouterr()
    rows = [json.loads(line) for line in captured.out.splitlines()]
    assert [r["output"] for r in rows] == [str(out / "reduce.json"), str(out / "sgemm.json"),
                                           str(out / "sub" / "mt.json")]
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*.json")) == ["reduce.json", "sgemm.json",
                                                                            "sub/mt.json"]
    assert (out / "sub" / "mt.json").read_text() == single.read_text()
    assert "bad.ll:2: unknown instruction 'frobnicate'" in captured.err and "skipped 1 of 4 file(s)" in captured.err
    assert main(["xfg", str(ir_dir / "sub"), "--output-dir", str(out), "--format", "json.gz", "--no-progress"]) == 0
    assert json.loads(capsys.readouterr().out)["output"] == str(out / "mt.json.gz")
    assert gzip.decompress((out / "mt.json.gz").read_bytes()).decode() == single.read_text()


def test_xfg_batch_walks_its_inputs_once(ir_dir, tmp_path, monkeypatch, capsys):
    """Naming the outputs, the work and the clean-up after a failure each walked the input folders (a file added
    in between was written without the check that no two inputs share an output)."""
    import inst2vec.batch
    import inst2vec.cli

    walks = []
    walk = inst2vec.batch.collect_ir_files
    for module in (inst2vec.batch, inst2vec.cli):
        monkeypatch.setattr(module, "collect_ir_files", lambda *a, **kw: walks.append(a) or walk(*a, **kw))
    assert main(["xfg", str(ir_dir), "--output-dir", str(tmp_path / "graphs"), "--no-progress"]) == 0
    assert len(walks) == 1 and len(capsys.readouterr().out.splitlines()) == len(list(ir_dir.glob("*.ll"))) > 1


def test_xfg_refuses_outputs_it_cannot_tell_apart(ir_dir, tmp_path, capsys):
    (ir_dir / "other").mkdir()
    (ir_dir / "other" / "mt.ll").write_text(IR_GOOD)
    out = tmp_path / "graphs"
    assert main(["xfg", str(ir_dir / "mt.ll"), str(ir_dir / "other" / "mt.ll"), "--output-dir", str(out)]) == 2
    assert f"would both be written to {out / 'mt.graphml'}" in capsys.readouterr().err
    assert main(["xfg", str(ir_dir), "-o", str(tmp_path / "g.graphml")]) == 2
    assert "for several files or a folder use --output-dir" in capsys.readouterr().err
    assert main(["xfg", str(ir_dir / "mt.ll"), "-o", str(tmp_path / "g.graphml"), "--format", "json"]) == 2
    assert "--format goes with --output-dir" in capsys.readouterr().err
    assert main(["xfg", str(tmp_path / "none.ll"), str(ir_dir / "mt.ll"), "--output-dir", str(out)]) == 1
    assert sorted(p.name for p in out.iterdir()) == ["mt.graphml"]


def test_failed_run_leaves_no_output(tmp_path, capsys):
    bad = tmp_path / "bad.ll"
    bad.write_text(IR_BAD)
    assert main(["xfg", str(bad), "-o", str(tmp_path / "g.graphml")]) == 2
    assert "bad.ll:2: unknown instruction" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.ll"]


def test_an_output_that_is_an_input_is_refused_and_the_input_kept(ir_dir, tmp_path, capsys):
    """`statements k.ll -o k.ll` replaced the IR with its statements: every input was read before the output was
    renamed over it. An output that is an input file, by its own name, a link or through a folder, is refused."""
    source = tmp_path / "prog.c"
    source.write_text("int main(void) { return 0; }\n")
    link = tmp_path / "link.ll"
    link.symlink_to(ir_dir / "mt.ll")
    before = {path: path.read_bytes() for path in (*ir_dir.iterdir(), source)}
    for inputs, output in (([ir_dir / "mt.ll"], ir_dir / "mt.ll"), ([ir_dir / "mt.ll"], link),
                           ([ir_dir], ir_dir / "sgemm.ll"), ([source], source)):
        assert main(["statements", *map(str, inputs), "-o", str(output), "--no-progress"]) == 2
        assert f"-o {output}: is the input file " in capsys.readouterr().err
    assert {path: path.read_bytes() for path in before} == before
    assert main(["statements", str(ir_dir / "mt.ll"), "-o", str(ir_dir / "mt.txt")]) == 0


def test_file_names_that_are_no_utf8_are_written_as_their_bytes(ir_dir, tmp_path):
    """A file named with a Latin-1 byte ('caf\\xe9.ll') ended `statements -o out.txt` with a UnicodeEncodeError
    traceback, and `statements` and `embed` too where standard output is strict, as in an en_US.UTF-8 locale."""
    import os

    folder = tmp_path / "names"
    folder.mkdir()
    os.link(ir_dir / "mt.ll", os.path.join(os.fsencode(folder), b"caf\xe9.ll"))
    strict = {**os.environ, "PYTHONIOENCODING": "utf-8:strict"}
    cli = [sys.executable, "-m", "inst2vec.cli"]
    printed = subprocess.run([*cli, "statements", str(folder)], env=strict, capture_output=True, check=True).stdout
    assert printed.startswith(b"; file " + os.fsencode(folder) + b"/caf\xe9.ll\n")
    subprocess.run([*cli, "statements", str(folder), "-o", str(tmp_path / "out.txt")], env=strict, check=True)
    assert (tmp_path / "out.txt").read_bytes() == printed
    printed = subprocess.run([*cli, "embed", str(folder), "-o", str(tmp_path / "out.npz")], env=strict,
                             capture_output=True, check=True).stdout
    assert printed.startswith(os.fsencode(folder) + b"/caf\xe9.ll\t")


BATCH_COMMANDS = [["statements", "--format", "jsonl"], ["vocab", "build"], ["pairs"], ["embed"],
                  ["train-embeddings", "--epochs", "1"], ["xfg"]]


def _output_flags(command: list[str], tmp_path) -> list[str]:
    """The flags that send a batch command's output to ``tmp_path/out``."""
    name = {"pairs": "result.npz", "embed": "result.npz", "vocab": "result.json"}.get(command[0], "result")
    out = tmp_path / "out" / name
    return ["--output-dir", str(out.parent)] if command[0] == "xfg" else ["-o", str(out)]


@pytest.mark.parametrize("command", BATCH_COMMANDS, ids=lambda command: command[0])
def test_batch_with_no_readable_file_writes_nothing(tmp_path, capsys, command):
    (tmp_path / "bad.ll").write_text(IR_BAD)
    (tmp_path / "empty.ll").write_text("")
    output = _output_flags(command, tmp_path)
    assert main([*command, str(tmp_path / "bad.ll"), str(tmp_path / "empty.ll"), *output]) == 2
    err = capsys.readouterr().err
    assert "bad.ll:2: unknown instruction 'frobnicate'" in err and "empty.ll: empty file" in err
    assert "none of the 2 input file(s) could be read; nothing written" in err
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["bad.ll", "empty.ll"]


@pytest.mark.parametrize("command", BATCH_COMMANDS, ids=lambda command: command[0])
def test_a_batch_that_skips_files_says_how_many(ir_dir, tmp_path, capsys, command):
    """Every batch command ends its errors with the same count (pairs and train-embeddings printed none)."""
    (tmp_path / "bad.ll").write_text(IR_BAD)
    output = _output_flags(command, tmp_path)
    inputs = [str(ir_dir), str(tmp_path / "bad.ll"), str(tmp_path / "absent.ll")]
    assert main([*command, *inputs, *output, "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "bad.ll:2: unknown instruction 'frobnicate'" in err and "absent.ll: no such file" in err
    assert err.rstrip().endswith("skipped 2 of 5 file(s); 3 done")


@pytest.mark.parametrize("command", BATCH_COMMANDS, ids=lambda command: command[0])
def test_an_output_that_does_not_fit_is_named_and_left_out(ir_dir, tmp_path, command):
    """A full disk (here the file size limit, `ulimit -f`, which gives the same kind of error) said only
    "error: [Errno 27] File too large", naming no file."""
    import resource
    import signal

    def limit_file_size():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # then a write past the limit fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (500, 500))

    output = _output_flags(command, tmp_path)
    done = subprocess.run([sys.executable, "-m", "inst2vec.cli", *command, str(ir_dir), *output, "--no-progress"],
                          preexec_fn=limit_file_size, capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: {tmp_path / 'out'}/") and \
        done.stderr.endswith(": cannot write it: File too large\n"), done.stderr
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


@pytest.mark.parametrize("command", [["pairs"], ["train-embeddings", "--epochs", "1"]])
def test_no_readable_file_counts_missing_inputs_too(tmp_path, capsys, command):
    (tmp_path / "bad.ll").write_text(IR_BAD)
    out = tmp_path / "out" / ("result.npz" if command[0] == "pairs" else "result")
    assert main([*command, str(tmp_path / "bad.ll"), str(tmp_path / "absent.ll"), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("bad.ll:2: unknown instruction 'frobnicate'") == 1 and err.count("absent.ll: no such file") == 1
    assert err.rstrip().endswith("none of the 2 input file(s) could be read; nothing written")
    assert not out.parent.exists()
    assert main(["statements", "-"]) == 2  # the usual name of standard input: says what to name instead
    assert "-: no such file or directory; to read standard input, name /dev/stdin" in capsys.readouterr().err


def test_wrong_flags_and_help():
    run = lambda *a: subprocess.run([sys.executable, "-m", "inst2vec.cli", *a], capture_output=True, text=True)
    assert run("vocab", "build", "x.ll", "-o", "v.json", "--cutoff", "many").returncode == 2
    assert "invalid int value" in run("vocab", "build", "x.ll", "-o", "v.json", "--cutoff", "many").stderr
    assert run("statements", "--help").returncode == 0
    assert "usage: inst2vec" in run().stderr


def test_unknown_arguments_are_refused_by_their_command_with_the_closest_flag(capsys):
    """argparse refused them with the top-level usage (`usage: inst2vec [-h] [-v] …`) and no hint."""
    for argv, usage, message in (
            (["pairs", "x.ll", "-o", "p.npz", "--vocabulary", "v.json"], "usage: inst2vec pairs ",
             "inst2vec pairs: error: unrecognized arguments: --vocabulary (did you mean --vocab?) v.json"),
            (["statements", "x.ll", "--frmat=jsonl"], "usage: inst2vec statements ",
             "inst2vec statements: error: unrecognized arguments: --frmat=jsonl (did you mean --format?)"),
            (["vocab", "build", "x.ll", "-o", "v.json", "-v"], "usage: inst2vec vocab build ",
             "unrecognized arguments: -v (it goes before the command: inst2vec -v vocab build …)"),
            (["task", "devmap", "-o", "r", "--platfrom", "amd"], "usage: inst2vec task ",
             "unrecognized arguments: --platfrom (did you mean --platform?) amd"),
            # argparse took a flag's unambiguous start as the flag
            (["embed", "x.ll", "-o", "e.npz", "--emb", "ours"], "usage: inst2vec embed ",
             "unrecognized arguments: --emb (did you mean --embeddings?) ours"),
            (["task", "devmap", "-o", "r", "--epoch=3"], "usage: inst2vec task ",
             "unrecognized arguments: --epoch=3 (did you mean --epochs?)"),
            (["--verb", "statements", "x.ll"], "usage: inst2vec [",
             "inst2vec: error: unrecognized arguments: --verb (did you mean --verbose?)")):
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        err = capsys.readouterr().err
        assert exit_.value.code == 2 and err.startswith(usage) and message in err, err


@pytest.mark.parametrize("command", ["pairs", "embed"])
def test_npz_output_needs_its_suffix(tmp_path, capsys, command):
    """np.savez into an open file keeps any name: 'embed -o out.txt' wrote an archive named .txt."""
    with pytest.raises(SystemExit) as exit_:
        main([command, str(SAMPLES / "sample.ll"), "-o", str(tmp_path / "out.txt")])
    assert exit_.value.code == 2
    assert "'" + str(tmp_path / "out.txt") + "': the output is a NumPy archive; its name must end in .npz" in \
        capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command, flag, value, message", [
    (["lookup", "<%ID> = add i32 <%ID>, <INT>"], "-k", "-1", "must be at least 1, not -1"),  # was a traceback
    (["lookup", "<%ID> = add i32 <%ID>, <INT>"], "-k", "0", "must be at least 1, not 0"),  # printed the vector
    (["pairs", "{ir}", "-o", "{out}.npz"], "--seed", "-1", "must be at least 0, not -1"),  # was numpy's message
    (["pairs", "{ir}", "-o", "{out}.npz"], "--subsample", "nan", "must be a finite number, not nan"),  # NaN in JSON
    (["statements", "{ir}"], "-j", "-3", "must be at least 0, not -3"),  # was accepted
    (["train-embeddings", "{ir}", "-o", "{out}"], "--dim", "0", "must be at least 1, not 0"),  # after the corpus
    (["train-embeddings", "{ir}", "-o", "{out}"], "--width", "0", "must be at least 1, not 0"),
    (["corpus", "build", "{ir}", "-o", "{out}"], "--timeout", "0", "must be above 0, not 0"),
])
def test_numbers_out_of_range_are_refused_before_any_work(tmp_path, capsys, command, flag, value, message):
    argv = [a.format(ir=SAMPLES / "sample.ll", out=tmp_path / "out") for a in command]
    with pytest.raises(SystemExit) as exit_:
        main([*argv, flag, value])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {flag}" in err and message in err
    assert list(tmp_path.iterdir()) == []


def test_output_paths_are_checked_before_any_work(tmp_path, capsys):
    """A folder where a file goes (or the other way round) was a traceback after all the work."""
    sample = str(SAMPLES / "sample.ll")
    for argv, message in ((["statements", sample, "-o", str(tmp_path)], "is a folder; name the file to write"),
                          (["vocab", "build", sample, "-o", str(tmp_path)], "is a folder; name the file to write"),
                          (["train-embeddings", sample, "-o", sample], "is a file; name a folder to write into"),
                          (["task", "devmap", "-o", sample], "is a file; name a folder to write into")):
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 2 and message in capsys.readouterr().err
    assert main(["statements", sample, "-o", str(tmp_path / "file.txt"), "--no-progress"]) == 0
    below_a_file = str(tmp_path / "file.txt" / "sub" / "x.txt")
    for argv, message in ((["statements", sample, "-o", below_a_file], "file.txt is a file, so nothing can be written"),
                          (["vocab", "build", sample, "-o", f"{tmp_path}/new/"], "is a folder; name the file"),
                          (["xfg", sample, "--output-dir", below_a_file], "file.txt is a file, so nothing can be")):
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 2 and message in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["file.txt"]
    # Where nothing can be written: refused before the work, not after it (a task ran to its end first)
    for argv in (["embed", sample, "-o", "/proc/inst2vec-out.npz"], ["statements", sample, "-o", "/proc/x/s.txt"],
                 ["task", "devmap", "-o", "/proc/inst2vec-results"], ["train-embeddings", sample, "-o", "/proc/e"]):
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 2 and "cannot write into /proc" in capsys.readouterr().err
    assert main(["statements", sample, "-o", str(tmp_path / "new" / "deeper" / "s.txt")]) == 0  # folders made
    assert (tmp_path / "new" / "deeper" / "s.txt").is_file()
    (tmp_path / "new" / "deeper" / "s.txt").unlink()
    (tmp_path / "new" / "deeper").rmdir()
    (tmp_path / "new").rmdir()
    with pytest.raises(SystemExit):  # the try leaves nothing behind when a later flag is refused
        main(["statements", sample, "-o", str(tmp_path / "new" / "deeper" / "s.txt"), "-j", "-1"])
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["file.txt"]
    # The library's writer refuses the same, for callers that skip the command line.
    with pytest.raises(OutputError, match="x.txt: cannot make its folder"), atomic_write(below_a_file) as f:
        f.write("never")
    with pytest.raises(OutputError, match="is a folder"), atomic_write(f"{tmp_path}/new/") as f:
        f.write("never")
    with pytest.raises(KeyboardInterrupt), atomic_path(tmp_path / "model.keras") as name:  # Keras saves by name
        assert name.endswith(".keras") and Path(name).parent == tmp_path
        Path(name).write_text("half")
        raise KeyboardInterrupt
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["file.txt"]


@pytest.mark.parametrize("other_thread", [False, True], ids=["one thread", "another thread"])
@pytest.mark.parametrize("writer", ["atomic_path", "folder_made"])
def test_a_signal_just_after_a_temporary_file_is_made_leaves_nothing(tmp_path, monkeypatch, writer, other_thread):
    """Ctrl-C (or SIGTERM, SIGHUP) handled between the making of the temporary file (or folder) and the ``try``
    that removes it left it behind: the xfg batch ended by SIGTERM left one in some runs. Held back with the main
    thread's signal mask, a signal went to another thread of the process instead (a library's: TensorFlow's, a
    progress bar's) and was handled late, during the clean-up: CI's full run left a folder behind (here, without
    the fix, in about 1 round in 7 with another thread)."""
    import os
    import signal
    import tempfile
    import threading
    import time

    from inst2vec import io

    def then_signalled(make):
        def made(*args, **kwargs):
            result = make(*args, **kwargs)
            os.kill(os.getpid(), signal.SIGINT)  # its handler runs at once, unless the signal is held back
            return result
        return made

    if writer == "atomic_path":
        monkeypatch.setattr(tempfile, "mkstemp", then_signalled(tempfile.mkstemp))
        write = lambda folder: io.atomic_path(folder / "out.txt")  # noqa: E731
    else:
        monkeypatch.setattr(os, "makedirs", then_signalled(os.makedirs))
        write = lambda folder: io.folder_made(folder / "new" / "deeper")  # noqa: E731
    ended = threading.Event()
    if other_thread:  # one that does not block the signals
        threading.Thread(target=ended.wait, daemon=True).start()
    late = []
    # Python's own Ctrl-C handler, also when the tests run with SIGINT ignored (started with `&` by a shell without
    # job control): then Python installs none, and no KeyboardInterrupt came.
    python_handler = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        for round in range(30 if other_thread else 1):
            folder = tmp_path / str(round)
            folder.mkdir()
            try:
                with pytest.raises(KeyboardInterrupt), write(folder):
                    pass
                time.sleep(0.001)  # time for a signal handled late
            except KeyboardInterrupt:
                late.append(round)
            assert list(folder.iterdir()) == [], f"round {round}"
    finally:
        ended.set()
        signal.signal(signal.SIGINT, python_handler)
    assert late == []


def test_outputs_that_are_streams_or_links_are_written_through(tmp_path, capsys):
    """`-o /dev/stdout` replaced the /dev/stdout link with a regular file (as root; the output went there, not to
    the terminal). A stream is now written in place, and a link stays a link whose file gets the bytes."""
    import os

    sample = str(SAMPLES / "sample.ll")
    expected = "".join(f"{s}\n" for s in file_statements(sample))
    # /dev/fd/1 is /proc/self/fd/1: where nothing can be created, so a regression fails here instead of harming /dev
    done = subprocess.run([sys.executable, "-m", "inst2vec.cli", "statements", sample, "-o", "/dev/fd/1"],
                          capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout == f"; file {sample}\n" + expected, done.stderr
    # Standard output that is a file: the output keeps its place before the summary (opened again for appending,
    # the summary, written later through the process's own descriptor, overwrote its start)
    # (The summary goes to stderr when the output is standard output; here both are the file.)
    with open(tmp_path / "out.txt", "w") as out:
        subprocess.run([sys.executable, "-m", "inst2vec.cli", "vocab", "build", sample, "-o", "/dev/fd/1"],
                       stdout=out, stderr=out, check=True)
    vocabulary, summary = (tmp_path / "out.txt").read_text().splitlines()
    assert json.loads(vocabulary)["statements"][0] == "!UNK" and json.loads(summary)["files"] == 1
    (tmp_path / "out.txt").unlink()
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # so the writer's open does not wait
    try:
        assert main(["statements", sample, "-o", str(fifo)]) == 0
        assert os.read(reader, 1 << 20).decode() == f"; file {sample}\n" + expected
    finally:
        os.close(reader)
    assert fifo.is_fifo()
    real, link = tmp_path / "real.txt", tmp_path / "link.txt"
    real.write_text("old")
    link.symlink_to(real)
    assert main(["statements", sample, "-o", str(link)]) == 0
    assert link.is_symlink() and real.read_text() == f"; file {sample}\n" + expected
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.txt", "pipe.txt", "real.txt"]


def _check_output_folders_in_step(barrier, root: str, refused) -> None:
    """One of the processes of the test below: check 300 new output folders, each at the same moment as the
    others, and count the refusals."""
    import argparse

    from inst2vec.arguments import output_folder

    for i in range(300):
        barrier.wait()
        try:
            output_folder(f"{root}/{i}/a/b")
        except argparse.ArgumentTypeError:
            with refused.get_lock():
                refused.value += 1


def test_output_folder_checks_of_processes_at_once_do_not_get_in_each_others_way(tmp_path):
    """The ranks of an MPI job check -o at the same moment. A check that made and removed the output's folders
    refused 1-7 of 300 checks per process here (another process removed a folder it was trying); this one never
    touches them, and leaves nothing behind."""
    import multiprocessing

    barrier, refused = multiprocessing.Barrier(6), multiprocessing.Value("i", 0)
    processes = [multiprocessing.Process(target=_check_output_folders_in_step, args=(barrier, str(tmp_path), refused))
                 for _ in range(6)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [process.exitcode for process in processes] == [0] * 6
    assert refused.value == 0 and list(tmp_path.iterdir()) == []


def test_demo(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "4 functions, 92 statements" in out and "weakly connected: True" in out
    assert "embeddings (ours, shipped): Embeddings<9355 statements x 200>; 18 of 92 statements unknown" in out


def test_version_is_the_package_version_in_one_place(capsys):
    import inst2vec

    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0 and capsys.readouterr().out == f"inst2vec {inst2vec.__version__}\n"
    project = Path(__file__).resolve().parents[2]
    setup_version = subprocess.run([sys.executable, "setup.py", "--version"], cwd=project, capture_output=True,
                                   text=True, check=True).stdout.split()[-1]
    assert setup_version == inst2vec.__version__


def test_tensorflow_retracing_warnings_are_left_out_unless_verbose(capsys):
    """The tasks retrace by design (a model per fold, a few padded lengths); TensorFlow warned of it 4 times a run
    and per MPI rank. Its other warnings still show."""
    import logging

    tensorflow = logging.getLogger("tensorflow")
    before = list(tensorflow.filters)
    try:
        assert main(["statements", str(SAMPLES / "sample.ll")]) == 0
        retracing = logging.makeLogRecord({"msg": "5 out of the last 5 calls to <function f> triggered tf.function "
                                                  "retracing. Tracing is expensive", "levelno": logging.WARNING})
        other = logging.makeLogRecord({"msg": "something else", "levelno": logging.WARNING})
        assert not tensorflow.filter(retracing) and tensorflow.filter(other)
    finally:
        tensorflow.filters[:] = before
    capsys.readouterr()


@pytest.mark.parametrize("signal_name, status, said", [("SIGINT", 130, "interrupted"),
                                                       ("SIGTERM", 143, "terminated (SIGTERM)")])
def test_ctrl_c_ends_a_batch_without_a_traceback_or_half_written_files(data_root, tmp_path, signal_name, status,
                                                                       said):
    """SIGINT is Ctrl-C; SIGTERM, sent to the whole process group, is how Slurm ends a job at its time limit."""
    import os
    import signal

    out = tmp_path / "graphs"
    command = [sys.executable, "-m", "inst2vec.cli", "xfg", str(data_root / "devmap" / "kernels_ir"),
               "--output-dir", str(out), "-j", "2", "--no-progress"]
    # As a terminal's foreground job: SIGINT not ignored (pytest run as a background job of a script, `cmd &`,
    # has it ignored, as POSIX says, and its children would inherit that and run to the end)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    first = process.stdout.readline()  # one graph written: the batch is under way
    os.killpg(process.pid, getattr(signal, signal_name))  # to the whole process group, as Ctrl-C and Slurm do
    _, err = process.communicate(timeout=60)
    assert first.startswith('{"file": ') and process.returncode == status and err == said + "\n"  # was a traceback
    written = sorted(out.rglob("*"))  # with SIGTERM a worker ends at once, and the command removes its file in hand
    assert written and all(path.suffix == ".graphml" and not path.name.startswith(".") for path in written)


@pytest.mark.parametrize("signal_name", ["SIGTERM", "SIGHUP"])
def test_sigterm_while_an_output_is_written_leaves_no_temporary_file(data_root, tmp_path, signal_name):
    """`timeout`, `kill` and batch systems end a process with SIGTERM, a closed terminal or ssh session with SIGHUP;
    their default action left the output's temporary file, hidden, beside it (1.3 GB of a large C++ file's
    statements, found so)."""
    import os
    import signal
    import time

    out = tmp_path / "out"
    command = [sys.executable, "-m", "inst2vec.cli", "statements", str(data_root / "devmap" / "kernels_ir"),
               "-o", str(out / "statements.txt"), "--no-progress"]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (out.exists() and any(out.iterdir())) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    os.kill(process.pid, getattr(signal, signal_name))  # the process alone, as `timeout` sends it
    _, err = process.communicate(timeout=60)
    assert process.returncode == 128 + getattr(signal, signal_name) and err == f"terminated ({signal_name})\n", err
    assert not out.exists()


def test_sigterm_to_a_batch_with_an_idle_worker_ends_it_quietly(tmp_path):
    """Slurm's SIGTERM to the process group while one worker waited for work: the command line's raising handler,
    as the workers inherited it from eec3aaa to 9b0e5e9, printed a traceback there and could hang the command.
    The other worker, ended at once while it wrote its graph, left the graph's temporary file until 2026-12-07."""
    import os
    import signal
    import time

    chain = "".join(f"  %a{i + 1} = add i32 %a{i}, {i}\n" for i in range(100_000))  # seconds of XFG
    (tmp_path / "long.ll").write_text("define i32 @f(i32 %a0) {\n" + chain + "  ret i32 %a100000\n}\n")
    out = tmp_path / "graphs"
    command = [sys.executable, "-m", "inst2vec.cli", "xfg", str(SAMPLES / "sample.ll"), str(tmp_path / "long.ll"),
               "--output-dir", str(out), "-j", "2", "--no-progress"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    first = process.stdout.readline()  # the sample's graph: its worker now waits, the other works on long.ll
    deadline = time.monotonic() + 60
    while len(list(out.iterdir())) < 2 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)  # until long.ll's graph is being written (seconds)
    hidden = [path.name for path in out.iterdir() if path.name.startswith(".")]
    os.killpg(process.pid, signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert '"sample.ll"' in first or "sample.ll" in first
    assert process.returncode == 143 and err == "terminated (SIGTERM)\n", err
    assert hidden and hidden[0].startswith(".long.graphml.")  # the kill came while it was written
    assert sorted(path.name for path in out.iterdir()) == ["sample.graphml"]


@pytest.mark.parametrize("given, flags, expected", [(None, [], "1"), ("0", [], "0"), (None, ["-v"], None)])
def test_tensorflow_information_lines_are_hidden_unless_asked_for(ir_dir, monkeypatch, capsys, given, flags,
                                                                   expected):
    """TensorFlow's C++ logging printed its CPU instructions and other information lines on every Keras run;
    a level the user set is kept, and --verbose shows them."""
    if given is None:
        monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    else:
        monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", given)
    assert main([*flags, "statements", str(ir_dir / "mt.ll")]) == 0
    assert os.environ.get("TF_CPP_MIN_LOG_LEVEL") == expected
