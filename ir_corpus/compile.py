"""Compile one source file to textual LLVM IR with clang-14, the way the corpus needs it.

Flags come from the language, the file's folders (include paths) and a small per-suite table of
defines; each source is compiled once per :class:`Variant` (optimisation level, fast-math).
"""
from __future__ import annotations

import functools
import hashlib
import multiprocessing.util
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from inst2vec.errors import DiskFullError, Inst2vecError, IRParseError
from inst2vec.io import atomic_path
from inst2vec.statements import StatementCache, file_statement_hashes
from ir_corpus.sources import LANGUAGES, Source, is_source_file

CLANG = "clang-14"
REQUIRED_MAJOR = 14

SHIMS = Path(__file__).parent / "shims"  # headers the suites include but do not ship (libcecl.h)
_HOST = ["-fopenmp", "-DCL_TARGET_OPENCL_VERSION=120", "-DCL_USE_DEPRECATED_OPENCL_1_2_APIS",
         f"-idirafter{SHIMS}"]
LANGUAGE_FLAGS = {
    "c": ["-x", "c", "-std=gnu11", *_HOST],
    "c++": ["-x", "c++", "-std=c++14", "-Wno-c++11-narrowing", *_HOST],
    "opencl": ["-x", "cl", "-cl-std=CL1.2", "-Xclang", "-finclude-default-header"],
}

#: Defines that whole suites need to compile; kept small and readable.
SUITE_DEFINES = {
    "gpgpu-npb-3.3": ["-DCLASS='S'"],  # NPB kernels pick their problem size by class
    "gpgpu-parboil-0.2": ["-DBLOCK_SIZE=16"],
    "gpgpu-rodinia-3.1": ["-DBLOCK_SIZE=16", "-DRD_WG_SIZE_0=16", "-DRD_WG_SIZE=16"],
    "gpgpu-shoc-1.1.5": ["-DSINGLE_PRECISION"],
    "gpgpu-nvidia-4.2": ["-DBLOCK_SIZE=16"],
    "polybench-acc": ["-DPOLYBENCH_USE_C99_PROTO"],
    # The tolerance of their result checks (PolyBench, MiBench's FFT, beamformer), which their CMake sets: 1e-5 is
    # what llvm-test-suite's own builds of covariance.c store. Without it those 32 programs did not compile.
    "llvm-test-suite-SingleSource": ["-DFP_ABSTOLERANCE=1e-5"],
    "llvm-test-suite-MultiSource": ["-DFP_ABSTOLERANCE=1e-5"],
    "rodinia-3.1-full": ["-DBLOCK_SIZE=16", "-DRD_WG_SIZE_0=16", "-DRD_WG_SIZE=16"],
    "poj104": ["-std=c++11"],  # ncc's standard; C++14 removed the `gets` that ~10 % of the programs call
}
#: Flags common to every compilation: textual IR, no warnings, stop at the first error.
COMMON_FLAGS = ["-S", "-emit-llvm", "-w", "-ferror-limit=1", "-fno-color-diagnostics"]
#: Extra clang flags for every source compiled (:func:`compile_file`, ``corpus build``), such as
#: ``-I include -DN=100``. The commands' ``-I`` and ``-D`` options set it; worker processes inherit it.
SOURCE_FLAGS_VARIABLE = "INST2VEC_CFLAGS"
_INCLUDE_FOLDERS = ("include", "inc", "common", "util", "utils", "utilities", "src")

#: The header ncc put in front of every POJ-104 program (task/classifyapp/header.cpp).
POJ104_HEADER = ("#include <cstdio>\n#include <cstdlib>\n#include <cmath>\n#include <cstring>\n"
                 "#include <iostream>\nusing namespace std;\n")
_VOID_MAIN = re.compile(r"\bvoid\s+main\s*\(")
_UNTYPED_MAIN = re.compile(r"^(\s*)main\s*\(", re.MULTILINE)
_DIAGNOSTIC = re.compile(r"(?P<file>.+?):(?P<line>\d+):\d+: (?:fatal )?error: ")


class CompilerError(Inst2vecError, RuntimeError):
    """clang-14 is missing or is not version 14."""


class VariantError(Inst2vecError, ValueError):
    """A compilation variant whose flags clang-14 refuses."""


class CompilationError(IRParseError):
    """A source file named as IR input did not compile to LLVM IR; names the file and, where known, the line."""


