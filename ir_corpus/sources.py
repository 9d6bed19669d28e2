"""Find the C, C++, OpenCL and CUDA sources of a corpus: directories, or ``.tar.gz`` archives unpacked safely."""
from __future__ import annotations

import json
import os
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path

from inst2vec.errors import DataNotFoundError, Inst2vecError
from inst2vec.io import not_regular_file

#: Source file suffixes and their language.
LANGUAGES = {".c": "c", ".cc": "c++", ".cpp": "c++", ".cxx": "c++", ".cl": "opencl", ".cu": "cuda"}
_UNPACKED_MARK = ".unpacked"


class SourceError(Inst2vecError, OSError):
    """A corpus source (directory or archive) cannot be read."""


@dataclass(frozen=True)
class Source:
    """One source file of a suite: ``root / relpath`` is the file, ``suite`` names its collection."""

    suite: str
    root: str
    relpath: str

    @property
    def path(self) -> str:
        return os.path.join(self.root, self.relpath)

    @property
    def language(self) -> str:
        return LANGUAGES[Path(self.relpath).suffix.lower()]

    @classmethod
    def of_file(cls, path: str | os.PathLike) -> "Source":
        """A source file named on its own: a suite of one, named after its folder."""
        path = Path(path)
        return cls(path.resolve().parent.name, str(path.parent), path.name)


def is_source_file(path: str | os.PathLike) -> bool:
    """Whether the file's suffix is that of a C, C++, OpenCL or CUDA source."""
    return Path(path).suffix.lower() in LANGUAGES


