"""Corpus building with clang-14: variants, manifest, duplicates, resumption, failures, real suites."""
import io
import json
import shutil
import tarfile
from pathlib import Path

import pytest

from inst2vec.cli import main
from inst2vec.errors import Inst2vecError
from inst2vec.statements import file_statements, text_statements
from ir_corpus import Manifest, Variant, build_corpus, corpus_table
from ir_corpus.build import SCRATCH, NoSourcesError
from ir_corpus import compile as compile_module
from ir_corpus.compile import (CompilerError, VariantError, clang_version, compile_file, compile_source,
                               prepare_poj104)
from ir_corpus.sources import Source

C_STRUCT = """\
struct point { float x, y; };
float norm2(struct point *p) { return p->x * p->x + p->y * p->y; }
"""
C_LOOP = "int sum(int *a, int n) { int s = 0; for (int i = 0; i < n; i++) s += a[i]; return s; }\n"
OPENCL = "__kernel void add(__global float *a, __global const float *b) { int i = get_global_id(0); a[i] += b[i]; }\n"


def _tar_gz(archive: Path, members: dict[str, str]) -> Path:
    """Write ``archive``, a .tar.gz holding a file of each ``name: text`` in ``members``."""
    with tarfile.open(archive, "w:gz") as tar:
        for name, text in members.items():
            data = text.encode()
            member = tarfile.TarInfo(name)
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
    return archive


@pytest.fixture
def suite(tmp_path):
    root = tmp_path / "mysuite"
    (root / "src").mkdir(parents=True)
    (root / "src" / "point.c").write_text(C_STRUCT)
    (root / "src" / "loop.c").write_text(C_LOOP)
    (root / "src" / "loop_copy.c").write_text(C_LOOP)  # same IR as loop.c: a duplicate
    (root / "kernel.cl").write_text(OPENCL)
    (root / "broken.cpp").write_text("int f( { return 1; }\n")
    (root / "gpu.cu").write_text("__global__ void k() {}\n")
    (root / "README.txt").write_text("not a source")
    return root


def _records(out):
    return {(r["source"], r["variant"]): r for r in Manifest(out)}


def test_build_manifest_duplicates_and_table(suite, tmp_path):
    out = tmp_path / "corpus"
    report = build_corpus([suite], out, [Variant.parse("O0"), Variant.parse("O2")], jobs=2, progress=False)
    records = _records(out)
    assert len(records) == 12  # 6 sources x 2 variants; README.txt is no source
    ok = records[("src/point.c", "O0")]
    assert ok["status"] == "ok" and "clang version 14" in ok["clang"]  # Debian's or another build of clang-14
    assert (out / ok["ir"]).exists() and ok["n_statements"] == len(file_statements(out / ok["ir"]))
    assert "-O0" in ok["flags"] and len(ok["sha256"]) == 64
    assert records[("src/loop_copy.c", "O2")]["status"] == "duplicate"
    assert records[("src/loop_copy.c", "O2")]["duplicate_of"] == records[("src/loop.c", "O2")]["ir"]
    assert not (out / "ir" / "mysuite" / "src" / "loop_copy.c.O2.ll").exists()
    broken = records[("broken.cpp", "O0")]
    assert broken["status"] == "failed" and "expected" in broken["error"] and broken["error_line"] == 1
    assert not (out / "ir" / "mysuite" / "broken.cpp.O0.ll").exists()
    assert records[("gpu.cu", "O0")]["status"] == "skipped" and "CUDA" in records[("gpu.cu", "O0")]["error"]
    row, total = report.table[0], report.table[-1]
    assert row["suite"] == "mysuite" and row["files"] == 6 and row["compiled"] == 6 and row["failed"] == 2
    assert row["duplicates"] == 2 and row["skipped"] == 2 and total["statements"] == row["statements"] > 0
    assert 0 < report.overhead < 1


def test_a_corpus_folder_named_relative_to_the_current_one(suite, tmp_path, monkeypatch):
    """Clang's temporary folder, in the corpus folder, was named relative to the current folder while clang ran in
    another: with `-o corpus` every file failed ("unable to open output file 'corpus/.scratch/…/out.ll'")."""
    monkeypatch.chdir(tmp_path)
    report = build_corpus([suite.name], "corpus", [Variant.parse("O0")], jobs=2, progress=False)
    assert [r["error"] for r in report.failures] == [_records("corpus")[("broken.cpp", "O0")]["error"]]
    assert report.table[0]["compiled"] == 3 and not (tmp_path / "corpus" / SCRATCH).exists()


def test_second_run_reuses_and_rebuilds_changes(suite, tmp_path):
    out = tmp_path / "corpus"
    build_corpus([suite], out, [Variant.parse("O1")], jobs=1, progress=False)
    again = build_corpus([suite], out, [Variant.parse("O1"), Variant.parse("O1")], jobs=1, progress=False)
    assert again.compiled == 0 and again.reused == 6  # a variant named twice counts once (it was compiled twice)
    (suite / "src" / "point.c").write_text(C_STRUCT + "int extra(void) { return 7; }\n")
    (out / "ir" / "mysuite" / "kernel.cl.O1.ll").unlink()  # a lost output is rebuilt too
    third = build_corpus([suite], out, [Variant.parse("O1")], jobs=1, progress=False)
    assert third.compiled == 2 and third.reused == 4
    assert len(Manifest(out)) == 6 and len((out / "manifest.jsonl").read_text().splitlines()) == 6
    # A source that no longer compiles: its IR of the earlier run went on lying in the corpus (for `vocab build
    # OUT/ir` and the like) while the manifest said it failed.
    (suite / "src" / "point.c").write_text("float norm2(struct point *p) { return p->; }\n")
    fourth = build_corpus([suite], out, [Variant.parse("O1")], jobs=1, progress=False)
    assert fourth.compiled == 1 and _records(out)[("src/point.c", "O1")]["status"] == "failed"
    assert not (out / "ir" / "mysuite" / "src" / "point.c.O1.ll").exists()
    # A duplicate whose original no longer compiles is compiled again: it was left without IR, run after run.
    (suite / "src" / "loop.c").write_text("int sum(int *a, int n) { return a[; }\n")
    assert _records(out)[("src/loop_copy.c", "O1")]["status"] == "duplicate"
    fifth = build_corpus([suite], out, [Variant.parse("O1")], jobs=1, progress=False)
    assert fifth.compiled == 2 and _records(out)[("src/loop_copy.c", "O1")]["status"] == "ok"
    assert (out / "ir" / "mysuite" / "src" / "loop_copy.c.O1.ll").is_file()
    assert build_corpus([suite], out, [Variant.parse("O1")], jobs=1, progress=False).compiled == 0


def test_a_duplicate_whose_original_became_a_duplicate_points_at_the_ir_kept(suite, tmp_path):
    """A new source sorting before an original, with its statements: the original becomes a duplicate of it, and
    the original's duplicate kept pointing at the original's removed IR until the next run compiled it again."""
    out = tmp_path / "corpus"
    build_corpus([suite], out, [Variant.parse("O0")], jobs=1, progress=False)
    (suite / "src" / "a_loop.c").write_text((suite / "src" / "loop.c").read_text())
    again = build_corpus([suite], out, [Variant.parse("O0")], jobs=1, progress=False)
    records = _records(out)
    new_ir = records[("src/a_loop.c", "O0")]["ir"]
    assert again.compiled == 1 and records[("src/a_loop.c", "O0")]["status"] == "ok"
    assert [records[(name, "O0")]["duplicate_of"] for name in ("src/loop.c", "src/loop_copy.c")] == [new_ir] * 2
    assert not (out / "ir" / "mysuite" / "src" / "loop.c.O0.ll").exists() and (out / new_ir).is_file()
    assert build_corpus([suite], out, [Variant.parse("O0")], jobs=1, progress=False).compiled == 0


