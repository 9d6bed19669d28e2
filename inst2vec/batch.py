"""Run one function over many IR files: in parallel, in order, with a progress bar, never stopping
at a bad file. Each file's error is kept and reported; the caller decides the exit status."""
from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

from inst2vec.errors import ENDING_SIGNALS, DiskFullError, Inst2vecError
from inst2vec.io import not_regular_file

if TYPE_CHECKING:
    import multiprocessing.synchronize

IR_SUFFIXES = (".ll", ".bc")


@dataclass(frozen=True)
class FileResult:
    """The outcome for one file: ``value`` on success, else ``error`` (a one-line message)."""

    path: str
    value: Any = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def path_list(paths: Iterable[str | os.PathLike], what: str = "files") -> list[str]:
    """``paths`` as a list of str; one path given alone is refused (it would be read as one path per character).

    Raises:
        TypeError: ``paths`` is a single path.
    """
    if isinstance(paths, (str, bytes, os.PathLike)):
        raise TypeError(f"{what} is a list of paths, not one path ({os.fsdecode(paths)!r}); pass [path], or for a "
                        f"folder's IR files inst2vec.batch.collect_ir_files([folder])[0]")
    return [os.fspath(p) for p in paths]


def collect_ir_files(inputs: Iterable[str | os.PathLike],
                     note_unread_sources: bool = False) -> tuple[list[str], list[FileResult]]:
    """Expand files and directories (recursively, ``*.ll`` and ``*.bc``) into a sorted, de-duplicated file list.

    Folders are searched for IR only. With ``note_unread_sources``, a note on stderr names each input folder
    whose C, C++, OpenCL or CUDA files are therefore left unread (when there is IR to read: without any,
    ``no_ir_files_error`` says it).

    Returns:
        ``(files, missing)``: the files to process and a failed result for each input that
        does not exist, and for each ``.ll`` or ``.bc`` name in a folder that is no regular file (a broken link,
        a pipe).
    """
    from ir_corpus.sources import is_source_file  # ir_corpus builds on this package: imported when used

    files, missing, unread_sources = [], [], {}
    for item in path_list(inputs, "inputs"):
        path = Path(item)
        if path.is_dir():
            found, sources = [], []
            for p in path.rglob("*"):
                if p.suffix in IR_SUFFIXES and p.is_file():
                    found.append(p)
                elif p.suffix in IR_SUFFIXES and not p.is_dir():
                    missing.append(FileResult(str(p), error=f"{p}: {not_regular_file(p)}, not read"))
                elif note_unread_sources and is_source_file(p) and p.is_file():
                    sources.append(p)
            files += sorted(str(p) for p in found)
            unread_sources[path] = _sources_without_ir(sources, found)
        elif path.exists():
            files.append(str(path))
        else:
            stdin = "; to read standard input, name /dev/stdin" if str(item) == "-" else ""
            missing.append(FileResult(str(path), error=f"{path}: no such file or directory{stdin}"))
    named = {os.path.realpath(f) for f in files}  # a source named as well as found in a folder is read
    for folder, unread in unread_sources.items():
        count = sum(1 for source in unread if os.path.realpath(source) not in named)
        if count and files:
            print(f"note: {folder}: {count} C, C++, OpenCL or CUDA file(s) not read (folders are searched for "
                  f".ll and .bc files only): name them one by one, or compile the folder with "
                  f"`inst2vec corpus build {folder} -o OUT`", file=sys.stderr)
    return list(dict.fromkeys(files)), missing


def _sources_without_ir(sources: list[Path], ir_files: list[Path]) -> list[Path]:
    """The ``sources`` that have no IR of theirs in their folder: ``prog.ll`` or ``prog.bc`` for ``prog.c``, or
    ``prog.c.O0.ll`` as `corpus build` names it."""
    stems = {(ir.parent, ir.stem) for ir in ir_files}
    name_prefixes = {(ir.parent, ir.name[:i]) for ir in ir_files for i, char in enumerate(ir.name) if char == "."}
    return [source for source in sources
            if (source.parent, source.stem) not in stems and (source.parent, source.name) not in name_prefixes]


def skipped_summary(n_skipped: int, n_inputs: int) -> str:
    """``skipped N of M file(s); K done``: the last line on standard error of a batch command that skipped files."""
    return f"skipped {n_skipped} of {n_inputs} file(s); {n_inputs - n_skipped} done"