@dataclass(frozen=True)
class Variant:
    """A compilation variant: a name (used in file names) and its clang flags."""

    name: str
    flags: tuple[str, ...]

    @classmethod
    def parse(cls, spec: str) -> "Variant":
        """``"O2"`` -> -O2; ``"O3-ffast-math"`` -> -O3 -ffast-math (options joined by ``-f``). An option whose own
        name holds ``-f`` goes after a space: ``"O2 -fno-omit-frame-pointer"`` (joined, it would be cut into
        ``-fno-omit`` and ``-frame-pointer``); the variant's name is the spec without its spaces."""
        joined, *spaced = spec.split() or [""]
        if not re.fullmatch(r"O[0-3sz](-f[a-z][-a-z0-9]*)*", joined) or \
                not all(re.fullmatch(r"-f[a-z][-a-z0-9]*", option) for option in spaced):
            raise ValueError(f"a variant is an optimisation level with optional -f options, e.g. O2, "
                             f"O3-ffast-math or 'O2 -fno-omit-frame-pointer'. Received: {spec!r}")
        level, *options = joined.split("-f")
        return cls("".join(spec.split()), (f"-{level}",) + tuple(f"-f{o}" for o in options) + tuple(spaced))


DEFAULT_VARIANTS = (Variant.parse("O0"), Variant.parse("O2"))
#: How ``inst2vec predict`` compiles a kernel for the devmap and thread-coarsening models: their IR (ncc's, from
#: Apple clang of LLVM 5/6) is optimised but not SLP-vectorised, and has no ``noundef`` attributes; clang-14 so
#: comes closest to it (scripts/kernel_compile_match.py: statements shared 0.87 / 0.75 against 0.23 / 0.20 at -O0
#: over 16 thread-coarsening / 132 devmap kernels).
KERNEL_VARIANT = Variant("O2-kernel", ("-O2", "-fno-slp-vectorize", "-Xclang", "-disable-noundef-analysis"))


def check_variant(variant: Variant, clang: str = CLANG) -> None:
    """Refuse a variant whose flags clang-14 does not take, before any file is compiled with them (each failed).

    Raises:
        VariantError: naming the variant and clang's error.
    """
    done = subprocess.run([clang, *variant.flags, "-x", "c", "-fsyntax-only", "-"], input="", capture_output=True,
                          text=True)
    if done.returncode != 0:
        error = next((line for line in done.stderr.splitlines() if "error" in line), done.stderr.strip())
        raise VariantError(f"variant {variant.name} ({' '.join(variant.flags)}): {error.strip()}; an option whose "
                           f"name holds -f goes after a space: 'O2 -fno-omit-frame-pointer'")


def clang_version(clang: str = CLANG) -> str:
    """The first line of ``clang --version``; checks that it is clang 14.

    Raises:
        CompilerError: the compiler is missing, cannot be run, or is another version.
    """
    if shutil.which(clang) is None:
        raise CompilerError(f"{clang} not found: install it with `apt-get install -y clang-14` "
                            "(scripts/setup.sh does)")
    try:
        done = subprocess.run([clang, "--version"], capture_output=True, text=True, errors="replace", timeout=60)
    except (OSError, subprocess.TimeoutExpired) as err:  # not executable, say
        raise CompilerError(f"{clang} cannot be run ({err}); reinstall it with `apt-get install -y clang-14`") \
            from err
    if done.returncode != 0 or not done.stdout.strip():  # a library it needs is missing, say
        said = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}" if done.returncode
                                                      else "it printed nothing"])[0]
        raise CompilerError(f"`{clang} --version` failed: {said}; reinstall it with `apt-get install -y clang-14`")
    line = done.stdout.splitlines()[0]
    m = re.search(r"version (\d+)\.", line)
    if not m or int(m.group(1)) != REQUIRED_MAJOR:
        raise CompilerError(f"{clang} is {line!r}; the corpus needs clang {REQUIRED_MAJOR} (typed pointers)")
    return line


@functools.lru_cache(maxsize=4096)  # the files of a folder share their include paths (a build's folders do not change)
def _include_flags(root_name: str, folder_name: str) -> tuple[str, ...]:
    """``-I`` for the folder, its parents up to the suite root, and their include-like subfolders."""
    root, folder = Path(root_name), Path(folder_name)
    folders = []
    while True:
        folders.append(folder)
        folders += [folder / name for name in _INCLUDE_FOLDERS if (folder / name).is_dir()]
        if folder == root or root not in folder.parents:
            break
        folder = folder.parent
    return tuple(f"-I{f}" for f in dict.fromkeys(folders))