def test_prune_drops_the_records_and_ir_of_what_this_build_was_not_given(suite, tmp_path, capsys):
    """The records and IR of sources no longer given stay (several builds may fill one corpus), and `vocab build
    OUT/ir` went on reading them; `--prune` drops them, and compiles a duplicate whose original it drops."""
    # asuite sorts before mysuite: its loop.c is the original of mysuite's two copies
    other = _tar_gz(tmp_path / "asuite.tar.gz", {"loop.c": C_LOOP, "unused.c": "int unused(void) { return 3; }\n"})
    out = tmp_path / "corpus"
    build = ["corpus", "build", "-o", str(out), "-j", "1", "--no-progress"]
    assert main([*build, str(other), str(suite), "--variants", "O0,O2"]) == 0
    assert _records(out)[("src/loop.c", "O0")]["duplicate_of"] == "ir/asuite/loop.c.O0.ll"
    (out / "ir" / "asuite" / "stray.ll").write_text("; not recorded\n")
    assert main([*build, str(suite), "--variants", "O0"]) == 0  # no pruning: all 16 records stay
    assert len(Manifest(out)) == 16 and (out / "ir" / "asuite" / "stray.ll").is_file()
    assert (out / "sources" / "asuite" / "loop.c").is_file()
    capsys.readouterr()
    assert main([*build, str(suite), str(tmp_path / "nowhere"), "--variants", "O0", "--prune"]) == 1
    assert "note: --prune pruned nothing: not every input could be read whole" in capsys.readouterr().err
    assert len(Manifest(out)) == 16 and (out / "ir" / "asuite" / "loop.c.O0.ll").is_file()
    assert main([*build, str(suite), "--variants", "O0", "--prune"]) == 0
    assert f"pruned 10 records of sources or variants not in this build; 7 files removed from {out / 'ir'}, " \
           f"1 unpacked archive from {out / 'sources'}" in capsys.readouterr().err
    # asuite's 4 IR files, mysuite's 2 of O2 (not the duplicates) and the stray one; asuite as it was unpacked
    records = _records(out)
    assert {record["suite"] for record in Manifest(out)} == {"mysuite"} and {v for _, v in records} == {"O0"}
    assert records[("src/loop.c", "O0")]["status"] == "ok"  # its original went: compiled
    assert records[("src/loop_copy.c", "O0")]["duplicate_of"] == records[("src/loop.c", "O0")]["ir"]
    assert not (out / "ir" / "asuite").exists() and not (out / "sources" / "asuite").exists()
    assert sorted(str(p.relative_to(out)) for p in (out / "ir").rglob("*.ll")) == sorted(
        record["ir"] for record in Manifest(out) if record["status"] == "ok")
    table = corpus_table(out)
    assert [row["suite"] for row in table] == ["mysuite", "total"] and table[0]["files"] == 6
    again = build_corpus([suite], out, [Variant.parse("O0")], jobs=1, progress=False, prune=True)
    assert again.compiled == again.pruned == again.pruned_files == again.pruned_archives == 0


def test_an_unpacked_archive_half_pruned_does_not_stop_it_being_unpacked_again(tmp_path, monkeypatch):
    """A pruning build killed while it removed an unpacked archive left a folder without its mark, and unpacking
    that archive again was refused ("it is there already, and no archive was unpacked into it")."""
    import ir_corpus.build

    archive = _tar_gz(tmp_path / "asuite.tar.gz", {"loop.c": C_LOOP})
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "point.c").write_text(C_STRUCT)
    out, o0 = tmp_path / "corpus", [Variant.parse("O0")]
    build_corpus([archive, tmp_path / "other"], out, o0, jobs=1, progress=False)
    removing = ir_corpus.build.shutil.rmtree

    def killed(path, *args, **kwargs):  # a kill once the mark is gone and some files are not
        if not kwargs.get("ignore_errors"):
            (Path(path) / ".unpacked").unlink()
            raise KeyboardInterrupt
        removing(path, *args, **kwargs)
    monkeypatch.setattr(ir_corpus.build.shutil, "rmtree", killed)
    with pytest.raises(KeyboardInterrupt):
        build_corpus([tmp_path / "other"], out, o0, jobs=1, progress=False, prune=True)
    monkeypatch.undo()
    report = build_corpus([archive, tmp_path / "other"], out, o0, jobs=1, progress=False)
    assert not report.input_errors and report.compiled == 1 and (out / "sources" / "asuite" / "loop.c").is_file()
    assert not (out / "sources" / "asuite.partial").exists()


