"""Small file helpers: atomic writes, so a failure never leaves half a file behind (streams such as /dev/stdout are
written in place), a folder's lock for processes that write it at once, NumPy files checked before they are loaded,
what a folder entry that is no regular file is, and a JSON file's first character."""
from __future__ import annotations

import contextlib
import errno
import fcntl
import gzip
import io
import os
import re
import signal
import sys
import tempfile
import threading
import tokenize
import zipfile
import zlib
from pathlib import Path
from typing import IO, TYPE_CHECKING, Iterable, Iterator

from inst2vec.errors import ENDING_SIGNALS, DiskFullError, OutputError

if TYPE_CHECKING:  # imported when used
    import numpy as np


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", compress: bool = False) -> Iterator[IO]:
    """Open a temporary file beside ``path``; rename it over ``path`` only if the block succeeds. With
    ``compress``, what the block writes goes through gzip (level 6: most of level 9's gain in half its time; no
    name or time in the header, so the same content gives the same bytes).

    Missing parent folders are made, and removed again if the block fails. A symbolic link stays a link: the
    file it leads to gets the new bytes, as with the shell's ``>``. A stream (:func:`is_stream`: ``/dev/stdout``,
    ``/dev/null``, a named pipe) is written in place, since there is nothing to rename over.

    Raises:
        OutputError: ``path`` is (or ends like) a folder, or its folder cannot be made.
    """
    if compress:
        with atomic_write(path, "wb") as raw, \
                gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=6, mtime=0) as binary:
            if "b" in mode:
                yield binary
            else:
                with io.TextIOWrapper(binary, **_text_options(mode)) as text:
                    yield text
        return
    path = os.fspath(path)
    if os.path.isdir(path) or path.endswith(("/", os.sep)):
        raise OutputError(f"{path}: is a folder; name the file to write")
    if is_stream(path):
        with _open_stream(path, mode) as f:
            yield f
        return
    path = os.path.realpath(path) if os.path.islink(path) else path
    with folder_made(os.path.dirname(os.path.abspath(path)), path), \
            atomic_path(path, suffix=".tmp") as tmp, open(tmp, mode, **_text_options(mode)) as f:
        yield f


@contextlib.contextmanager
def folder_made(folder: str | os.PathLike, output: str | os.PathLike | None = None) -> Iterator[None]:
    """Make ``folder`` and its missing parents for the block, and remove those it made (if still empty) when the
    block fails, so that a failed command leaves no empty folders behind.

    Raises:
        OutputError: the folder cannot be made (naming ``output``, the file to be written there, if given).
    """
    folder = os.path.abspath(folder)
    created = []  # the folders this call makes, outermost first
    parent = folder
    while not os.path.exists(parent):
        created.insert(0, parent)
        parent = os.path.dirname(parent)
    try:
        try:
            with _signals_held():
                os.makedirs(folder, exist_ok=True)
        except OSError as err:  # e.g. a file where a folder of the path should be
            what = f"{output}: cannot make its folder {folder}" if output else f"{folder}: cannot make this folder"
            raise OutputError(f"{what}: {err.strerror or err}") from err
        yield
    except BaseException:
        for made in reversed(created):
            with contextlib.suppress(OSError):  # not empty: something else wrote there meanwhile
                os.rmdir(made)
        raise


#: The errors of a write that does not fit (no space left, a quota, the file size limit).
DISK_FULL_ERRORS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


#: Signals held back while :func:`atomic_path` makes its temporary file (and :func:`folder_made` its folders):
#: handled between their making and the block that removes them on failure, they left them behind (Ctrl-C, and
#: the signals the command line turns into an exception as well).
HELD_SIGNALS = frozenset({signal.SIGINT, *ENDING_SIGNALS})


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold :data:`HELD_SIGNALS` back for the block; one that came meanwhile is raised again on leaving it, so inside
    the ``try`` that encloses the block and cleans up what it made.

    Their handlers are swapped for one that notes them: a signal mask would not do, since the kernel gives a signal
    that the main thread blocks to another thread of the process (a library's), and Python then runs its handler
    in the main thread all the same. Only the main thread runs Python's handlers, so nothing needs holding elsewhere.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    came: list[int] = []
    swapped = {}
    for signum in HELD_SIGNALS:
        handler = signal.getsignal(signum)
        if handler not in (signal.SIG_IGN, None):  # None: a handler not set from Python, left as it is
            swapped[signum] = signal.signal(signum, lambda signum, frame: came.append(signum))
    try:
        yield
    finally:
        for signum, handler in swapped.items():
            signal.signal(signum, handler)
        for signum in dict.fromkeys(came):  # each signal once, in the order they came
            signal.raise_signal(signum)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[str]:
    """A temporary name beside ``path`` (ending in ``suffix``, by default ``path``'s own, as Keras's ``model.save``
    needs), renamed over ``path`` only if the block succeeds, removed otherwise; the folder must exist.

    Raises:
        DiskFullError: the block's writes did not fit, naming ``path`` (:func:`full_disk_named`).
    """
    path = Path(path)
    tmp = None
    try:
        with _signals_held():
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                       suffix=path.suffix if suffix is None else suffix)
        os.close(fd)
        _as_open_would(tmp)
        with full_disk_named(path, written_as=tmp):
            yield tmp
            os.replace(tmp, path)
    except BaseException:
        if tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        raise


