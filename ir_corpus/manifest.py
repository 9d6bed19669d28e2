"""The corpus manifest (``manifest.jsonl``): one JSON record per (suite, source, variant), and its summary table."""
from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path
from typing import Iterable

from inst2vec.errors import Inst2vecError
from inst2vec.io import atomic_write, full_disk_named
from inst2vec.statements import StatementCache, file_statement_digests

MANIFEST = "manifest.jsonl"
TABLE_COLUMNS = ("suite", "files", "compiled", "failed", "skipped", "duplicates", "ir_lines", "statements",
                 "distinct")


def record_key(record: dict) -> tuple[str, str, str]:
    return record["suite"], record["source"], record["variant"]


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
                    self.records[record_key(record)] = record
                except (json.JSONDecodeError, KeyError, TypeError) as err:
                    if n == len(lines):  # cut short: that file is built again
                        continue
                    raise Inst2vecError(f"{self.path}:{n}: not a manifest record ({err}); delete this line, "
                                        f"and `corpus build` compiles the file it recorded again") from err

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
                 unreadable: list[str] | None = None) -> list[dict]:
    """Per-suite figures (the original's data-set table) plus a total row, from the manifest and the IR.

    With ``unreadable``, an IR file that is missing or cannot be read is left out of the distinct statements and
    its error appended there (else the error is raised).
    """
    out_dir = Path(out_dir)
    records = list(Manifest(out_dir) if records is None else records)
    rows: dict[str, dict] = defaultdict(lambda: dict.fromkeys(TABLE_COLUMNS[1:], 0))
    distinct: dict[str, set] = defaultdict(set)
    sources: dict[str, set] = defaultdict(set)
    cache = StatementCache()
    for record in records:
        row = rows[record["suite"]]
        sources[record["suite"]].add(record["source"])
        status = record["status"]
        row[{"ok": "compiled", "failed": "failed", "skipped": "skipped", "duplicate": "duplicates"}[status]] += 1
        if status == "ok":
            row["ir_lines"] += record["n_lines"]
            row["statements"] += record["n_statements"]
            # 16-byte digests, not the statements: inlined C++ types make some statements megabytes long
            try:
                distinct[record["suite"]].update(file_statement_digests(out_dir / record["ir"], cache))
            except (OSError, Inst2vecError) as err:
                if unreadable is None:
                    raise
                unreadable.append(f"{out_dir / record['ir']}: {err.strerror or err}" if isinstance(err, OSError)
                                  else str(err))
    table = []
    for suite in sorted(rows):
        rows[suite]["files"] = len(sources[suite])
        rows[suite]["distinct"] = len(distinct[suite])
        table.append({"suite": suite, **rows[suite]})
    total = {"suite": "total", **{c: sum(r[c] for r in table) for c in TABLE_COLUMNS[1:]}}
    total["distinct"] = len(set().union(*distinct.values())) if distinct else 0
    return table + [total]


def format_table(table: list[dict]) -> str:
    """The table as aligned text."""
    widths = {c: max(len(c), *(len(f"{r[c]:,}" if isinstance(r[c], int) else r[c]) for r in table))
              for c in TABLE_COLUMNS}
    lines = ["  ".join(c.ljust(widths[c]) if c == "suite" else c.rjust(widths[c]) for c in TABLE_COLUMNS)]
    for r in table:
        lines.append("  ".join(str(r[c]).ljust(widths[c]) if c == "suite" else f"{r[c]:,}".rjust(widths[c])
                               for c in TABLE_COLUMNS))
    return "\n".join(lines)