def test_ir_cut_short_or_changed_since_is_compiled_again(suite, tmp_path):
    """IR damaged after it was written (a copy cut short, an edit, a disk error) was reused as it was, run after
    run: `vocab build OUT/ir` and the tasks then failed on it, or read what clang had not written."""
    out = tmp_path / "corpus"
    build_corpus([suite], out, [Variant.parse("O0")], jobs=1, progress=False)
    cut, edited = out / "ir" / "mysuite" / "kernel.cl.O0.ll", out / "ir" / "mysuite" / "src" / "point.c.O0.ll"
    written = {path: path.read_bytes() for path in (cut, edited)}
    cut.write_bytes(written[cut][:len(written[cut]) // 2])
    edited.write_bytes(written[edited].replace(b"ret ", b"ret  ", 1))
    again = build_corpus([suite], out, [Variant.parse("O0")], jobs=1, progress=False)
    assert again.compiled == 2 and again.reused == 4
    assert {path: path.read_bytes() for path in (cut, edited)} == written
    assert build_corpus([suite], out, [Variant.parse("O0")], jobs=1, progress=False).compiled == 0


def test_the_distinct_statements_are_counted_once_per_ir_file(suite, tmp_path, monkeypatch, capsys):
    """Every build and `corpus stats` parsed all the IR again for the table's distinct statements: 47 s of a
    51 s build that compiled nothing (llvm-test-suite, 6,929 IR files). Each file's digests are now kept, by
    the IR's sha256, for the IR the manifest names."""
    import ir_corpus.manifest as manifest_module
    from inst2vec.io import load_numpy
    from ir_corpus.manifest import DIGESTS

    def kept_for():
        return sorted(load_numpy(out / DIGESTS, archive=True)["ir_sha256"].tolist())

    def parsing_fails():
        monkeypatch.setattr(manifest_module, "file_statement_hashes", lambda *args: pytest.fail("parsed again"))

    out = tmp_path / "corpus"
    parsing_fails()  # the build's own table takes the digests its workers computed while they read the IR
    first = build_corpus([suite], out, [Variant.parse("O0")], jobs=1, progress=False)
    ok = lambda: sorted(r["sha256"] for r in _records(out).values() if r["status"] == "ok")  # noqa: E731
    assert len(kept_for()) == first.table[0]["compiled"] == 3 and kept_for() == ok()  # loop_copy.c: a duplicate
    assert first.table[0]["distinct"] == len({statement for record in _records(out).values()
                                              if record["status"] == "ok"
                                              for statement in file_statements(out / record["ir"])})
    assert corpus_table(out) == first.table
    with monkeypatch.context() as patched:  # the build has read each file's bytes already, for `_reusable`
        patched.setattr(manifest_module, "file_sha256", lambda path: pytest.fail("read twice"))
        again = build_corpus([suite], out, [Variant.parse("O0")], jobs=1, progress=False)
    assert again.compiled == 0 and again.table == first.table
    assert main(["corpus", "build", str(suite), "-o", str(out), "--variants", "O0", "--no-progress"]) == 0
    built = capsys.readouterr().out  # no rates of nothing ("3,150,265 IR lines/s": the corpus's lines over the time)
    assert "0 compilations now, 6 reused from an earlier run; " in built and "/s" not in built
    (out / DIGESTS).write_bytes(b"PK\x03\x04 cut short")  # damaged: all computed again
    with pytest.raises(pytest.fail.Exception, match="parsed again"):
        corpus_table(out)
    monkeypatch.undo()
    assert corpus_table(out) == first.table and kept_for() == ok()
    # IR changed since it was compiled is named by `corpus stats`, not counted; the next build compiles it again,
    # and the digests of IR no record names any longer are dropped
    point = out / "ir" / "mysuite" / "src" / "point.c.O0.ll"
    point.write_bytes(point.read_bytes().replace(b"ret ", b"ret  ", 1))
    assert main(["corpus", "stats", str(out)]) == 1
    assert f"error: {point}: changed since it was compiled" in capsys.readouterr().err
    (suite / "src" / "point.c").write_text(C_STRUCT + "int extra(void) { return 7; }\n")
    assert build_corpus([suite], out, [Variant.parse("O0")], jobs=1, progress=False).compiled == 1
    assert len(kept_for()) == 3 and kept_for() == ok()


def test_the_command_names_the_sources_that_failed(suite, tmp_path, capsys):
    """`corpus build` printed only the count of failed compilations; which file failed, and why, was in the
    manifest alone. It now names them, on a run that reuses them too."""
    build = ["corpus", "build", str(suite), "-o", str(tmp_path / "out"), "--variants", "O0,O2", "-j", "1",
             "--no-progress"]
    for _ in range(2):
        assert main(build) == 0
        err = capsys.readouterr().err
        assert f"failed: 2 compilation(s) of 1 source(s); each has status \"failed\" and clang's error in " \
               f"{tmp_path / 'out' / 'manifest.jsonl'}" in err
        assert "  mysuite/broken.cpp:1 (O0): expected" in err and "  mysuite/broken.cpp:1 (O2): expected" in err
        assert "gpu.cu" not in err  # skipped, not failed


def test_a_corpus_inside_an_input_folder_is_not_read_as_its_sources(suite, tmp_path):
    """`corpus build mysuite/ other.tar.gz -o mysuite/corpus`: the archive unpacked into mysuite/corpus/sources was
    read again on the next run, as sources of mysuite (counted and compiled twice)."""
    archive = _tar_gz(tmp_path / "other.tar.gz", {"other/loop.c": C_LOOP})
    out = suite / "corpus"
    first = build_corpus([suite, archive], out, [Variant.parse("O0")], jobs=1, progress=False)
    again = build_corpus([suite, archive], out, [Variant.parse("O0")], jobs=1, progress=False)
    assert again.compiled == 0 and again.reused == first.compiled == 7
    assert again.table == first.table and (out / "sources" / "other" / "other" / "loop.c").exists()
    # A build killed while it compiled POJ-104 programs leaves copies of them in its scratch folder: they were read
    # as sources of mysuite before the next build removed them.
    (out / SCRATCH / "inst2vec-cc-1").mkdir(parents=True)
    (out / SCRATCH / "inst2vec-cc-1" / "prog.cpp").write_text("int main() { return 0; }\n")
    after_kill = build_corpus([suite, archive], out, [Variant.parse("O0")], jobs=1, progress=False)
    assert after_kill.compiled == 0 and after_kill.leftovers == 2 and after_kill.table == first.table
    same_folder = build_corpus([suite, archive], suite, [Variant.parse("O0")], jobs=1, progress=False)  # -o mysuite
    assert build_corpus([suite, archive], suite, [Variant.parse("O0")], jobs=1, progress=False).table == \
        same_folder.table


def test_manifest_cut_short_or_damaged(suite, tmp_path):
    """A last line cut short (a crash while appending) is built again; a damaged line before it stops the build
    with file:line and what to do, and the manifest is left as it was."""
    from inst2vec.errors import Inst2vecError

    out = tmp_path / "corpus"
    build_corpus([suite], out, [Variant.parse("O1")], jobs=1, progress=False)
    manifest = out / "manifest.jsonl"
    lines = manifest.read_text().splitlines(keepends=True)
    manifest.write_text("".join(lines[:-1]) + lines[-1][:20])
    again = build_corpus([suite], out, [Variant.parse("O1")], jobs=1, progress=False)
    assert again.compiled == 1 and again.reused == 5

    def without_timings(text):
        return [{k: v for k, v in json.loads(line).items() if not k.endswith("seconds")} for line in text.splitlines()]

    assert without_timings(manifest.read_text()) == without_timings("".join(lines))  # the lost record is back
    damaged = "".join(lines[:2]) + lines[2][:20] + "\n" + "".join(lines[3:])
    manifest.write_text(damaged)
    with pytest.raises(Inst2vecError, match=r"manifest.jsonl:3: not a manifest record .*delete this line"):
        build_corpus([suite], out, [Variant.parse("O1")], jobs=1, progress=False)
    assert manifest.read_text() == damaged


def test_timeout_and_bad_archive_and_missing_input(suite, tmp_path):
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"this is not gzip")
    report = build_corpus([junk, tmp_path / "nowhere", suite], tmp_path / "c", [Variant.parse("O0")],
                          jobs=1, timeout=0.001, progress=False)
    assert any("junk.tar.gz: cannot unpack" in e for e in report.input_errors)
    assert any("nowhere: no such file" in e for e in report.input_errors)
    timed_out = _records(tmp_path / "c")[("src/point.c", "O0")]
    assert timed_out["status"] == "failed" and timed_out["error"].startswith("timeout")
    assert not list((tmp_path / "c").rglob("*.ll"))


def test_a_longer_timeout_compiles_timed_out_files_again(suite, tmp_path):
    """A timeout was reused like a compile error: `--timeout 600` after "clang ran longer than 60 s" changed
    nothing. A run with more time compiles it again; one with the same or less reuses it."""
    out = tmp_path / "c"
    build_corpus([suite / "src"], out, [Variant.parse("O0")], jobs=1, timeout=0.001, progress=False)
    assert {r["status"] for r in Manifest(out)} == {"failed"}
    same = build_corpus([suite / "src"], out, [Variant.parse("O0")], jobs=1, timeout=0.001, progress=False)
    assert same.compiled == 0 and same.reused == 3
    longer = build_corpus([suite / "src"], out, [Variant.parse("O0")], jobs=1, progress=False)
    assert longer.compiled == 3 and {r["status"] for r in Manifest(out)} == {"ok", "duplicate"}


def test_a_failure_of_this_machine_is_compiled_again(suite, tmp_path):
    """A file that failed for a reason of the machine, not of the source (here a file where its IR's folder
    should be), was reused as failed by every later run."""
    out = tmp_path / "c"
    (suite / "src" / "sub").mkdir()
    (suite / "src" / "sub" / "point.c").write_text("int twice(int a) { return 2 * a; }\n")
    (out / "ir" / "src").mkdir(parents=True)
    (out / "ir" / "src" / "sub").write_text("in the way")
    build_corpus([suite / "src"], out, [Variant.parse("O0")], jobs=1, progress=False)
    failed = _records(out)[("sub/point.c", "O0")]
    assert failed["status"] == "failed" and failed["retry"] and "FileExistsError" in failed["error"], failed
    (out / "ir" / "src" / "sub").unlink()
    again = build_corpus([suite / "src"], out, [Variant.parse("O0")], jobs=1, progress=False)
    assert again.compiled == 1 and again.reused == 3 and _records(out)[("sub/point.c", "O0")]["status"] == "ok"


def test_failures_of_the_machine_are_told_from_failures_of_the_source():
    """clang's own words (taken from clang-14 under `ulimit -v`, and as the kernel's out-of-memory killer ends
    it): these failures say nothing about the source, so the record gets `retry` and is not reused."""
    import subprocess

    from ir_corpus.compile import _machine_failure

    def done(status, stderr=""):
        return subprocess.CompletedProcess(["clang-14"], status, "", stderr)

    assert _machine_failure(done(-9)) == "clang-14 was killed (SIGKILL)"
    assert _machine_failure(done(134, "LLVM ERROR: out of memory\nAllocation failed\nPLEASE submit a bug report to "
                                      "https://github.com/llvm/llvm-project/issues/ and include the crash backtrace"
                                 )) == "clang-14 ran out of memory"
    assert _machine_failure(done(127, "clang-14: error while loading shared libraries: libLLVM-14.so.1: failed to "
                                      "map segment from shared object\n")) == \
        "clang-14 could not start: error while loading shared libraries: libLLVM-14.so.1: failed to map segment " \
        "from shared object"
    # the output is named by the build (4851e57 named it wrong for a relative corpus folder: every file was
    # recorded as failed, and reused so in every later build)
    assert _machine_failure(done(1, "error: unable to open output file 'c/.scratch/inst2vec-cc-x/out.ll': 'No such "
                                    "file or directory'\n1 error generated.\n")) == \
        "clang-14 could not open its output: unable to open output file 'c/.scratch/inst2vec-cc-x/out.ll': 'No such " \
        "file or directory'"
    assert _machine_failure(done(1, "./a.c:1:9: error: expected ';' after top level declarator\n")) is None
    assert _machine_failure(done(-11, "PLEASE submit a bug report")) is None  # a crash of clang: the source's


def test_a_full_disk_stops_the_build_and_the_next_run_goes_on(tmp_path):
    """Here the file size limit (`ulimit -f`; the same errors as a full disk) stops clang writing a large file's
    IR: the build stops there, naming the file, leaves no partial file, and the next run compiles the rest. Each
    file used to fail on its own, be reused as failed, and could leave a half-copied `.ll.tmp`."""
    import resource
    import signal
    import subprocess
    import sys

    (tmp_path / "suite").mkdir()
    (tmp_path / "suite" / "a.c").write_text(C_LOOP)
    (tmp_path / "suite" / "b_large.c").write_text(  # about 300 kB of IR
        "int printf(const char *, ...);\nint main(void) {\n  volatile int x = 0;\n"
        + "".join(f'  x += {i}; if (x > {7 * i}) printf("%d", x);\n' for i in range(500)) + "  return x;\n}\n")
    (tmp_path / "suite" / "c.c").write_text(C_STRUCT)
    out = tmp_path / "c"

    def limit_file_size():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # then a write past the limit fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))

    stopped = subprocess.run([sys.executable, "-m", "inst2vec.cli", "corpus", "build", "-o", str(out), "-j", "1",
                              "--variants", "O0", "--no-progress", str(tmp_path / "suite")],
                             preexec_fn=limit_file_size, capture_output=True, text=True)
    assert stopped.returncode == 2, stopped.stderr
    assert "cannot write the IR of suite/b_large.c (O0) there: File too large" in stopped.stderr, stopped.stderr
    assert sorted(_records(out)) == [("a.c", "O0")]
    assert sorted(p.name for p in (out / "ir").rglob("*")) == ["a.c.O0.ll", "suite"]  # nothing half-written
    again = build_corpus([tmp_path / "suite"], out, [Variant.parse("O0")], jobs=1, progress=False)
    assert again.compiled == 2 and again.reused == 1 and not again.failures


def test_an_append_after_a_line_cut_short_starts_a_line_of_its_own(tmp_path):
    """The next record was appended to a last line cut short (a full disk), which made that line, no longer the
    last, stop the run after next ("not a manifest record")."""
    manifest = tmp_path / "manifest.jsonl"
    kept = {"suite": "s", "source": "a.c", "variant": "O0", "status": "failed"}
    manifest.write_text(json.dumps(kept) + "\n" + json.dumps({**kept, "source": "b.c"})[:25])
    Manifest(tmp_path).add({**kept, "source": "c.c"})
    assert sorted(r["source"] for r in Manifest(tmp_path)) == ["a.c", "c.c"]


@pytest.mark.parametrize("field, value, problem", [
    ("status", "great", "unknown status 'great'"), ("status", None, "'status' is None"),
    ("ir", None, "no 'ir'"), ("ir", "../../etc/passwd", "'ir' is '../../etc/passwd', not a file below ir/"),
    ("n_lines", "x", "'n_lines' is 'x'"), ("n_lines", -1, "'n_lines' is -1"), ("n_lines", True, "'n_lines' is True"),
    ("flags", 1e300, "'flags' is 1e+300"), ("flags", ["-O0", 2], "'flags' is ['-O0', 2]"),
    ("suite", -1, "'suite' is -1"), ("statements_sha256", [], "'statements_sha256' is []")])
def test_a_record_edited_into_another_shape_is_refused_naming_its_line(suite, tmp_path, field, value, problem):
    """Records of the right JSON but wrong fields (found by changing them at random) failed deep in the build with
    a TypeError or KeyError; an IR path outside the corpus could even have been removed as a duplicate's."""
    out = tmp_path / "corpus"
    build_corpus([suite], out, [Variant.parse("O0")], jobs=1, progress=False)
    lines = (out / "manifest.jsonl").read_text().splitlines()
    n, record = next((n, json.loads(line)) for n, line in enumerate(lines, 1) if json.loads(line)["status"] == "ok")
    if value is None and field == "ir":
        del record[field]
    else:
        record[field] = value
    lines[n - 1] = json.dumps(record)
    (out / "manifest.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(Inst2vecError) as caught:
        build_corpus([suite], out, [Variant.parse("O0")], jobs=1, progress=False)
    assert str(caught.value) == f"{out / 'manifest.jsonl'}:{n}: not a manifest record ({problem}); delete this " \
        "line, and `corpus build` compiles the file it recorded again"


def test_two_inputs_of_the_same_name_do_not_overwrite_each_others_ir(tmp_path):
    """`corpus build proj1/src proj2/src`: both are the suite 'src', and proj2's IR replaced proj1's file for
    file (4 compilations, 2 IR files, nothing said). The later input's clashing files are now left out and named;
    a folder given twice is built once."""
    for project, body in (("proj1", C_LOOP), ("proj2", C_STRUCT)):
        (tmp_path / project / "src").mkdir(parents=True)
        (tmp_path / project / "src" / "a.c").write_text(body)
    (tmp_path / "proj2" / "src" / "b.c").write_text(OPENCL.replace("__kernel ", "").replace("__global ", ""))
    first, second = tmp_path / "proj1" / "src", tmp_path / "proj2" / "src"
    report = build_corpus([first, second, first], tmp_path / "c", [Variant.parse("O0")], jobs=1, progress=False)
    assert report.input_errors == [f"{second}: 1 source file(s) left out (a.c): {first} gives the suite 'src' the "
                                   "same, and the IR of one would replace the other's; give one of the two folders "
                                   "another name (a link named otherwise will do)"]
    records = _records(tmp_path / "c")
    assert sorted(records) == [("a.c", "O0"), ("b.c", "O0")] and report.compiled == 2
    assert file_statements(tmp_path / "c" / records[("a.c", "O0")]["ir"]) == \
        text_statements(compile_file(first / "a.c").decode())  # proj1's, not proj2's


def test_a_crash_of_clang_is_named_and_leaves_no_files_behind(tmp_path, monkeypatch):
    """A crash of clang (here one a pragma asks for) wrote a copy of the preprocessed source and a script into
    $TMPDIR for each file, and was reported as "clang frontend command failed with exit code 132"."""
    (tmp_path / "suite").mkdir()
    (tmp_path / "suite" / "boom.c").write_text("#pragma clang __debug crash\nint f(void) { return 0; }\n")
    clang_tmp = tmp_path / "clang-tmp"
    clang_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(clang_tmp))  # where clang writes its crash reports
    build_corpus([tmp_path / "suite"], tmp_path / "c", [Variant.parse("O0")], jobs=1, progress=False)
    crashed = _records(tmp_path / "c")[("boom.c", "O0")]
    assert crashed["status"] == "failed" and crashed["error"].startswith("clang-14 crashed: "), crashed
    assert not list(clang_tmp.iterdir())


def test_source_names_that_are_no_regular_file_are_reported(tmp_path):
    import os

    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "a.c").write_text(C_LOOP)
    (folder / "gone.c").symlink_to(folder / "nowhere.c")
    os.mkfifo(folder / "pipe.cl")  # reading it would wait for a writer
    report = build_corpus([folder], tmp_path / "c", [Variant.parse("O0")], jobs=1, progress=False)
    assert report.input_errors == [f"{folder / 'gone.c'}: a broken link, not compiled",
                                   f"{folder / 'pipe.cl'}: not a regular file, not compiled"]
    assert [r["source"] for r in Manifest(tmp_path / "c")] == ["a.c"]


