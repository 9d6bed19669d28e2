"""Build an LLVM IR corpus: compile every source in every variant, in parallel, resumably, deduplicated."""
from __future__ import annotations

import contextlib
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from inst2vec.batch import pool_results, progress_bar, stoppable_pool, worker_stopped
from inst2vec.errors import DiskFullError
from inst2vec.io import DISK_FULL_ERRORS, LOCK_FILE, folder_lock, is_temporary_name, remove_temporary_files
from ir_corpus.compile import (CLANG, DEFAULT_VARIANTS, DISTINCT_DIGESTS, Variant, check_variant, clang_version,
                               compile_flags, compile_source, file_sha256, same_flags, source_flags)
from ir_corpus.manifest import Manifest, corpus_table
from ir_corpus.sources import Source, SourceError, find_sources, was_unpacked


#: The build's own folder in the corpus folder, for clang's temporary folders: removed when the build ends, and
#: when the next build starts if the build was killed (its workers leave them behind).
SCRATCH = ".scratch"


@dataclass
class BuildReport:
    """What a build did: the per-suite table, errors for unreadable inputs, the compilations that failed, and
    timings."""

    table: list[dict]
    input_errors: list[str] = field(default_factory=list)
    failures: list[dict] = field(default_factory=list)  # the failed records of this build's sources, in path order
    compiled: int = 0  # compilations run now (not reused from an earlier run)
    reused: int = 0
    wall_seconds: float = 0.0
    clang_seconds: float = 0.0  # summed over compilations run now
    worker_seconds: float = 0.0  # the same compilations, including our own work around clang
    ir_lines: int = 0  # lines of the IR compiled now
    leftovers: int = 0  # files and folders a killed build had left in the corpus folder, removed now
    pruned: int = 0  # records of sources or variants not in this build, dropped (``prune``)
    pruned_files: int = 0  # files in ``OUT/ir`` that no record names, removed (``prune``)
    pruned_archives: int = 0  # archives unpacked in ``OUT/sources`` for suites no record names, removed (``prune``)

    @property
    def overhead(self) -> float:
        """Our own per-file work as a fraction of clang's time."""
        return (self.worker_seconds - self.clang_seconds) / self.clang_seconds if self.clang_seconds else 0.0


class NoSourcesError(SourceError):
    """No input held a source file to compile; ``errors`` says why for each input that could not be read, and
    ``leftovers`` counts what a killed build had left in the corpus folder, removed all the same."""

    def __init__(self, errors: list[str], n_inputs: int, leftovers: int = 0):
        self.errors = errors
        self.leftovers = leftovers
        super().__init__(f"none of the {n_inputs} input(s) could be read; nothing written"
                         if len(errors) == n_inputs else
                         "no C, C++, OpenCL or CUDA source files in the inputs; nothing written")


def _ir_path(source: Source, variant: Variant) -> str:
    return os.path.join("ir", source.suite, f"{source.relpath}.{variant.name}.ll")


def _with_orphaned_duplicates_compiled(tasks: list[tuple]) -> list[tuple]:
    """``tasks`` with the earlier record of each duplicate dropped, so that it is compiled again, when the IR it
    duplicates is not kept in this run: its source changed, fails now, or is not among this run's inputs. (Such a
    duplicate was left without IR, in every later run too.)"""
    kept = {old["ir"] for *_, old in tasks if old is not None and old["status"] == "ok"}
    return [(*task[:4], None) if task[4] is not None and task[4]["status"] == "duplicate"
            and task[4].get("duplicate_of") not in kept else task for task in tasks]


def _reusable(old: dict, digest: str, version: str, out_dir: Path, flags: list[str] | None, timeout: float) -> bool:
    """Whether an earlier record still holds: same source bytes, compiler and flags (``flags``: those of now, None
    for a record without: a source never compiled), IR still there as written (not cut short or changed since); not
    failed for a reason of that machine rather than of the source (``retry``), nor out of less time than clang has
    now."""
    if old.get("source_sha256") != digest or old.get("clang") != version or old.get("retry"):
        return False
    if timeout > old.get("timeout", timeout):
        return False
    if flags is not None and not same_flags(old["flags"], flags):
        return False
    if old["status"] != "ok":
        return True
    ir = out_dir / old["ir"]
    return ir.is_file() and file_sha256(ir) == old.get("sha256")