def no_ir_files_error(inputs: Iterable[str | os.PathLike]) -> Inst2vecError:
    """The error for inputs that hold no IR file; names a folder of sources among them and what to do with it."""
    from ir_corpus.sources import is_source_file  # ir_corpus builds on this package: imported when used

    message = "no .ll or .bc files found in the inputs"
    for item in inputs:
        path = Path(item)
        if path.is_dir() and any(is_source_file(p) for p in path.rglob("*")):
            return Inst2vecError(f"{message}; {path} holds C, C++, OpenCL or CUDA files, but folders are searched "
                                 f"for IR only: compile the folder with `inst2vec corpus build {path} -o OUT` and use "
                                 "OUT/ir, or name C, C++ and OpenCL files one by one")
    return Inst2vecError(message)


@dataclass(frozen=True)
class MirroredOutputs:
    """Where a batch command writes one output per input file: under ``folder``, at the file's path below the
    input folder it was found in (the first such input), or under its own name for a file named in the inputs;
    ``suffix`` in place of the file's. Small, so worker processes get it cheaply."""

    folder: str
    suffix: str
    input_folders: tuple[str, ...]

    @classmethod
    def of(cls, inputs: Iterable[str | os.PathLike], files: Iterable[str], folder: str | os.PathLike,
           suffix: str) -> "MirroredOutputs":
        """The outputs of ``files``, the IR files found in ``inputs`` (:func:`collect_ir_files`).

        Raises ``Inst2vecError`` if two of them would be written to one output."""
        outputs = cls(os.fspath(folder), suffix, tuple(os.fspath(p) for p in inputs if Path(p).is_dir()))
        written_by: dict[str, str] = {}
        for file in files:
            output = outputs(file)
            if output in written_by:
                raise Inst2vecError(f"{written_by[output]} and {file} would both be written to {output}; "
                                    "name a folder that holds them instead")
            written_by[output] = file
        return outputs

    def __call__(self, file: str) -> str:
        """The output path of one input file."""
        path = Path(file)
        relative = next((path.relative_to(folder) for folder in self.input_folders if path.is_relative_to(folder)),
                        Path(path.name))
        return str(Path(self.folder) / relative.with_suffix(self.suffix))


#: In a pool worker: set by the main process on Ctrl-C, so the worker skips the rest of its chunk of files.
_stop: Any = None
#: In a pool worker: the function it applies, given once when the worker starts. Sent with every chunk of files,
#: a large argument bound to it (a C++ corpus's vocabulary, hundreds of MB) was pickled and unpickled each time.
_function: Callable[[str], Any] | None = None


def start_stoppable_worker(stop: multiprocessing.synchronize.Event) -> None:
    """Pool initializer: keep the main process's ``stop`` event for :func:`worker_stopped`; SIGTERM and SIGHUP end
    the worker at once (:func:`default_ending_signals`)."""
    global _stop
    _stop = stop
    default_ending_signals()


def worker_stopped() -> bool:
    """In a pool worker started by :func:`start_stoppable_worker`: whether the main process has stopped, so that
    the work not started yet is to be skipped (no one reads it)."""
    return _stop is not None and _stop.is_set()


def _call(function: Callable[[str], Any], path: str) -> FileResult:
    if worker_stopped():
        return FileResult(path, error=f"{path}: not read: interrupted")
    try:
        return FileResult(path, value=function(path))
    except DiskFullError:  # the output's disk, not this file: every file after it would fail too
        raise
    except Inst2vecError as err:
        return FileResult(path, error=str(err))
    except (OSError, UnicodeError, MemoryError, RecursionError) as err:
        return FileResult(path, error=f"{path}: {type(err).__name__}: {err}")


def _call_in_worker(path: str) -> FileResult:
    return _call(_function, path)


def _start_worker(stop, function: Callable[[str], Any]) -> None:
    """A pool worker ignores Ctrl-C (SIGINT goes to the whole process group): killed in the middle of a file, it
    left that file's output half-written (a temporary file beside it) and printed a traceback. It finishes the
    file in hand instead and skips the rest of its chunk once the main process sets ``stop``. It keeps
    ``function`` for all its files."""
    global _function
    _function = function
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    start_stoppable_worker(stop)