def test_a_corpus_is_reused_after_its_sources_and_the_toolkit_moved(suite, tmp_path):
    """The flags name the suite's folder and the toolkit's shims by their absolute paths: after moving the sources,
    or with another checkout of the toolkit, every file was compiled again (a POJ-104 corpus: 30 minutes), though
    clang makes the same bytes. Now reused, the records given the flags of the new places; not for a suite of the
    same name in another folder while the first is still there."""
    out, variants = tmp_path / "corpus", [Variant.parse("O0"), Variant.parse("O2")]
    first = build_corpus([suite], out, variants, jobs=2, progress=False)
    manifest = out / "manifest.jsonl"
    shims = json.dumps(str(compile_module.SHIMS))[1:-1]
    assert shims in manifest.read_text()
    manifest.write_text(manifest.read_text().replace(shims, "/elsewhere/inst2vec/ir_corpus/shims"))  # another checkout
    (tmp_path / "moved").mkdir()
    moved = suite.rename(tmp_path / "moved" / suite.name)
    again = build_corpus([moved], out, variants, jobs=2, progress=False)
    assert first.compiled == 12 and (again.compiled, again.reused) == (0, 12)
    fresh = build_corpus([moved], tmp_path / "fresh", variants, jobs=2, progress=False)
    assert fresh.compiled == 12 and {key: record.get("flags") for key, record in Manifest(out).records.items()} == \
        {key: record.get("flags") for key, record in Manifest(tmp_path / "fresh").records.items()}
    for ir in (tmp_path / "fresh" / "ir").rglob("*.ll"):
        assert ir.read_bytes() == (out / ir.relative_to(tmp_path / "fresh")).read_bytes()
    (moved / "src" / "point.c").write_text(C_STRUCT.replace("x * p->x", "x * 2"))  # a change is still one
    assert build_corpus([moved], out, variants, jobs=2, progress=False).compiled == 2
    # A suite of the same name elsewhere while this one is still there: the same sources may include other headers
    shutil.copytree(moved, tmp_path / "other" / suite.name)
    assert build_corpus([tmp_path / "other" / suite.name], out, variants, jobs=2, progress=False).compiled == 10