def _remove_leftovers(out_dir: Path) -> int:
    """Remove what a killed build left in ``out_dir`` and return how many files and folders: what its :data:`SCRATCH`
    folder holds, and the temporary files of IR, the manifest and the digests archive. The caller holds the
    folder's lock: no build is writing them."""
    leftovers = []
    scratch = out_dir / SCRATCH
    if scratch.is_dir() and not scratch.is_symlink():
        leftovers += [os.path.join(root, name) for root, folders, names in os.walk(scratch) for name in folders + names]
        shutil.rmtree(scratch, ignore_errors=True)
    if out_dir.is_dir():
        temporary = [entry.path for entry in os.scandir(out_dir) if is_temporary_name(entry.name)]
        temporary += [os.path.join(root, name) for root, _, names in os.walk(out_dir / "ir") for name in names
                      if is_temporary_name(name)]
        for path in temporary:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
                leftovers.append(path)
    return len(leftovers)


def _remove_unrecorded_ir(out_dir: Path, manifest: Manifest) -> int:
    """Remove every file below ``out_dir/ir`` that no record of ``manifest`` names as its IR, and the folders left
    empty; return how many files. The caller holds the folder's lock and has saved the manifest."""
    named = {os.path.normpath(record["ir"]) for record in manifest if record["status"] == "ok"}
    removed = 0
    for root, _, names in os.walk(out_dir / "ir", topdown=False):
        for name in names:
            path = os.path.join(root, name)
            if os.path.relpath(path, out_dir) not in named:
                os.unlink(path)
                removed += 1
        if root != str(out_dir / "ir"):
            with contextlib.suppress(OSError):  # not empty
                os.rmdir(root)
    return removed


def _remove_unrecorded_archives(out_dir: Path, manifest: Manifest) -> int:
    """Remove the archives unpacked in ``out_dir/sources`` for suites that no record of ``manifest`` names; return
    how many. The caller holds the folder's lock."""
    if not (out_dir / "sources").is_dir():
        return 0
    suites = {record["suite"] for record in manifest}
    unpacked = [entry.path for entry in os.scandir(out_dir / "sources")
                if entry.name not in suites and was_unpacked(entry.path)]
    for folder in unpacked:
        doomed = folder + ".partial"  # unpacking that archive again removes this first: a kill mid-way blocks nothing
        shutil.rmtree(doomed, ignore_errors=True)
        os.rename(folder, doomed)
        shutil.rmtree(doomed)
    return len(unpacked)


def _compile_job(job: tuple[Source, Variant, str, float, str, list[str], str]) -> dict | None:
    if worker_stopped():
        return None  # the build stopped: no one reads this
    source, variant, output, timeout, clang, extra_flags, scratch = job
    start = time.perf_counter()
    try:
        record = compile_source(source, variant, output, timeout, clang, extra_flags, scratch)
    except OSError as err:
        if isinstance(err, DiskFullError) or err.errno in DISK_FULL_ERRORS:
            raise  # every file after it would fail too: the build stops; what it kept is recorded
        # a permission, a vanished file: this file fails, the build goes on, and the next one compiles it again
        record = {"source": source.relpath, "suite": source.suite, "variant": variant.name,
                  "language": source.language, "status": "failed", "error": f"{type(err).__name__}: {err}",
                  "retry": True}
    record["worker_seconds"] = round(time.perf_counter() - start, 4)
    return record