def default_ending_signals() -> None:
    """In a pool worker: SIGTERM and SIGHUP end it at once, as by default. The handler it inherits from the
    command line raises, which printed a traceback in a worker waiting for work, and kept the pool from ending
    its workers (a hang); the main process cleans up its own outputs."""
    for signum in ENDING_SIGNALS:
        signal.signal(signum, signal.SIG_DFL)


@contextlib.contextmanager
def stoppable_pool(jobs: int, initializer: Callable[..., None] = start_stoppable_worker, *initargs: Any
                   ) -> Iterator[ProcessPoolExecutor]:
    """A process pool for the block; ``initializer`` gets a stop event first (:func:`start_stoppable_worker` keeps
    it), then ``initargs``. Leaving the block sets the event, so the workers finish what they have in hand and skip
    the rest (Ctrl-C, SIGTERM, an error), and waits for them; a worker lost meanwhile is a
    :class:`WorkerLostError`."""
    stop = multiprocessing.Event()
    pool = ProcessPoolExecutor(max_workers=jobs, initializer=initializer, initargs=(stop, *initargs))
    try:
        yield pool
    except BrokenProcessPool as err:  # a worker killed (out of memory, a signal)
        raise WorkerLostError() from err
    finally:
        stop.set()
        pool.shutdown(wait=True)  # not cancel_futures: see pool_results


def pool_results(pool: ProcessPoolExecutor, function: Callable[[Any], Any], items: list, chunksize: int
                 ) -> Iterator[Any]:
    """``pool.map(function, items, chunksize=chunksize)``, minus its cancelling of what is left when the reader
    stops: with a pool broken meanwhile (its workers ended by SIGTERM) that raised in the pool's own thread, a
    traceback (CPython 3.11). Left work is dropped here only on Ctrl-C, which breaks no pool; the caller shuts
    the pool down."""
    futures = [pool.submit(_calls, function, items[i:i + chunksize]) for i in range(0, len(items), chunksize)]
    try:
        for future in futures:
            yield from future.result()
    except KeyboardInterrupt:
        for future in futures:
            future.cancel()
        raise


def _calls(function: Callable[[Any], Any], items: list) -> list:
    return [function(item) for item in items]


class WorkerLostError(Inst2vecError):
    """A worker process ended without a result: killed (out of memory, or by a signal)."""

    def __init__(self):
        super().__init__("a worker process ended abruptly (killed: out of memory, or by a signal); with fewer "
                         "worker processes (-j) each has more memory")


class _NoBar:
    """What :func:`progress_bar` gives when no bar is shown."""

    def update(self, n: int = 1) -> None:
        pass


@contextlib.contextmanager
def progress_bar(total: int, description: str, unit: str, progress: bool | None = None) -> Iterator[Any]:
    """A tqdm progress bar on stderr, closed on leaving; ``progress`` says whether it is shown (default: when
    stderr is a terminal, so not in logs, pipes or under ``mpiexec``). Call ``update()`` on it either way."""
    if not (sys.stderr.isatty() if progress is None else progress) or total <= 0:
        yield _NoBar()
        return
    from tqdm import tqdm

    with tqdm(total=total, unit=unit, desc=description, file=sys.stderr) as bar:
        yield bar


def run_batch(function: Callable[[str], Any], paths: Iterable[str | os.PathLike], jobs: int = 1,
              progress: bool | None = None, description: str = "files") -> Iterator[FileResult]:
    """Apply ``function`` to each path, yielding results in input order.

    Args:
        function: a picklable (module-level) function of one path.
        paths: the files.
        jobs: worker processes (``0`` or less: all cores).
        progress: show a progress bar on stderr (default: when there are several files and
            stderr is a terminal).
    """
    paths = path_list(paths)
    if jobs <= 0:
        jobs = os.cpu_count() or 1
    jobs = min(jobs, max(1, len(paths)))
    if progress is None and len(paths) <= 1:
        progress = False  # no bar for one file
    with progress_bar(len(paths), description, "file", progress) as bar:
        if jobs == 1:
            results: Iterable[FileResult] = (_call(function, p) for p in paths)
            for result in results:
                bar.update()
                yield result
        else:
            with stoppable_pool(jobs, _start_worker, function) as pool:
                chunk = max(1, min(64, len(paths) // (jobs * 8)))
                for result in pool_results(pool, _call_in_worker, paths, chunk):
                    bar.update()
                    yield result
