"""POJ-104 compile time with ncc's header as text (the baseline) and precompiled, in one run; same IR?

    python scripts/bench_poj104_header.py --per-class 10 [--variant O0] [-j 2] [--data-root ../shared/data]

Compiles the first N programs (by number) of every class both ways with the corpus builder's
``compile_source`` and prints the wall and clang times, their ratio and how many records (status, IR
sha256, error message) are identical.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from inst2vec.data import data_path, data_root  # noqa: E402
from ir_corpus import compile as compile_module  # noqa: E402
from ir_corpus.compile import Variant, compile_source  # noqa: E402
from ir_corpus.sources import Source, unpack_archive  # noqa: E402


def _compile(job: tuple[Source, Variant, str, bool]) -> dict:
    source, variant, output, precompiled = job
    if not precompiled:
        compile_module.poj104_pch = lambda flags, clang=None: None  # this worker falls back to the header's text
    return compile_source(source, variant, output)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=10)
    parser.add_argument("--variant", default="O0")
    parser.add_argument("-j", "--jobs", type=int, default=2)
    parser.add_argument("--data-root", default=None)
    args = parser.parse_args()
    variant = Variant.parse(args.variant)
    with tempfile.TemporaryDirectory(prefix="bench-poj104-") as tmp:
        archive = data_path(data_root(args.data_root), "poj104", "poj104.tar.gz")
        root = unpack_archive(archive, Path(tmp) / "unpacked") / "poj104"
        sources = []
        for class_dir in sorted((d for d in root.iterdir() if d.is_dir()), key=lambda d: int(d.name)):
            programs = sorted(class_dir.glob("*.cpp"), key=lambda p: int(p.stem))[:args.per_class]
            sources += [Source("poj104", str(root), str(p.relative_to(root))) for p in programs]
        records, seconds = {}, {}
        for precompiled in (False, True):  # fresh workers each way
            jobs = [(s, variant, os.path.join(tmp, "pch" if precompiled else "text", s.relpath + ".ll"), precompiled)
                    for s in sources]
            start = time.perf_counter()
            with ProcessPoolExecutor(args.jobs) as pool:
                records[precompiled] = list(pool.map(_compile, jobs, chunksize=8))
            seconds[precompiled] = time.perf_counter() - start
    for precompiled in (False, True):
        rs = records[precompiled]
        print(f"{'precompiled header' if precompiled else 'header as text    '}: {seconds[precompiled]:7.1f} s wall, "
              f"clang {sum(r.get('seconds', 0.0) for r in rs):7.1f} s, ok {sum(r['status'] == 'ok' for r in rs)} "
              f"of {len(rs)}")
    print(f"speedup (wall): {seconds[False] / seconds[True]:.2f}x")
    same = sum((a["status"], a.get("sha256"), a["error"]) == (b["status"], b.get("sha256"), b["error"])
               for a, b in zip(records[False], records[True]))
    print(f"identical records (status, IR sha256, error): {same} of {len(sources)}")


if __name__ == "__main__":
    main()