def build_corpus(inputs: Sequence[str | os.PathLike], out_dir: str | os.PathLike,
                 variants: Sequence[Variant] = DEFAULT_VARIANTS, jobs: int = 0, timeout: float = 60.0,
                 progress: bool | None = None, clang: str = CLANG, limit: int | None = None,
                 prune: bool = False) -> BuildReport:
    """Compile all C/C++/OpenCL sources of ``inputs`` into ``out_dir/ir`` and record them in the manifest.

    Args:
        inputs: directories or ``.tar.gz`` archives; each is one suite (named after it).
        out_dir: the corpus folder (``ir/``, ``sources/`` for unpacked archives, ``manifest.jsonl``).
        variants: compilation variants (default ``-O0`` and ``-O2``).
        jobs: worker processes (0: all cores).
        timeout: seconds clang may take per file before the file is marked failed.
        limit: at most this many sources per suite (the first in path order), for small corpora.
        prune: drop the records of sources and variants this build was not given, and remove every file in
            ``out_dir/ir`` that no record names and the archives unpacked for suites no record names: the corpus
            then holds this build's inputs only. Nothing is pruned when an input could not be read whole (its
            suite's records would go).

    A second run reuses every record whose source, flags and compiler are unchanged (and whose IR
    is still there). IR whose statements equal an earlier file's is kept once: later copies are
    recorded as ``duplicate`` of it and not written. The flags of ``$INST2VEC_CFLAGS`` (``corpus build -I DIR
    -D NAME``) are added to every compilation, and recorded.

    Raises:
        CompilerError: clang-14 is missing or of another version, or ``$INST2VEC_CFLAGS`` cannot be read.
        VariantError: clang-14 refuses a variant's flags (nothing is compiled).
    """
    start = time.perf_counter()
    extra_flags = source_flags()
    variants = list(dict.fromkeys(variants))  # a variant named twice is compiled once (each was, twice)
    version = clang_version(clang)
    for variant in variants:
        check_variant(variant, clang)
    out_dir = Path(out_dir)
    made = [folder for folder in (out_dir, out_dir / "sources") if not folder.exists()]
    with folder_lock(out_dir, f"another `corpus build` into {out_dir}"):  # unpacking, manifest: shared
        # First: in a corpus folder inside an input folder, a killed build's scratch holds POJ-104 sources.
        leftovers = _remove_leftovers(out_dir)
        sources, errors = find_sources(list(inputs), out_dir / "sources")
        if not sources:
            if out_dir in made:  # its lock file too, so that the folder can go
                (out_dir / LOCK_FILE).unlink(missing_ok=True)
            for folder in reversed(made):  # a failed unpack may have made them; nothing else was written
                with contextlib.suppress(OSError):
                    folder.rmdir()
            raise NoSourcesError(errors, len(inputs), leftovers)
        if limit is not None:
            kept, per_suite = [], {}
            for source in sources:
                per_suite[source.suite] = per_suite.get(source.suite, 0) + 1
                if per_suite[source.suite] <= limit:
                    kept.append(source)
            sources = kept
        manifest = Manifest(out_dir)
        tasks = []
        for source in sources:
            digest = file_sha256(source.path)
            for variant in variants:
                old = manifest.records.get((source.suite, source.relpath, variant.name))
                if old is not None:
                    flags = compile_flags(source, variant) + extra_flags if "flags" in old else None
                    if not _reusable(old, digest, version, out_dir, flags, timeout):
                        old = None
                    elif flags is not None:  # those of now, which differ at most in where the sources or toolkit are
                        old["flags"] = flags
                tasks.append((source, variant, _ir_path(source, variant), digest, old))
        tasks = _with_orphaned_duplicates_compiled(tasks)
        scratch = str(out_dir / SCRATCH)
        todo = [(source, variant, str(out_dir / output), timeout, clang, extra_flags, scratch)
                for source, variant, output, _, old in tasks if old is None]
        report = BuildReport(table=[], input_errors=errors, leftovers=leftovers)
        seen: dict[str, str] = {}  # statements' digest -> the IR kept for them
        kept: set[str] = set()  # seen's values, for a reused duplicate to look its original up at once
        computed: dict[str, np.ndarray] = {}  # the distinct statement digests of the IR compiled now, by its sha256
        checked: set[str] = set()  # the IR compiled now, or reused once its bytes were checked (``_reusable``)
        for (source, variant, output, digest, old), record in zip(tasks, _run(todo, tasks, jobs, progress, scratch)):
            if record is None:  # reused from an earlier run
                record = old
                if record["status"] == "ok":
                    checked.add(record["ir"])
                report.reused += 1
                if record["status"] == "duplicate" and record.get("duplicate_of") not in kept \
                        and record.get("statements_sha256") not in seen:
                    record = None  # its original is gone: compile again next run (else: pointed at the IR kept)
            else:
                report.compiled += 1
                report.clang_seconds += record.get("seconds", 0.0)
                report.worker_seconds += record.get("worker_seconds", 0.0)
                record.update(source_sha256=digest, clang=version)
                distinct = record.pop(DISTINCT_DIGESTS, None)
                if record["status"] == "ok":
                    record["ir"] = output
                    report.ir_lines += record["n_lines"]
                    checked.add(output)
                    computed[record["sha256"]] = distinct
                elif (out_dir / output).is_file():  # an earlier run's IR is what the source compiled to then
                    (out_dir / output).unlink()
            if record is None:
                continue
            if record["status"] in ("ok", "duplicate") and record.get("statements_sha256") in seen \
                    and seen[record["statements_sha256"]] != record.get("ir", record.get("duplicate_of")):
                if record["status"] == "ok":
                    (out_dir / record.pop("ir")).unlink(missing_ok=True)
                record.update(status="duplicate", duplicate_of=seen[record["statements_sha256"]])
            elif record["status"] == "ok":
                seen[record["statements_sha256"]] = record["ir"]
                kept.add(record["ir"])
            if record is not old:
                manifest.add(record)
            if record["status"] == "failed":
                report.failures.append(record)
        prune = prune and not errors
        if prune:
            report.pruned = manifest.keep_only({(source.suite, source.relpath, variant.name)
                                                for source, variant, *_ in tasks})
        manifest.save()
        if prune:  # after the save: a crash in between leaves IR that the next pruning build removes
            report.pruned_files = _remove_unrecorded_ir(out_dir, manifest)
            report.pruned_archives = _remove_unrecorded_archives(out_dir, manifest)
        report.table = corpus_table(out_dir, manifest, computed=computed, checked=checked)
        report.wall_seconds = time.perf_counter() - start
        return report