_PREFIX_MAP = "-fmacro-prefix-map="


def compile_flags(source: Source, variant: Variant) -> list[str]:
    """All clang flags for one source and variant (without input and output).

    ``-fmacro-prefix-map`` writes ``__FILE__`` relative to the suite, so the IR (string lengths in
    assertions) does not depend on where the corpus is built.
    """
    root = os.path.realpath(source.root)  # Path(…).resolve(), but without the Path objects: resolving took most of
    folder = os.path.dirname(os.path.realpath(source.path))  # the time of a build that compiled nothing
    return (LANGUAGE_FLAGS[source.language] + list(variant.flags) + SUITE_DEFINES.get(source.suite, [])
            + list(_include_flags(root, folder)) + COMMON_FLAGS + [f"{_PREFIX_MAP}{root}=."])


def same_flags(old: list[str], new: list[str]) -> bool:
    """Whether clang makes the same of a source with the ``old`` flags (a manifest's) as with the ``new`` ones: they
    are equal but for where the toolkit's shims are and, when the suite's folder that ``old`` names is gone (moved
    or renamed), where it is now. So a corpus is reused after its sources, its archives' unpacked copy or the
    toolkit moved; a suite of the same name elsewhere, beside the first, may hold other headers and is compiled."""
    if old == new:
        return True
    before, now = _suite_folder(old), _suite_folder(new)
    if before != now and before is not None and os.path.isdir(before):
        return False
    return portable_flags(old) == portable_flags(new)


def _suite_folder(flags: list[str]) -> str | None:
    """The folder ``-fmacro-prefix-map`` maps to ``.`` in ``flags`` (the suite's), if any."""
    return next((flag[len(_PREFIX_MAP):-2] for flag in flags if flag.startswith(_PREFIX_MAP) and flag.endswith("=.")),
                None)


def portable_flags(flags: list[str]) -> list[str]:
    """``flags`` with two folders named by their role, not their place: the suite's (the one ``-fmacro-prefix-map``
    maps, in every flag that names it or a folder below it) as ``{suite}`` and the toolkit's shims as ``{shims}``."""
    root = _suite_folder(flags)

    def portable(flag: str) -> str:
        if flag.startswith("-idirafter") and flag.endswith(f"{os.sep}ir_corpus{os.sep}shims"):
            return "-idirafter{shims}"
        if root:
            for prefix in ("-I", _PREFIX_MAP):
                if flag.startswith(prefix + root) and flag[len(prefix + root):][:1] in ("", os.sep, "="):
                    return prefix + "{suite}" + flag[len(prefix + root):]
        return flag

    return [portable(flag) for flag in flags]


def prepare_poj104(text: str, header: bool = True) -> str:
    """ncc's POJ-104 recipe: the usual header in front, ``void main`` -> ``int main``, untyped ``main`` typed.

    With ``header=False`` the header's lines are left empty (for compiling with the header precompiled),
    so every line of the program keeps its number.
    """
    text = _VOID_MAIN.sub("int main(", text)
    text = _UNTYPED_MAIN.sub(r"\1int main(", text)
    return (POJ104_HEADER if header else "\n" * POJ104_HEADER.count("\n")) + text


#: Precompiled POJ-104 headers of this process, by the flags they were built with (None: building failed).
_PCH: dict[tuple[str, ...], str | None] = {}


def poj104_pch(flags: list[str], clang: str = CLANG) -> str | None:
    """The POJ-104 header precompiled for a program compiled with ``flags`` (built once per process and
    language/optimisation flag set; include paths and prefix maps do not matter), or None if clang cannot.

    Parsing ``<iostream>`` is most of clang's time on a POJ-104 program: with the header precompiled a
    program compiles about 4x faster, to byte-identical IR (docs/corpus.md; tests/ir_corpus/test_build.py).
    """
    header_flags = [f for f in flags if f not in ("-x", "c++", "-S", "-emit-llvm")
                    and not f.startswith(("-I", "-fmacro-prefix-map"))]
    key = (clang, *header_flags)
    if key not in _PCH:
        folder = tempfile.mkdtemp(prefix="inst2vec-pch-")
        # removed when this process exits, worker processes of a pool included
        multiprocessing.util.Finalize(None, shutil.rmtree, args=(folder, True), exitpriority=10)
        header, pch = os.path.join(folder, "poj104.h"), os.path.join(folder, "poj104.pch")
        with open(header, "w", encoding="utf-8") as f:
            f.write(POJ104_HEADER)
        try:
            done = subprocess.run([clang, "-x", "c++-header", *header_flags, header, "-o", pch], capture_output=True,
                                  timeout=120)
            _PCH[key] = pch if done.returncode == 0 else None
        except subprocess.TimeoutExpired:
            _PCH[key] = None
    return _PCH[key]


