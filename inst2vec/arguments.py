"""Argument types for the command lines: numbers in range and output paths, checked before any work is done, and
the options for compiling the source files named.

Each is an ``argparse`` ``type=``: a bad value becomes ``inst2vec CMD: error: argument -o: …`` and exit status 2.
"""
from __future__ import annotations

import argparse
import contextlib
import math
import os
import re
import shlex
import stat
import tempfile
from typing import Callable, Iterator

from inst2vec.io import is_stream

#: Help of the positional arguments of every command that reads IR files.
IR_INPUTS_HELP = (".ll or .bc files, C, C++ or OpenCL files (compiled with clang-14 -O0), or directories searched "
                  "for *.ll and *.bc")


def at_least(minimum: float, kind: type = int, strict: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite number of ``kind`` at least ``minimum`` (above it if ``strict``), checked
    before any work is done."""
    def parse(text: str) -> float:
        value = kind(text)  # a ValueError becomes argparse's "invalid int value: 'x'"
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number, not {text}")
        if value < minimum or (strict and value == minimum):
            raise argparse.ArgumentTypeError(f"must be {'above' if strict else 'at least'} {minimum}, not {text}")
        return value
    parse.__name__ = kind.__name__
    return parse


def output_file(path: str) -> str:
    """An ``-o`` value for a file: refused if it is a folder, ends like one, lies below a file, or its folder cannot
    be written into (before any work is done). ``-`` is standard output, as for most commands (``./-`` is a file)."""
    if path == "-":
        return "/dev/stdout"
    if os.path.isdir(path) or path.endswith(("/", os.sep)):
        raise argparse.ArgumentTypeError(f"{path!r} is a folder; name the file to write")
    _refuse_file_above(path)
    if not is_stream(path):
        _refuse_unwritable(path, os.path.dirname(os.path.abspath(path)))
    return path


def output_folder(path: str) -> str:
    """An ``-o`` value for a folder of outputs: refused if it is a file, lies below one, or cannot be written into."""
    try:
        is_file = not stat.S_ISDIR(os.stat(path).st_mode)  # one look: another process may be making or removing it
    except (FileNotFoundError, NotADirectoryError):  # (below a file: refused next)
        is_file = False
    if is_file:
        raise argparse.ArgumentTypeError(f"{path!r} is a file; name a folder to write into")
    _refuse_file_above(path)
    _refuse_unwritable(path, os.path.abspath(path))
    return path


def _refuse_unwritable(path: str, folder: str) -> None:
    """Refuse ``path`` if nothing can be written into ``folder`` (a read-only file system, ``/proc``, no
    permission), so that a long run does not end in an error with nothing written. Tried with a folder and a file
    of its own in ``folder``, or in the nearest folder above it that exists, then removed: the path's own folders
    are neither made nor removed, so the ranks of an MPI job trying at once do not get in each other's way."""
    parent = _nearest_existing(folder)
    try:
        probe = tempfile.mkdtemp(dir=parent, prefix=".inst2vec-write-test-")
        try:
            fd, probe_file = tempfile.mkstemp(dir=probe)
            os.close(fd)
            os.unlink(probe_file)
        finally:
            os.rmdir(probe)
    except OSError as err:
        raise argparse.ArgumentTypeError(f"{path!r}: cannot write into {parent}: {err.strerror or err}") from None


def _refuse_file_above(path: str) -> None:
    """Refuse ``path`` if the nearest of its folders that exists is a file (its folder could never be made)."""
    parent = _nearest_existing(os.path.dirname(os.path.abspath(path)))
    if os.path.isfile(parent):  # (not "not a folder": another process may have removed it meanwhile)
        raise argparse.ArgumentTypeError(f"{path!r}: {parent} is a file, so nothing can be written below it")


def _nearest_existing(folder: str) -> str:
    """``folder`` if it exists, else the nearest folder above it that does."""
    while not os.path.exists(folder):
        folder = os.path.dirname(folder)
    return folder


def plot_file(path: str) -> str:
    """An output for a plot: a file (see :func:`output_file`) whose suffix names an image format it can be drawn in."""
    from inst2vec.plots import plot_format

    try:
        plot_format(path)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return output_file(path)


def existing_folder(path: str) -> str:
    """An input folder (``-I``): refused if it is not an existing folder (before any work is done)."""
    if not os.path.isdir(path):
        raise argparse.ArgumentTypeError(f"{path!r} is not a folder")
    return path


def macro_definition(text: str) -> str:
    """A ``-D`` value: a macro name (function-like allowed), then optionally ``=`` and its value."""
    if not re.fullmatch(r"[A-Za-z_]\w*(\([\w\s,.]*\))?(=.*)?", text, re.DOTALL):
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME or NAME=VALUE")
    return text


def add_source_flags(p: argparse.ArgumentParser) -> None:
    """``-I DIR`` and ``-D NAME[=VALUE]`` for the C, C++ and OpenCL files a command compiles (see
    :func:`source_flags_exported`)."""
    p.add_argument("-I", dest="include_dirs", action="append", default=[], type=existing_folder, metavar="DIR",
                   help="an include folder for the C, C++ and OpenCL files compiled (clang's -I; repeatable)")
    p.add_argument("-D", dest="defines", action="append", default=[], type=macro_definition, metavar="NAME[=VALUE]",
                   help="a macro for the C, C++ and OpenCL files compiled (clang's -D; repeatable)")


@contextlib.contextmanager
def source_flags_exported(args: argparse.Namespace) -> Iterator[None]:
    """Add the command's ``-I`` and ``-D`` to ``$INST2VEC_CFLAGS`` while it runs: where
    :func:`ir_corpus.compile.compile_file` reads them, in this process and in its workers."""
    from ir_corpus.compile import SOURCE_FLAGS_VARIABLE, source_flags

    if not hasattr(args, "include_dirs"):  # a command that compiles nothing
        yield
        return
    flags = [f"-I{os.path.abspath(folder)}" for folder in args.include_dirs] + [f"-D{d}" for d in args.defines]
    before = os.environ.get(SOURCE_FLAGS_VARIABLE)
    if flags:
        os.environ[SOURCE_FLAGS_VARIABLE] = " ".join(filter(None, [before, shlex.join(flags)]))
    try:
        source_flags()  # a $INST2VEC_CFLAGS that cannot be read is refused once, not once per file
        yield
    finally:
        if flags:
            if before is None:
                del os.environ[SOURCE_FLAGS_VARIABLE]
            else:
                os.environ[SOURCE_FLAGS_VARIABLE] = before


def json_path(path: str) -> str:
    """An ``-o`` value for a JSON file: refused unless it ends in ``.json`` or ``.json.gz`` (gzip-compressed), or
    is a stream such as ``/dev/stdout``."""
    path = output_file(path)  # a folder given is named as such first
    if not path.endswith((".json", ".json.gz")) and not is_stream(path):
        raise argparse.ArgumentTypeError(f"{path!r}: the output is JSON; its name must end in .json (or .json.gz, "
                                         "compressed)")
    return path


def graph_path(path: str) -> str:
    """An ``-o`` value for one XFG: refused unless it ends in ``.graphml`` or ``.json``, or either with ``.gz`` (the
    name gives the format), before the graph is built."""
    from inst2vec.xfg import XFG_SUFFIXES

    if not path.lower().endswith(XFG_SUFFIXES):
        raise argparse.ArgumentTypeError(f"{path!r}: the name gives the graph's format; it must end in .graphml or "
                                         ".json (node-link), or either with .gz (compressed)")
    return output_file(path)


def npz_path(path: str) -> str:
    """An ``-o`` value for a NumPy archive: refused unless it ends in ``.npz``."""
    if not path.endswith(".npz"):
        raise argparse.ArgumentTypeError(f"{path!r}: the output is a NumPy archive; its name must end in .npz")
    return output_file(path)