def _run(todo: list, tasks: list, jobs: int, progress: bool | None, scratch: str) -> Iterator[dict | None]:
    """Results in task order: ``None`` for a reused task, else the compile record; ``scratch`` is made for the
    workers and removed when they are done."""
    if todo:
        os.makedirs(scratch, exist_ok=True)
    jobs = jobs if jobs > 0 else (os.cpu_count() or 1)
    # Stopping, the workers skip what they have not started (the pool's own cancelling of it raised in the pool's
    # thread, a traceback, when a signal to the whole process group had ended the workers meanwhile: 7 of 120 builds).
    # A worker lost (out of memory) is a WorkerLostError; what was compiled is recorded.
    finished = False
    try:
        with stoppable_pool(jobs) if jobs > 1 and len(todo) > 1 else contextlib.nullcontext() as pool, \
                progress_bar(len(todo), "compiling", "file", progress) as bar:
            results = pool_results(pool, _compile_job, todo, 4) if pool else map(_compile_job, todo)
            for task in tasks:
                if task[4] is not None:
                    yield None
                    continue
                record = next(results)
                bar.update()
                yield record
        finished = True
    finally:  # the workers have ended
        shutil.rmtree(scratch, ignore_errors=True)  # empty, unless a worker was killed
        if not finished:  # a worker ended at once (a signal to the process group) leaves its IR's temporary file
            remove_temporary_files(job[2] for job in todo)