#: One statement cache per (worker) process: the variants of a source and the files of a suite share
#: most lines, and the cache is exact (see :class:`inst2vec.statements.StatementCache`).
_STATEMENT_CACHE = StatementCache(max_lines=500_000)


#: A compile record's key for the sorted distinct ``sha256(statement)[:16]`` of its IR (an ``S16`` array): the corpus
#: table's distinct statements, computed while the worker reads the statements anyway; not written to the manifest.
DISTINCT_DIGESTS = "distinct_statement_digests"


def compile_source(source: Source, variant: Variant, output: str, timeout: float = 60.0,
                   clang: str = CLANG, extra_flags: Sequence[str] = (), scratch: str | None = None) -> dict:
    """Compile ``source`` to ``output`` (written only on success) and describe the result; ``extra_flags`` go
    after the variant's and the suite's flags. Clang works in a temporary folder in ``scratch`` (an existing
    folder; default: ``$TMPDIR``).

    Returns:
        A manifest record: ``status`` (ok / failed / skipped), ``error`` (one line; ``error_line``, its line in
        the source, where clang names one there; ``timeout``, the seconds clang had, if it ran out of them;
        ``retry`` if clang was killed or out of memory, which says nothing about the source), ``flags``,
        ``seconds`` (clang's wall time), and for ``ok`` the IR's ``sha256``, ``statements_sha256``,
        ``n_statements``, ``n_lines`` and :data:`DISTINCT_DIGESTS` (not for the manifest).

    Raises:
        DiskFullError: clang or this function could not write the IR (a full disk, the file size limit).
    """
    record = {"source": source.relpath, "suite": source.suite, "variant": variant.name,
              "language": source.language, "status": "failed", "error": None}
    if source.language == "cuda":
        record.update(status="skipped", error="CUDA needs the CUDA toolkit's headers, which clang-14 does not "
                                              "ship; not compiled")
        return record
    flags = compile_flags(source, variant) + list(extra_flags)
    record["flags"] = flags
    os.makedirs(os.path.dirname(output), exist_ok=True)
    scratch = None if scratch is None else os.path.abspath(scratch)  # clang runs in another folder: `-o` needs it
    with tempfile.TemporaryDirectory(prefix="inst2vec-cc-", dir=scratch) as tmp:
        # clang runs in the suite's root on "./relpath", so the IR names no folder of this machine
        # (ModuleID, source_filename; __FILE__ through -fmacro-prefix-map): the same bytes wherever it is built.
        folder, input_path = str(Path(source.root).resolve()), os.path.join(".", source.relpath)
        lines_in_front = 0  # lines put before the source's own (POJ-104's header)
        if source.suite.startswith("poj104"):
            folder = str(Path(tmp).resolve())
            flags = flags + [f"-fmacro-prefix-map={folder}=."]
            input_path = os.path.join(".", Path(source.relpath).name)
            pch = poj104_pch(flags, clang)
            with open(source.path, encoding="utf-8", errors="replace") as f:
                text = prepare_poj104(f.read(), header=pch is None)
            record["precompiled_header"] = pch is not None
            lines_in_front = POJ104_HEADER.count("\n")
            if pch is not None:
                flags = flags + ["-include-pch", pch]
            with open(os.path.join(folder, input_path), "w", encoding="utf-8") as f:
                f.write(text)
        ir_tmp = os.path.join(tmp, "out.ll")
        start = time.perf_counter()
        try:
            # -fno-crash-diagnostics: a crash of clang leaves no preprocessed source and script in $TMPDIR
            done = subprocess.run([clang, *flags, "-fno-crash-diagnostics", input_path, "-o", ir_tmp],
                                  capture_output=True, text=True, timeout=timeout, errors="replace", cwd=folder)
        except subprocess.TimeoutExpired:
            record.update(error=f"timeout: clang ran longer than {timeout:g} s", seconds=round(timeout, 3),
                          timeout=timeout)
            return record
        record["seconds"] = round(time.perf_counter() - start, 4)
        if done.returncode != 0:
            if (cause := _write_failure(done)) is not None:  # a full disk, not the source
                raise DiskFullError(tmp, cause, f"clang-14 cannot write the IR of {source.suite}/{source.relpath} "
                                                f"({variant.name}) there")
            if (failure := _machine_failure(done)) is not None:  # says nothing about the source: tried again
                record.update(error=failure, retry=True)
                return record
            error, line = _first_error(done.stderr, input_path)
            record["error"] = error or f"clang exited with status {done.returncode}"
            if _CRASH in done.stderr:  # its error only says "clang frontend command failed with exit code 132"
                record["error"] = f"clang-14 crashed: {record['error']}"
            if line is not None and line > lines_in_front:
                record["error_line"] = line - lines_in_front
            return record
        try:
            statements_sha256, n_statements, distinct = file_statement_hashes(ir_tmp, _STATEMENT_CACHE)
        except Inst2vecError as err:
            record["error"] = f"IR not readable: {str(err).replace(ir_tmp, 'out.ll')}"
            return record
        with open(ir_tmp, "rb") as f:
            data = f.read()
        record.update(status="ok", sha256=hashlib.sha256(data).hexdigest(),
                      statements_sha256=statements_sha256, n_statements=n_statements, n_lines=data.count(b"\n"))
        record[DISTINCT_DIGESTS] = np.array(sorted(distinct), dtype="S16")
        with atomic_path(output, suffix=".tmp") as output_tmp:  # a disk that fills leaves no half-written IR
            shutil.move(ir_tmp, output_tmp)
    return record


