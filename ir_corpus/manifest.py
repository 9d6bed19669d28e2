"""The corpus manifest (``manifest.jsonl``): one JSON record per (suite, source, variant), and its summary table."""
from __future__ import annotations

import contextlib
import json
import os
from collections import defaultdict
from pathlib import Path
from typing import Iterable

import numpy as np

from inst2vec.errors import Inst2vecError
from inst2vec.io import atomic_path, atomic_write, full_disk_named, load_numpy
from inst2vec.statements import StatementCache, file_statement_hashes
from ir_corpus.compile import file_sha256

MANIFEST = "manifest.jsonl"
TABLE_COLUMNS = ("suite", "files", "compiled", "failed", "skipped", "duplicates", "ir_lines", "statements",
                 "distinct")
#: The digests of each compiled file's distinct statements, by the IR's sha256, kept by :func:`corpus_table` so
#: that its ``distinct`` column does not parse all the IR again on every build and ``corpus stats``.
DIGESTS = ".statement-digests.npz"


def record_key(record: dict) -> tuple[str, str, str]:
    return record["suite"], record["source"], record["variant"]


#: The fields of a record that a build reads, by status, with their types; other fields are not checked.
_NEEDED = {"suite": str, "source": str, "variant": str, "status": str}
_NEEDED_IF = {"ok": {"ir": str, "sha256": str, "statements_sha256": str, "n_lines": int, "n_statements": int},
              "duplicate": {}, "failed": {}, "skipped": {}}
_TYPED_IF_THERE = {"flags": list, "duplicate_of": str, "statements_sha256": str, "source_sha256": str, "clang": str,
                   "timeout": (int, float), "retry": bool, "error": (str, type(None))}


def record_problem(record: object) -> str | None:
    """What makes ``record`` (one parsed line of a manifest) no record a build can use — a field missing or of
    another type, an unknown status, an IR path outside ``ir/`` — or None."""
    if not isinstance(record, dict):
        return "not a JSON object"
    needed = dict(_NEEDED)
    if isinstance(record.get("status"), str):
        if record["status"] not in _NEEDED_IF:
            return f"unknown status {record['status']!r}"
        needed.update(_NEEDED_IF[record["status"]])
    missing = [name for name in needed if name not in record]
    if missing:
        return f"no {missing[0]!r}"
    for name, kind in {**_TYPED_IF_THERE, **needed}.items():
        if name in record and not _is_a(record[name], kind):
            return f"{name!r} is {record[name]!r}"
    for name in ("ir", "duplicate_of"):
        parts = Path(record.get(name, "ir")).parts
        if parts[:1] != ("ir",) or ".." in parts:
            return f"{name!r} is {record[name]!r}, not a file below ir/"
    return None


def _is_a(value, kind) -> bool:
    """Whether ``value`` is of ``kind``, as a manifest means it: counts are not negative and no bool counts as a
    number, and flags are strings."""
    if isinstance(value, bool) and kind is not bool:
        return False
    if kind is int:
        return isinstance(value, int) and value >= 0
    if kind is list:
        return isinstance(value, list) and all(isinstance(item, str) for item in value)
    return isinstance(value, kind)


def _not_a_record(path: Path, line: int, problem) -> Inst2vecError:
    return Inst2vecError(f"{path}:{line}: not a manifest record ({problem}); delete this line, and `corpus build` "
                         "compiles the file it recorded again")


class Manifest:
    """Records by key, loaded from and saved to ``OUT/manifest.jsonl``; appends survive a crash."""

    def __init__(self, out_dir: str | os.PathLike):
        self.path = Path(out_dir) / MANIFEST
        self.records: dict[tuple[str, str, str], dict] = {}
        self._cut_line_at: int | None = None  # where a last line cut short starts, to drop before appending
        if self.path.exists():
            with open(self.path, encoding="utf-8") as f:
                text = f.read()
            lines = text.split("\n")
            if lines[-1]:  # every record ends with a newline: this one was cut short by a crash (a full disk)
                self._cut_line_at = len(text.encode("utf-8")) - len(lines[-1].encode("utf-8"))
            for n, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as err:
                    if n == len(lines):  # cut short: that file is built again
                        continue
                    raise _not_a_record(self.path, n, err) from err
                if problem := record_problem(record):  # edited by hand, say
                    raise _not_a_record(self.path, n, problem)
                self.records[record_key(record)] = record

    def add(self, record: dict) -> None:
        """Keep ``record`` and append it to the file at once (after dropping a last line cut short, which the
        record would otherwise continue)."""
        self.records[record_key(record)] = record
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self._cut_line_at is not None:
            os.truncate(self.path, self._cut_line_at)
            self._cut_line_at = None
        with full_disk_named(self.path), open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record, sort_keys=True) + "\n")

    def keep_only(self, keys: set[tuple[str, str, str]]) -> int:
        """Drop the records whose key is not in ``keys`` (until :meth:`save`); return how many."""
        dropped = [key for key in self.records if key not in keys]
        for key in dropped:
            del self.records[key]
        return len(dropped)

    def save(self) -> None:
        """Rewrite the file with one record per key, sorted (drops superseded appends)."""
        with atomic_write(self.path) as f:
            for key in sorted(self.records):
                f.write(json.dumps(self.records[key], sort_keys=True) + "\n")

    def __iter__(self):
        return iter(self.records[key] for key in sorted(self.records))

    def __len__(self) -> int:
        return len(self.records)