def test_include_folders_and_macros_are_added_recorded_and_change_what_is_reused(tmp_path, capsys, monkeypatch):
    """`corpus build -I DIR -D NAME`: a header outside the tree is found; the flags are in the manifest, the same
    flags reuse the IR, other flags compile again."""
    (tmp_path / "src").mkdir()
    (tmp_path / "ext").mkdir()
    (tmp_path / "src" / "f.c").write_text('#include "lib.h"\nint f(int a) { return a * SCALE; }\n')
    (tmp_path / "ext" / "lib.h").write_text("#define SCALE 3\n")
    monkeypatch.delenv(compile_module.SOURCE_FLAGS_VARIABLE, raising=False)
    build = ["corpus", "build", str(tmp_path / "src"), "-o", str(tmp_path / "out"), "--variants", "O0"]

    def record() -> dict:
        return Manifest(tmp_path / "out").records[("src", "f.c", "O0")]

    assert main(build) == 0  # a source that does not compile is recorded as failed, as in every corpus
    assert record()["error"] == "'lib.h' file not found"
    for flags, compiled in ((["-I", str(tmp_path / "ext")], "1 compilations now, 0 reused"),
                            (["-I", str(tmp_path / "ext")], "0 compilations now, 1 reused"),
                            (["-I", str(tmp_path / "ext"), "-D", "EXTRA"], "1 compilations now, 0 reused")):
        assert main([*build, *flags]) == 0
        assert compiled in capsys.readouterr().out
        given = [flag + value for flag, value in zip(flags[::2], flags[1::2])]  # as clang gets them
        assert record()["status"] == "ok" and record()["flags"][-len(given):] == given


def test_single_source_files_are_suites_of_one(suite, tmp_path):
    """`corpus build prog.c` used to try to unpack prog.c as an archive."""
    report = build_corpus([suite / "src" / "point.c", suite / "kernel.cl"], tmp_path / "c", [Variant.parse("O0")],
                          jobs=1, progress=False)
    assert sorted(_records(tmp_path / "c")) == [("kernel.cl", "O0"), ("point.c", "O0")]
    assert [row["suite"] for row in report.table] == ["mysuite", "src", "total"]
    assert (tmp_path / "c" / "ir" / "src" / "point.c.O0.ll").is_file() and not report.input_errors