def is_temporary_name(name: str) -> bool:
    """Whether ``name`` is one :func:`atomic_path` gives a temporary file (``.NAME.`` + 8 random characters + the
    suffix): what a process killed at once (SIGKILL, a worker ended with its group) leaves in an output's folder."""
    return temporary_for(name) is not None


def temporary_for(name: str) -> str | None:
    """The name of the file that ``name`` is :func:`atomic_path`'s temporary file for (``NAME`` of
    ``.NAME.`` + 8 random characters + the suffix), or ``None`` if it is no such name."""
    match = re.fullmatch(r"\.(.+)\.[a-z0-9_]{8}(\.[^.]+)", name)
    return match[1] if match is not None and match[2] in (".tmp", os.path.splitext(match[1])[1]) else None


def remove_temporary_files(outputs: Iterable[str | os.PathLike]) -> int:
    """Remove the temporary files of ``outputs`` (:func:`atomic_path`'s) that a process ended at once left beside
    them (SIGKILL, or a worker process ended with its process group), and return how many. Call it when no process
    is writing them."""
    names_by_folder: dict[str, set[str]] = {}
    for output in outputs:
        folder, name = os.path.split(os.fspath(output))
        names_by_folder.setdefault(folder or ".", set()).add(name)
    removed = 0
    for folder, names in names_by_folder.items():
        with contextlib.suppress(OSError):  # not made, or not readable: nothing of ours there
            for entry in os.scandir(folder):
                if temporary_for(entry.name) in names and entry.is_file(follow_symlinks=False):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(entry.path)
                        removed += 1
    return removed


#: The first two bytes of a gzip file.
GZIP_MAGIC = b"\x1f\x8b"


@contextlib.contextmanager
def full_disk_named(path: str | os.PathLike, written_as: str | None = None) -> Iterator[None]:
    """Turn a write of the block that did not fit (:data:`DISK_FULL_ERRORS`, whose messages name no file or a
    temporary one) into a :class:`DiskFullError` naming ``path``, the output being written. One raised by a
    write nested in the block stays as it is, unless it names ``written_as``, ``path``'s temporary name."""
    try:
        yield
    except DiskFullError as err:
        if written_as is not None and os.path.abspath(err.path) == os.path.abspath(written_as):
            raise DiskFullError(path, err.reason) from err
        raise
    except OSError as err:
        if err.errno in DISK_FULL_ERRORS:
            raise DiskFullError(path, err.strerror) from err
        raise


#: The file in a folder that :func:`folder_lock` locks.
LOCK_FILE = ".lock"


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike, waiting_for: str) -> Iterator[None]:
    """Hold ``folder``'s lock file (made, with the folder, if need be) for the block, so that processes that
    write one folder at once take turns; one that has to wait says so on stderr, naming ``waiting_for``. A lock
    file removed (with its folder) while this one waited is made and locked again. Where the file system has no
    locks (some network file systems), the block runs without.

    Raises:
        OutputError: the folder cannot be made, or its lock file cannot be written.
    """
    path, said = Path(folder) / LOCK_FILE, False
    while True:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = open(path, "a")
        except OSError as err:  # a file where a folder of the path should be, no permission
            raise OutputError(f"{folder}: cannot make or write this folder: {err.strerror or err}") from err
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if not said:
                    print(f"waiting for {waiting_for} to end (another process holds {path})", file=sys.stderr,
                          flush=True)
                    said = True
                fcntl.flock(handle, fcntl.LOCK_EX)
            except OSError:  # no locks on this file system
                pass
            if not _same_file(handle, path):  # removed, with its folder, by the process that made them and then
                continue  # found nothing to do (a build without sources): a third process may hold a new one
            yield  # the lock ends when the file is closed
            return


def _same_file(handle: IO, path: Path) -> bool:
    """Whether the open ``handle`` is the file at ``path`` (not one removed, or replaced, since it was opened)."""
    try:
        return os.path.samestat(os.fstat(handle.fileno()), os.stat(path))
    except FileNotFoundError:
        return False