#: How a source file named where IR is expected (``inst2vec statements prog.c``) is compiled: ncc's POJ-104 level.
SINGLE_FILE_VARIANT = Variant.parse("O0")


def compile_file(path: str | os.PathLike, variant: Variant = SINGLE_FILE_VARIANT, timeout: float = 60.0,
                 clang: str = CLANG) -> bytes:
    """The textual LLVM IR of one C, C++ or OpenCL file, as ``inst2vec corpus build FILE`` compiles it, with the
    flags of ``$INST2VEC_CFLAGS`` (see :func:`source_flags`) added.

    Raises:
        CompilationError: not a source file, CUDA, or clang's first error (file and line where clang names one).
        CompilerError: clang-14 is missing or another version, or ``$INST2VEC_CFLAGS`` cannot be read.
    """
    if not is_source_file(path):
        raise CompilationError("not a C, C++, OpenCL or CUDA source file (by its suffix)", path)
    return _compile_alone(Source.of_file(path), path, variant, "", timeout, clang)


def compile_poj104_program(path: str | os.PathLike, timeout: float = 60.0, clang: str = CLANG) -> bytes:
    """The textual LLVM IR of a C or C++ program compiled as the classifyapp task compiles POJ-104's programs
    (ncc's recipe, :func:`prepare_poj104`: the usual header in front, ``void main`` typed ``int``, C++11, ``-O0``),
    so that a classifyapp model is shown what it was trained on; ``$INST2VEC_CFLAGS`` is added as for
    :func:`compile_file`.

    Raises:
        CompilationError: not a C or C++ file, or clang's first error (its line in the program, where clang names one).
        CompilerError: clang-14 is missing or another version, or ``$INST2VEC_CFLAGS`` cannot be read.
    """
    if LANGUAGES.get(Path(path).suffix.lower()) not in ("c", "c++"):
        raise CompilationError("not a C or C++ program (by its suffix), as POJ-104's are", path)
    with tempfile.TemporaryDirectory(prefix="inst2vec-poj104-") as tmp:
        shutil.copyfile(path, os.path.join(tmp, "program.cpp"))  # POJ-104's programs are compiled as C++
        return _compile_alone(Source("poj104", tmp, "program.cpp"), path, SINGLE_FILE_VARIANT,
                              " as a POJ-104 program (-std=c++11, ncc's header in front)", timeout, clang,
                              include=[str(Path(path).resolve().parent)])  # its own folder's headers