def corpus_table(out_dir: str | os.PathLike, records: Iterable[dict] | None = None,
                 unreadable: list[str] | None = None, computed: dict[str, np.ndarray] | None = None,
                 checked: set[str] | None = None) -> list[dict]:
    """Per-suite figures (the original's data-set table) plus a total row, from the manifest and the IR.

    With ``unreadable``, an IR file that is missing, cannot be read or changed since it was compiled is left out of
    the distinct statements and its error appended there (else the error is raised). Each file's statement digests
    are kept in :data:`DIGESTS` for the next table, if the folder can be written; ``computed`` holds those known
    already (by the IR's sha256). ``checked`` names IR files (as records do) whose bytes the caller has just
    written, or checked against their records: they are not read again for that.
    """
    out_dir = Path(out_dir)
    records = list(Manifest(out_dir) if records is None else records)
    rows: dict[str, dict] = defaultdict(lambda: dict.fromkeys(TABLE_COLUMNS[1:], 0))
    distinct: dict[str, list[np.ndarray]] = defaultdict(list)
    sources: dict[str, set] = defaultdict(set)
    cache = StatementCache()
    stored = _kept_digests(out_dir / DIGESTS)
    kept = {**stored, **(computed or {})}
    used: dict[str, np.ndarray] = {}
    for record in records:
        row = rows[record["suite"]]
        sources[record["suite"]].add(record["source"])
        status = record["status"]
        row[{"ok": "compiled", "failed": "failed", "skipped": "skipped", "duplicate": "duplicates"}[status]] += 1
        if status == "ok":
            row["ir_lines"] += record["n_lines"]
            row["statements"] += record["n_statements"]
            try:
                digests = used[record["sha256"]] = _distinct_digests(out_dir, record, kept, cache,
                                                                     record["ir"] in (checked or ()))
            except (OSError, Inst2vecError) as err:
                if unreadable is None:
                    raise
                unreadable.append(f"{out_dir / record['ir']}: {err.strerror or err}" if isinstance(err, OSError)
                                  else str(err))
            else:
                distinct[record["suite"]].append(digests)
    if used.keys() != stored.keys():
        _keep_digests(out_dir / DIGESTS, used)
    table = []
    per_suite = {suite: np.unique(np.concatenate(digests)) for suite, digests in distinct.items()}
    for suite in sorted(rows):
        rows[suite]["files"] = len(sources[suite])
        rows[suite]["distinct"] = len(per_suite.get(suite, ()))
        table.append({"suite": suite, **rows[suite]})
    total = {"suite": "total", **{c: sum(r[c] for r in table) for c in TABLE_COLUMNS[1:]}}
    total["distinct"] = len(np.unique(np.concatenate(list(per_suite.values())))) if per_suite else 0
    return table + [total]


def _distinct_digests(out_dir: Path, record: dict, kept: dict[str, np.ndarray], cache: StatementCache,
                      checked: bool) -> np.ndarray:
    """The sorted distinct ``sha256(statement)[:16]`` of one compiled file (16 bytes: inlined C++ types make some
    statements megabytes long), from ``kept`` if known already (an earlier table's, or the build's workers').

    Raises:
        OSError: the IR cannot be read. Inst2vecError: it changed since it was compiled, or cannot be parsed.
    """
    ir = out_dir / record["ir"]
    if not checked and file_sha256(ir) != record["sha256"]:
        raise Inst2vecError(f"{ir}: changed since it was compiled (the manifest records other bytes)")
    if record["sha256"] in kept:
        return kept[record["sha256"]]
    return np.array(sorted(file_statement_hashes(ir, cache)[2]), dtype="S16")


def _kept_digests(path: Path) -> dict[str, np.ndarray]:
    """The digests an earlier table kept, by IR sha256; none if there are none, or they are damaged."""
    try:
        stored = load_numpy(path, archive=True)
        names, offsets, digests = stored["ir_sha256"], stored["offsets"], stored["digests"]
    except (OSError, ValueError, KeyError):
        return {}
    if names.ndim != 1 or digests.dtype != np.dtype("S16") or offsets.shape != (len(names) + 1,) \
            or offsets.dtype.kind not in "iu" or offsets[0] != 0 or offsets[-1] != len(digests) \
            or np.any(np.diff(offsets) < 0):
        return {}
    return {str(name): digests[start:end] for name, start, end in zip(names, offsets[:-1], offsets[1:])}


def _keep_digests(path: Path, digests: dict[str, np.ndarray]) -> None:
    """Write ``digests`` (by IR sha256) for the next table, if the corpus folder can be written."""
    arrays = list(digests.values())
    with contextlib.suppress(OSError):  # only slower next time: a read-only corpus, a full disk
        with atomic_path(path) as tmp:
            np.savez(tmp, ir_sha256=np.array(list(digests), dtype="U64"),
                     offsets=np.cumsum([0] + [len(array) for array in arrays]),
                     digests=np.concatenate(arrays) if arrays else np.empty(0, dtype="S16"))


def format_table(table: list[dict]) -> str:
    """The table as aligned text."""
    widths = {c: max(len(c), *(len(f"{r[c]:,}" if isinstance(r[c], int) else r[c]) for r in table))
              for c in TABLE_COLUMNS}
    lines = ["  ".join(c.ljust(widths[c]) if c == "suite" else c.rjust(widths[c]) for c in TABLE_COLUMNS)]
    for r in table:
        lines.append("  ".join(str(r[c]).ljust(widths[c]) if c == "suite" else f"{r[c]:,}".rjust(widths[c])
                               for c in TABLE_COLUMNS))
    return "\n".join(lines)