def _as_open_would(tmp: str) -> None:
    """Give a temporary file the permissions a plain ``open()`` would create it with (``mkstemp`` makes 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)


def is_stream(path: str | os.PathLike) -> bool:
    """Whether an output path is a stream to write in place: an existing entry below ``/dev`` or ``/proc``
    (``/dev/stdout`` leads to whatever the shell opened, a file included) or that is no regular file."""
    return os.path.exists(path) and (os.path.abspath(path).startswith(("/dev/", "/proc/"))
                                     or not os.path.isfile(path))


def is_standard_output(path: str | os.PathLike) -> bool:
    """Whether writing to ``path`` writes to this process's standard output (``-o /dev/stdout``, ``-o -``), so that
    a command prints its summary elsewhere instead of into its output."""
    try:
        return is_stream(path) and _own_stream(os.stat(path)) == 1
    except OSError:
        return False


def _own_stream(target: os.stat_result) -> int | None:
    """1 or 2 if ``target`` is this process's standard output or error (the first of them), else ``None``."""
    for number in (1, 2):
        try:
            if os.path.samestat(os.fstat(number), target):
                return number
        except OSError:  # closed
            continue
    return None


@contextlib.contextmanager
def _open_stream(path: str, mode: str) -> Iterator[IO]:
    """A stream output, opened for writing: this process's own standard output or error through a copy of its
    descriptor (what is written keeps its place among the process's other output, even when that is a file),
    anything else opened for appending."""
    number = _own_stream(os.stat(path))
    if number is not None:
        (sys.stdout if number == 1 else sys.stderr).flush()
        with os.fdopen(os.dup(number), mode, **_text_options(mode)) as f:
            yield f
        return
    with open(path, mode.replace("w", "a"), **_text_options(mode)) as f:
        yield f


def _text_options(mode: str) -> dict:
    """``open``'s keyword arguments for ``mode``: UTF-8 for text; a file name that is no UTF-8 (Python holds its
    bytes as lone surrogates) is written as its own bytes, as ``ls`` shows it."""
    return {} if "b" in mode else {"encoding": "utf-8", "errors": "surrogateescape"}


#: The first bytes of what ``np.save`` (a ``.npy`` array) and ``np.savez`` (a zip archive) write.
NUMPY_MAGIC = {False: b"\x93NUMPY", True: b"PK\x03\x04"}


#: What numpy and zipfile raise on a damaged ``.npy`` or ``.npz`` (found by damaging files at random): a header
#: that does not parse, a member cut short or stored in a way numpy does not read.
_DAMAGED_NUMPY_ERRORS = (ValueError, EOFError, KeyError, SyntaxError, TypeError, NotImplementedError, RuntimeError,
                         zipfile.BadZipFile, zlib.error, tokenize.TokenError)


def load_numpy(path: str | os.PathLike, archive: bool) -> np.ndarray | dict[str, np.ndarray]:
    """``np.load(path, allow_pickle=False)``, once the file is seen to start as ``np.save`` (with ``archive``:
    ``np.savez``) writes them; anything else is refused up front (numpy would take it for a pickle and suggest
    loading it unsafely). An archive comes as a dict of its arrays, all read here, so that a damaged one fails here.

    Raises:
        ValueError: not such a file, or a damaged one (whatever numpy or zipfile raised, named in the message).
        OSError: it cannot be read.
    """
    import numpy as np

    with open(path, "rb") as f:
        if f.read(len(NUMPY_MAGIC[archive])) != NUMPY_MAGIC[archive]:
            raise ValueError("not a NumPy " + (".npz archive" if archive else ".npy array file"))
    try:
        if not archive:
            return np.load(path, allow_pickle=False)
        with np.load(path, allow_pickle=False) as stored:
            return {name: stored[name] for name in stored.files}
    except _DAMAGED_NUMPY_ERRORS as err:
        raise ValueError(f"a damaged NumPy {'archive' if archive else 'file'} ({type(err).__name__}: {err})") \
            from err


def not_regular_file(path: Path) -> str:
    """What ``path``, a folder entry that is neither a regular file nor a folder, is, for a message saying why it
    was left out (a pipe is never opened: reading it would wait for a writer)."""
    return "a broken link" if path.is_symlink() and not path.exists() else "not a regular file"


def first_non_blank(text_file: IO[str]) -> str:
    """The first character of ``text_file`` that is not white space ("" if none), read piece by piece, so a
    large file of the wrong kind is told apart before it is read whole; the caller seeks back."""
    while piece := text_file.read(1 << 16):
        if stripped := piece.lstrip():
            return stripped[0]
    return ""