def _compile_alone(source: Source, path: str | os.PathLike, variant: Variant, how: str, timeout: float,
                   clang: str, include: Sequence[str] = ()) -> bytes:
    """The IR of ``source``, a file named on its own (``path``, for messages), with the ``include`` folders and
    ``$INST2VEC_CFLAGS`` added."""
    _checked_clang(clang)
    given = source_flags()
    with tempfile.TemporaryDirectory(prefix="inst2vec-ir-") as tmp:
        output = os.path.join(tmp, "out.ll")
        record = compile_source(source, variant, output, timeout, clang, [f"-I{f}" for f in include] + given)
        if record["status"] == "skipped":
            raise CompilationError(record["error"], path)
        if record["status"] != "ok":
            error = record["error"]
            if _MISSING_HEADER.search(error):
                error += " (name the folder that holds it with -I DIR, or in $INST2VEC_CFLAGS)"
            raise CompilationError(f"does not compile{how} with {' '.join([clang, *variant.flags, *given])}: "
                                   f"{error}", path, record.get("error_line"))
        with open(output, "rb") as f:
            return f.read()


_MISSING_HEADER = re.compile(r"^'[^']*' file not found$")


def source_flags() -> list[str]:
    """The clang flags of ``$INST2VEC_CFLAGS`` (shell words), with each ``-I`` folder made absolute: clang runs in
    the source's folder, and a relative folder means one below the current directory.

    Raises:
        CompilerError: the variable's quotes do not match, or it ends in ``-I``.
    """
    text = os.environ.get(SOURCE_FLAGS_VARIABLE, "")
    try:
        words = iter(shlex.split(text))
    except ValueError as err:
        raise CompilerError(f"${SOURCE_FLAGS_VARIABLE} ({text!r}) cannot be split into flags: {err}") from None
    flags = []
    for word in words:
        if word == "-I":
            word += next(words, "")
            if word == "-I":
                raise CompilerError(f"${SOURCE_FLAGS_VARIABLE} ({text!r}) ends in -I; name a folder after it")
        flags.append("-I" + os.path.abspath(word[2:]) if word.startswith("-I") else word)
    return flags


@functools.lru_cache(maxsize=4)
def _checked_clang(clang: str) -> str:
    """:func:`clang_version`, asked once per process."""
    return clang_version(clang)


#: What clang prints when it crashes, before its stack dump.
_CRASH = "PLEASE submit a bug report"
#: What clang prints when it cannot write its output, before the reason (e.g. "No space left on device").
_WRITE_FAILURE = re.compile(r"IO failure on output stream: (.*)")


#: Signals that end clang for a reason of the machine, not of the source: the kernel's out-of-memory killer
#: (SIGKILL), a user or a batch system.
_KILLED = frozenset({signal.SIGKILL, signal.SIGTERM, signal.SIGINT, signal.SIGHUP})


def _machine_failure(done: subprocess.CompletedProcess) -> str | None:
    """Why clang failed, if for a reason of the machine rather than of the source: killed (:data:`_KILLED`), out
    of memory (a memory limit, ``ulimit -v``), unable to start (its libraries could not be loaded), or unable to
    open its output (ours to name)."""
    if -done.returncode in _KILLED:
        return f"clang-14 was killed ({signal.Signals(-done.returncode).name})"
    if "LLVM ERROR: out of memory" in done.stderr:
        return "clang-14 ran out of memory"
    if done.returncode == 127 and (loading := re.search(r"error while loading shared libraries: .*", done.stderr)):
        return f"clang-14 could not start: {loading.group(0)}"
    if unopened := re.search(r"unable to open output file .*", done.stderr):
        return f"clang-14 could not open its output: {unopened.group(0)}"
    return None


def _write_failure(done: subprocess.CompletedProcess) -> str | None:
    """Why clang could not write its output, if that is why it failed: the disk, or the file size limit."""
    if done.returncode == -signal.SIGXFSZ:
        return "File too large (SIGXFSZ: the file size limit, ulimit -f)"
    match = _WRITE_FAILURE.search(done.stderr)
    return match.group(1).strip() if match else None


def _first_error(stderr: str, input_path: str) -> tuple[str | None, int | None]:
    """clang's first error message, and its line if it lies in the compiled file itself (not in a header)."""
    for line in stderr.splitlines():
        if "error:" in line:
            where = _DIAGNOSTIC.match(line)
            return (line.split("error:", 1)[1].strip()[:300],
                    int(where["line"]) if where and where["file"] == input_path else None)
    return None, None


def file_sha256(path: str | os.PathLike) -> str:
    """The sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
