"""Exceptions raised by the inst2vec toolkit.

Every error derives from :class:`Inst2vecError` and from the built-in it refines, so
``except ValueError`` keeps working for callers that do not know this package.
"""
from __future__ import annotations

import os
import signal


class Inst2vecError(Exception):
    """Root of all errors raised on purpose by this package."""


class IRParseError(Inst2vecError, ValueError):
    """An LLVM IR file could not be read; names the file and, when known, the line.

    Attributes:
        path: the file, or ``None`` for text that came from memory.
        line: 1-based line number, or ``None`` when the error concerns the whole file.
        reason: the message without the ``file:line:`` prefix.
    """

    def __init__(self, reason: str, path: str | os.PathLike | None = None, line: int | None = None):
        self.path = None if path is None else os.fspath(path)
        self.line = line
        self.reason = reason
        where = self.path if self.path is not None else "<string>"
        if line is not None:
            where = f"{where}:{line}"
        super().__init__(f"{where}: {reason}")


class NothingReadError(Inst2vecError, ValueError):
    """None of a batch's input files could be read, so nothing was made.

    Attributes:
        skipped: one ``file:line: reason`` message per input file.
    """

    def __init__(self, skipped: list[str]):
        self.skipped = list(skipped)
        super().__init__(f"none of the {len(skipped)} input file(s) could be read; nothing written:\n  "
                         + "\n  ".join(skipped))


class DataNotFoundError(Inst2vecError, FileNotFoundError):
    """A data set or file the toolkit needs is missing; the message says where it looked."""


class VocabularyError(Inst2vecError, ValueError):
    """A vocabulary file is malformed or does not match what it is used with."""


class OutputError(Inst2vecError, OSError):
    """An output path cannot be written as asked (a folder where a file goes, or the other way round)."""


class DiskFullError(OutputError):
    """An output did not fit: no space left on its disk, a quota, or the file size limit. Not the input's doing,
    so a batch stops at it instead of going on with the other files."""

    def __init__(self, path: str | os.PathLike, reason: str, doing: str = "cannot write it"):
        self.path, self.reason, self.doing = os.fspath(path), reason, doing
        super().__init__(f"{self.path}: {doing}: {reason}")

    def __reduce__(self):  # raised in a worker process, it is pickled to the main one
        return type(self), (self.path, self.reason, self.doing)


class Terminated(BaseException):
    """SIGTERM (``kill``, ``timeout``, a batch system's time limit) or SIGHUP (the terminal or ssh session
    closed), raised where the command is, so that it ends as on Ctrl-C: its temporary output files are removed
    (the signals' default action left them, hidden, beside the outputs). A ``BaseException``, as
    ``KeyboardInterrupt`` is: no ``except Exception`` swallows it."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


#: The signals that the command line turns into :class:`Terminated`.
ENDING_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def first_line(err: BaseException) -> str:
    """The first line of ``err``'s message (its type's name if it has none), for a one-line error of our own
    about an exception raised by another library."""
    return (str(err).strip().splitlines() or [type(err).__name__])[0]