def test_no_readable_input_writes_nothing(suite, tmp_path, capsys):
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"this is not gzip")
    (tmp_path / "kernel.ll").write_text("define void @f() {\n  ret void\n}\n")
    (tmp_path / "empty").mkdir()
    inputs = [str(junk), str(tmp_path / "nowhere"), str(tmp_path / "kernel.ll")]
    assert main(["corpus", "build", *inputs, "-o", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert "junk.tar.gz: cannot unpack: not a tar archive" in err and "nowhere: no such file or directory" in err
    assert "kernel.ll: not a folder, a .tar.gz archive or a C, C++, OpenCL or CUDA source" in err
    assert "none of the 3 input(s) could be read; nothing written" in err
    assert main(["corpus", "build", str(tmp_path / "empty"), "-o", str(tmp_path / "c")]) == 2
    assert "no C, C++, OpenCL or CUDA source files in the inputs; nothing written" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()  # it used to hold an empty manifest (and exit 1)
    (tmp_path / "killed" / SCRATCH / "inst2vec-cc-1").mkdir(parents=True)  # what a killed build left: removed
    assert main(["corpus", "build", str(tmp_path / "empty"), "-o", str(tmp_path / "killed")]) == 2
    assert f"note: removed what a killed build had left in {tmp_path / 'killed'}: 1 temporary file(s) and folder(s)" \
        in capsys.readouterr().err and not (tmp_path / "killed" / SCRATCH).exists()


def test_archives_are_unpacked_safely(tmp_path):
    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        (tmp_path / "a.c").write_text(C_LOOP)
        tar.add(tmp_path / "a.c", arcname="ok/a.c")
        tar.add(tmp_path / "a.c", arcname="../escape.c")
        link = tarfile.TarInfo("link.c")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    for run in range(3):  # the second run reuses the unpacked folder and still reports what it left out
        if run == 2:  # a mark cut short (a crash while it was written, before it went with the folder): unpack again
            mark, = (tmp_path / "c").rglob(".unpacked")
            mark.write_text('{"refused": ["../esc')
        report = build_corpus([archive], tmp_path / "c", [Variant.parse("O0")], jobs=1, progress=False)
        assert [r["source"] for r in Manifest(tmp_path / "c")] == ["ok/a.c"]
        assert not (tmp_path / "c" / "escape.c").exists() and report.table[0]["compiled"] == 1
        assert report.input_errors == [f"{archive}: skipped 2 member(s) that are links or would land outside the "
                                       "archive (../escape.c, link.c)"]


def test_a_folder_the_unpacked_archive_would_replace_is_kept_unless_an_unpack_made_it(tmp_path):
    """`corpus build mybench.tar.gz -o .` removed a folder sources/mybench that was there already, the user's own
    files with it, to unpack the archive there. Only a folder an earlier unpack made (it holds the mark) is
    replaced now; anything else is reported and kept."""
    archive = _tar_gz(tmp_path / "mybench.tar.gz", {"mybench/a.c": C_LOOP})
    theirs = tmp_path / "out" / "sources" / "mybench"
    theirs.mkdir(parents=True)
    (theirs / "notes.txt").write_text("kept")
    with pytest.raises(NoSourcesError) as refused:
        build_corpus([archive], tmp_path / "out", [Variant.parse("O0")], jobs=1, progress=False)
    assert refused.value.errors == [f"{archive}: cannot unpack into {theirs}: it is there already, and no archive "
                                    "was unpacked into it (no .unpacked file); move it away, or build into another "
                                    "folder"]
    assert [p.name for p in theirs.iterdir()] == ["notes.txt"]
    (theirs / "notes.txt").unlink()
    (theirs / ".unpacked").write_text('{"refused": [')  # an earlier unpack's, its mark damaged: unpacked again
    report = build_corpus([archive], tmp_path / "out", [Variant.parse("O0")], jobs=1, progress=False)
    assert report.table[0]["compiled"] == 1 and (theirs / "mybench" / "a.c").is_file()


def test_compiler_checks(tmp_path):
    assert "version 14" in clang_version()
    with pytest.raises(CompilerError, match="not found"):
        clang_version("clang-does-not-exist")
    with pytest.raises(CompilerError, match="needs clang 14"):
        clang_version("gcc")
    # A compiler that cannot run (a library missing, under a memory limit) ended the build with a traceback
    with pytest.raises(CompilerError, match=r"^`false --version` failed: exit status 1; reinstall it with"):
        clang_version("false")
    junk = tmp_path / "clang-14"
    junk.write_bytes(b"\x7fELF junk")
    junk.chmod(0o755)
    with pytest.raises(CompilerError, match=r"clang-14 cannot be run \(\[Errno 8\] Exec format error"):
        clang_version(str(junk))


def test_variants(suite, tmp_path):
    assert Variant.parse("O3-ffast-math").flags == ("-O3", "-ffast-math")
    for spec in ("fast", "", "O2 fno-omit", "O2 -O3"):
        with pytest.raises(ValueError, match="O2, O3-ffast-math or 'O2 -fno-omit-frame-pointer'"):
            Variant.parse(spec)
    # An option with -f inside its name was cut in two, and clang refused every file: refused before any work,
    # and written after a space it works.
    cut = Variant.parse("O2-fno-omit-frame-pointer")
    assert cut.flags == ("-O2", "-fno-omit", "-frame-pointer")
    with pytest.raises(VariantError, match=r"variant O2-fno-omit-frame-pointer \(-O2 -fno-omit -frame-pointer\): "
                                           r"clang: error: unknown argument: '-fno-omit'; an option whose name"):
        build_corpus([suite], tmp_path / "cut", [cut], jobs=1, progress=False)
    assert not (tmp_path / "cut").exists()
    spaced = Variant.parse("O2 -fno-omit-frame-pointer  -funroll-loops")
    assert spaced.name == "O2-fno-omit-frame-pointer-funroll-loops"
    assert spaced.flags == ("-O2", "-fno-omit-frame-pointer", "-funroll-loops")
    report = build_corpus([suite / "src" / "point.c"], tmp_path / "spaced", [spaced], jobs=1, progress=False)
    record, = Manifest(tmp_path / "spaced")
    assert report.table[-1]["compiled"] == 1 and "-fno-omit-frame-pointer" in record["flags"]


def test_llvm_test_suite_polybench_compiles(data_root, tmp_path):
    """Its PolyBench programs use FP_ABSTOLERANCE, which the suite's build system defines; they failed with
    "use of undeclared identifier 'FP_ABSTOLERANCE'"."""
    suite = "llvm-test-suite-SingleSource"
    with tarfile.open(data_root / "ir-corpus-sources" / f"{suite}.tar.gz") as tar:
        members = [m for m in tar if m.isfile() and ("Polybench/utilities/polybench.h" in m.name
                                                     or "Polybench/datamining/covariance/" in m.name)]
        tar.extractall(tmp_path / suite, members=members, filter="data")
    report = build_corpus([tmp_path / suite], tmp_path / "c", [Variant.parse("O0")], jobs=1, progress=False)
    records = _records(tmp_path / "c")
    covariance = records["SingleSource/Benchmarks/Polybench/datamining/covariance/covariance.c", "O0"]
    assert covariance["status"] == "ok", covariance.get("error")
    assert "-DFP_ABSTOLERANCE=1e-5" in covariance["flags"] and report.table[0]["failed"] == 0


def test_poj104_recipe(data_root, tmp_path):
    assert prepare_poj104("void main() {}").endswith("int main() {}")
    assert prepare_poj104("main()\n{ return 0; }").split("using namespace std;\n")[1].startswith("int main()")
    with tarfile.open(data_root / "poj104" / "poj104.tar.gz") as tar:
        members = [m for m in tar if m.name.startswith("poj104/1/") and m.isfile()][:3]
        tar.extractall(tmp_path / "src", members=members, filter="data")
    root = tmp_path / "poj104"
    (tmp_path / "src" / "poj104").rename(root)
    report = build_corpus([root], tmp_path / "c", [Variant.parse("O0")], jobs=1, progress=False)
    assert report.table[0]["compiled"] >= 2  # raw student programs compile once the header is in front


def test_poj104_precompiled_header_gives_the_same_ir(data_root, tmp_path, monkeypatch):
    """The header precompiled: the same IR bytes, status and error as with the header's text in front."""
    with tarfile.open(data_root / "poj104" / "poj104.tar.gz") as tar:
        members = [m for m in tar if m.name.startswith("poj104/7/") and m.isfile()][:3]
        tar.extractall(tmp_path, members=members, filter="data")
    root = tmp_path / "poj104"
    (root / "lines.cpp").write_text('int main() { printf("%d %s\\n", __LINE__, __FILE__); return 0; }\n')
    (root / "broken.cpp").write_text("int main() { cout << undeclared; }\n")
    sources = [Source("poj104", str(root), str(p.relative_to(root))) for p in sorted(root.rglob("*.cpp"))]
    o0 = Variant.parse("O0")
    with_pch = [compile_source(s, o0, str(tmp_path / "pch" / f"{s.relpath}.ll")) for s in sources]
    assert all(r["precompiled_header"] for r in with_pch)
    monkeypatch.setattr(compile_module, "poj104_pch", lambda flags, clang=None: None)
    with_text = [compile_source(s, o0, str(tmp_path / "text" / f"{s.relpath}.ll")) for s in sources]
    assert not any(r["precompiled_header"] for r in with_text)
    for a, b in zip(with_pch, with_text):
        assert (a["status"], a.get("sha256"), a["error"]) == (b["status"], b.get("sha256"), b["error"]), a["source"]
    assert [r["status"] for r in with_pch].count("ok") == len(sources) - 1
    for records in (with_pch, with_text):  # the line in the program, not after the header put in front
        broken = next(r for r in records if r["source"] == "broken.cpp")
        assert "undeclared" in broken["error"] and broken["error_line"] == 1


def test_real_suite_and_cli_stats(data_root, tmp_path, capsys):
    out = tmp_path / "c"
    archive = data_root / "ir-corpus-sources" / "gpgpu-polybench-gpu-1.0.tar.gz"
    assert main(["corpus", "build", str(archive), "-o", str(out), "--limit", "6", "--variants", "O0",
                 "--no-progress"]) == 0
    built = capsys.readouterr().out
    assert "gpgpu-polybench-gpu-1.0" in built and "our own per-file work" in built
    assert main(["corpus", "stats", str(out), "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows[0]["suite"] == "gpgpu-polybench-gpu-1.0" and rows[0]["files"] == 6 and rows[0]["compiled"] >= 3
    # An IR file gone since (it ended the command with "error: [Errno 2] No such file or directory: '…'")
    lost = sorted((out / "ir").rglob("*.ll"))[0]
    lost.unlink()
    assert main(["corpus", "stats", str(out), "--json"]) == 1
    stats = capsys.readouterr()
    assert [json.loads(line) for line in stats.out.splitlines()][0]["compiled"] == rows[0]["compiled"]
    assert f"error: {lost}: No such file or directory" in stats.err and "leave out 1 IR file" in stats.err
    assert main(["corpus", "build", str(archive), "-o", str(out), "--variants", "fast"]) == 2
    for nothing in ("", ","):  # built nothing and reported success, with an empty manifest in a new folder
        assert main(["corpus", "build", str(archive), "-o", str(tmp_path / "none"), "--variants", nothing]) == 2
        assert "names no variant" in capsys.readouterr().err and not (tmp_path / "none").exists()
    assert main(["corpus", "stats", str(tmp_path / "empty")]) == 2


def test_builds_into_one_folder_at_once_take_turns(data_root, tmp_path):
    """Two `corpus build ARCHIVE -o OUT` at once: the second failed ("No such file or directory:
    'OUT/sources/….partial' -> …"), the first having unpacked the archive in its place. Now each waits for the folder's
    lock (held here by the test until both wait), and the second reuses what the first compiled."""
    import contextlib
    import subprocess
    import sys
    import time

    from inst2vec.io import folder_lock

    archive = data_root / "ir-corpus-sources" / "gpgpu-polybench-gpu-1.0.tar.gz"
    out = tmp_path / "c"
    command = [sys.executable, "-m", "inst2vec.cli", "corpus", "build", str(archive), "-o", str(out), "--variants",
               "O0", "--no-progress"]
    logs = [tmp_path / f"run{i}.err" for i in range(2)]
    with folder_lock(out, "the test"), contextlib.ExitStack() as files:
        runs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=files.enter_context(open(log, "w")),
                                 text=True) for log in logs]
        deadline = time.monotonic() + 120
        while not all("waiting for another `corpus build`" in log.read_text() for log in logs):
            assert time.monotonic() < deadline and all(run.poll() is None for run in runs), \
                [log.read_text() for log in logs]
            time.sleep(0.1)
    printed = [run.communicate(timeout=300)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], [log.read_text() for log in logs]
    assert sorted(text.rsplit("\n", 2)[-2].split(" compilations now")[0] for text in printed) == ["0", "30"]
    assert len(Manifest(out)) == 30 and len((out / "manifest.jsonl").read_text().splitlines()) == 30


def test_a_lock_file_removed_while_waited_for_is_made_again(tmp_path, capsys):
    """A build that makes the corpus folder and finds no source removes the folder, its lock file with it. A build
    waiting for that lock then held a lock on a removed file, and a third one, making the folder again, ran beside
    it. The waiting one now locks the folder's lock file as it is after the wait."""
    import fcntl
    import threading
    import time

    from inst2vec.io import LOCK_FILE, folder_lock

    out = tmp_path / "c"
    out.mkdir()
    first = open(out / LOCK_FILE, "a")
    fcntl.flock(first, fcntl.LOCK_EX)
    found = []

    def second():
        with folder_lock(out, "the first"), open(out / LOCK_FILE, "a") as probe:
            try:  # another open file of the path can be locked only if the path's file is not held
                fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
                found.append("not held")
            except BlockingIOError:
                found.append("held")

    waiting = threading.Thread(target=second)
    waiting.start()
    deadline, said = time.monotonic() + 30, ""
    while "waiting for the first to end" not in said and time.monotonic() < deadline:
        time.sleep(0.01)
        said += capsys.readouterr().err
    (out / LOCK_FILE).unlink()  # what the first does when it finds no source
    out.rmdir()
    first.close()
    waiting.join(timeout=30)
    assert found == ["held"] and (out / LOCK_FILE).is_file()
    assert "waiting for the first" not in capsys.readouterr().err  # said once


def test_corpus_does_not_depend_on_where_it_is_built(tmp_path):
    """__FILE__ (assert messages) and the module's name are relative to the suite: the same IR from any folder."""
    hashes = []
    for where in ("a", "much/longer/folder/name"):
        root = tmp_path / where / "suite"
        root.mkdir(parents=True)
        (root / "check.c").write_text('#include <assert.h>\nint f(int x) { assert(x > 0); return x; }\n')
        build_corpus([root], tmp_path / where / "out", [Variant.parse("O0")], jobs=1, progress=False)
        (record,) = Manifest(tmp_path / where / "out")
        hashes.append((record["statements_sha256"], record["sha256"]))
    assert hashes[0] == hashes[1]


def test_poj104_programs_calling_gets_compile(data_root, tmp_path):
    # C++14 removed `gets`; ncc compiled POJ-104 as C++11, where it is declared (about 10 % of programs use it).
    with tarfile.open(data_root / "poj104" / "poj104.tar.gz") as tar:
        member = tar.getmember("poj104/100/27501.cpp")
        assert b"gets" in tar.extractfile(member).read()
        tar.extractall(tmp_path / "src", members=[member], filter="data")
    report = build_corpus([tmp_path / "src" / "poj104"], tmp_path / "c", [Variant.parse("O0")], jobs=1,
                          progress=False)
    assert report.table[0]["compiled"] == 1


def _many_sources(folder, n: int):
    folder.mkdir()
    for i in range(n):
        (folder / f"p{i}.c").write_text(f"int table[{i + 1}];\nint f(int k) {{ return table[k]; }}\n")  # distinct IR
    return folder


def _build_process(sources, out, tmp_dir):
    import os
    import subprocess
    import sys

    command = [sys.executable, "-m", "inst2vec.cli", "corpus", "build", str(sources), "-o", str(out), "-j", "2",
               "--variants", "O0", "--no-progress"]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, env={**os.environ, "TMPDIR": str(tmp_dir)})


def _wait_for_compiling(run, out):
    import time

    deadline = time.monotonic() + 120
    while not ((out / SCRATCH).is_dir() and any((out / SCRATCH).iterdir())):
        assert run.poll() is None and time.monotonic() < deadline, run.communicate()[0]
        time.sleep(0.01)


def test_what_a_killed_build_left_is_removed_by_the_next(tmp_path, capsys):
    """A build killed at once (SIGKILL to its process group) left clang's temporary folders in $TMPDIR, where no
    later build looked, and could leave the temporary files of IR, the manifest or the digests archive in the
    corpus. Clang now works in OUT/.scratch, and the next build removes all of these (it holds the folder's lock:
    no build is writing them); other hidden files stay."""
    import os
    import signal

    sources, out, tmp_dir = _many_sources(tmp_path / "many", 120), tmp_path / "corpus", tmp_path / "tmp"
    tmp_dir.mkdir()
    run = _build_process(sources, out, tmp_dir)
    _wait_for_compiling(run, out)
    os.killpg(run.pid, signal.SIGKILL)
    run.communicate(timeout=60)
    assert not [p.name for p in tmp_dir.iterdir() if p.name.startswith("inst2vec-cc-")]
    left = [out / "ir" / "many" / ".p0.c.O0.ll.k3x_9qza.tmp", out / ".manifest.jsonl.0a1b2c3d.tmp",
            out / "..statement-digests.npz.zzzzzzzz.npz"]
    kept = [out / ".notes", out / "ir" / "many" / ".keep.tmp", out / "ir" / "many" / ".p0.c.O0.ll.ABCDEFGH.tmp"]
    for path in left + kept:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    in_scratch = sum(len(folders) + len(files) for _, folders, files in os.walk(out / SCRATCH))
    assert main(["corpus", "build", str(sources), "-o", str(out), "--variants", "O0", "--no-progress"]) == 0
    assert (f"note: removed what a killed build had left in {out}: {in_scratch + len(left)} temporary file(s) and "
            "folder(s)") in capsys.readouterr().err
    assert not (out / SCRATCH).exists() and [p for p in left if p.exists()] == [] and all(p.exists() for p in kept)
    assert sum(r["status"] == "ok" for r in Manifest(out)) == 120
    assert main(["corpus", "build", str(sources), "-o", str(out), "--variants", "O0", "--no-progress"]) == 0
    assert "note: removed" not in capsys.readouterr().err


def test_a_build_told_to_stop_skips_what_its_workers_have_not_started(tmp_path):
    """SIGTERM to the build alone (`kill PID`): the workers finish the file in hand and skip the rest. (The pool's
    own cancelling of the rest, used until then, raised in the pool's thread when a signal to the whole group had
    ended the workers meanwhile: a traceback after `terminated`, in 7 of 120 builds in a loop.)"""
    import signal
    import time

    sources, out, tmp_dir = _many_sources(tmp_path / "many", 400), tmp_path / "corpus", tmp_path / "tmp"
    tmp_dir.mkdir()
    run = _build_process(sources, out, tmp_dir)
    _wait_for_compiling(run, out)
    start = time.monotonic()
    run.send_signal(signal.SIGTERM)
    printed = run.communicate(timeout=120)[0]
    assert run.returncode == 143 and printed.strip().endswith("terminated (SIGTERM)"), printed
    assert time.monotonic() - start < 5
    recorded = sum(r["status"] == "ok" for r in Manifest(out))
    on_disk = len(list((out / "ir").rglob("*.ll")))
    assert recorded < 400 and on_disk - recorded <= 2, (recorded, on_disk)  # at most a file in hand per worker
    assert not (out / SCRATCH).exists() and not list(tmp_dir.iterdir())


def test_a_stopped_build_removes_the_temporary_files_its_workers_left(tmp_path, monkeypatch):
    """A signal to the whole process group ends the workers at once: one writing its IR left the IR's temporary file
    in the corpus until the next build (3 of 60 builds in a loop sending SIGTERM to the group). The build now
    removes those of the files it was compiling when it stops; here it is stopped by Ctrl-C after its first record,
    with such a file put where a killed worker would have left it."""
    sources, out = _many_sources(tmp_path / "many", 30), tmp_path / "corpus"
    left = out / "ir" / "many" / ".p29.c.O0.ll.k3x_9qza.tmp"  # the temporary file of one of its IR files
    other = out / "ir" / "many" / ".elsewhere.c.O0.ll.k3x_9qza.tmp"  # no file of this build: not ours to remove
    add = Manifest.add

    def add_then_stop(self, record):
        add(self, record)
        for path in (left, other):
            path.write_text("x")
        raise KeyboardInterrupt

    monkeypatch.setattr(Manifest, "add", add_then_stop)
    with pytest.raises(KeyboardInterrupt):
        build_corpus([sources], out, [Variant.parse("O0")], jobs=2, progress=False)
    assert not left.exists() and other.exists()
    assert not [path.name for path in (out / "ir" / "many").iterdir() if path.name.startswith(".") and path != other]