def suite_name(path: str | os.PathLike) -> str:
    """``gpgpu-npb-3.3.tar.gz`` -> ``gpgpu-npb-3.3``; a directory keeps its name."""
    name = Path(path).name
    for suffix in (".tar.gz", ".tgz", ".tar"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def unpack_archive(archive: str | os.PathLike, into: str | os.PathLike) -> Path:
    """Unpack ``archive`` into ``into/<suite>`` once (kept for later runs); only regular files and folders.

    Members with absolute paths, ``..`` or links are refused, so an archive cannot write outside; their names are
    kept beside the files (:func:`refused_members`). A folder already at ``into/<suite>`` is replaced only if an
    earlier unpack made it (it holds the mark file).

    Raises:
        SourceError: the archive cannot be read (names it), or ``into/<suite>`` is a folder or file of someone else.
    """
    target = Path(into) / suite_name(archive)
    if _refused_by_mark(target) is not None:
        return target
    if target.exists() or target.is_symlink():
        if target.is_symlink() or not (target / _UNPACKED_MARK).is_file():
            raise SourceError(f"{os.fspath(archive)}: cannot unpack into {target}: it is there already, and no "
                              f"archive was unpacked into it (no {_UNPACKED_MARK} file); move it away, or build "
                              "into another folder")
        shutil.rmtree(target)
    partial = target.with_name(target.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            tar.extractall(partial, members=[m for m in members if _unpacked(m)], filter="data")
    except (tarfile.TarError, OSError, EOFError) as err:
        shutil.rmtree(partial, ignore_errors=True)
        reason = "not a tar archive (plain, gzip, bzip2 or xz)" if type(err) is tarfile.ReadError else err
        raise SourceError(f"{os.fspath(archive)}: cannot unpack: {reason}") from err
    refused = [m.name for m in members if not _unpacked(m)]
    (partial / _UNPACKED_MARK).write_text(json.dumps({"refused": refused}), encoding="utf-8")
    partial.rename(target)  # with its mark: a folder without a whole mark is unpacked again
    return target


def refused_members(unpacked: str | os.PathLike) -> list[str]:
    """The names of the members :func:`unpack_archive` refused to unpack into ``unpacked`` (links, absolute paths,
    ``..``)."""
    return _refused_by_mark(Path(unpacked)) or []


def was_unpacked(folder: str | os.PathLike) -> bool:
    """Whether ``folder`` is where :func:`unpack_archive` unpacked an archive (it holds the mark)."""
    return not Path(folder).is_symlink() and (Path(folder) / _UNPACKED_MARK).is_file()


def _refused_by_mark(target: Path) -> list[str] | None:
    """The refused members recorded in ``target``'s mark; None if it has no readable mark (not unpacked whole, or
    by a version that did not record them): then it is unpacked again."""
    try:
        refused = json.loads((target / _UNPACKED_MARK).read_text(encoding="utf-8"))["refused"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return refused if isinstance(refused, list) and all(isinstance(name, str) for name in refused) else None


def _unpacked(member: tarfile.TarInfo) -> bool:
    """Whether :func:`unpack_archive` unpacks a member: a regular file or folder that stays inside the archive."""
    path = Path(member.name)
    return (member.isfile() or member.isdir()) and not path.is_absolute() and ".." not in path.parts


def find_sources(inputs: list[str | os.PathLike], unpack_dir: str | os.PathLike) -> tuple[list[Source], list[str]]:
    """All source files of the inputs (directories, archives or single source files), sorted by suite and path.

    A single source file is a suite of one, named after its folder. Archives are unpacked into ``unpack_dir``;
    a folder that holds it is searched around it (what was unpacked there is no source of the folder's suite).

    Returns:
        ``(sources, errors)``: the files, and a message for each input that could not be read.
    """
    sources, errors = [], []
    for item in inputs:
        path = Path(item)
        if path.is_file() and is_source_file(path):
            sources.append(Source.of_file(path))
            continue
        try:
            if not path.exists():
                raise DataNotFoundError(f"{path}: no such file or directory")
            if path.is_file() and suite_name(path) == path.name and not tarfile.is_tarfile(path):
                raise SourceError(f"{path}: not a folder, a .tar.gz archive or a C, C++, OpenCL or CUDA source "
                                  f"({', '.join(LANGUAGES)})")
            root = path if path.is_dir() else unpack_archive(path, unpack_dir)
        except Inst2vecError as err:
            errors.append(str(err))
            continue
        refused = [] if path.is_dir() else refused_members(root)
        if refused:
            shown = ", ".join(refused[:5]) + (", …" if len(refused) > 5 else "")
            errors.append(f"{path}: skipped {len(refused)} member(s) that are links or would land outside the "
                          f"archive ({shown})")
        suite = suite_name(path)
        unpacked = _part_below(root, unpack_dir) if path.is_dir() else None
        for file in sorted(root.rglob("*")):
            if unpacked is not None and file.relative_to(root).parts[:len(unpacked)] == unpacked:
                continue
            if is_source_file(file) and file.is_file():
                sources.append(Source(suite, str(root), str(file.relative_to(root))))
            elif is_source_file(file) and not file.is_dir():
                errors.append(f"{file}: {not_regular_file(file)}, not compiled")
    return _without_clashes(sources, errors)


def _without_clashes(sources: list[Source], errors: list[str]) -> tuple[list[Source], list[str]]:
    """``sources`` without the files whose suite and path an earlier input has already given (their IR would
    replace its IR), one error for each input that loses some; a file given twice is kept once."""
    first: dict[tuple[str, str], Source] = {}
    kept, clashes = [], {}
    for source in sources:
        earlier = first.setdefault((source.suite, source.relpath), source)
        if earlier is source:
            kept.append(source)
        elif os.path.realpath(earlier.path) != os.path.realpath(source.path):
            clashes.setdefault(source.root, []).append((source, earlier))
    for root, lost in clashes.items():
        source, earlier = lost[0]
        errors.append(f"{root}: {len(lost)} source file(s) left out ({source.relpath}{', …' * (len(lost) > 1)}): "
                      f"{earlier.root} gives the suite {source.suite!r} the same, and the IR of one would replace "
                      "the other's; give one of the two folders another name (a link named otherwise will do)")
    return kept, errors


def _part_below(folder: Path, inner: str | os.PathLike) -> tuple[str, ...] | None:
    """The path parts of ``inner`` below ``folder``, or None if ``inner`` is not inside it."""
    try:
        return Path(inner).resolve().relative_to(folder.resolve()).parts or None
    except ValueError:
        return None
