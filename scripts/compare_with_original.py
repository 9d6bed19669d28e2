"""Compare our statements with the original inst2vec preprocessing, file by file, on any IR folders.

The original (spcl/ncc, vendored in programl==0.3.2) is fetched as in bench_statements.py. Files larger than
--max-kb are left out, because the original is quadratic on long lines.

Usage: python scripts/compare_with_original.py DIR [DIR...] [--every N] [--max-kb 150]
"""
import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_statements import load_original, original_statements  # noqa: E402

from inst2vec.statements import file_statements  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folders", nargs="+")
    parser.add_argument("--every", type=int, default=1, help="take every N-th file (sorted by path)")
    parser.add_argument("--max-kb", type=int, default=150)
    args = parser.parse_args()
    preprocess, rgx = load_original()
    files = sorted(str(p) for folder in args.folders for p in Path(folder).rglob("*.ll")
                   if p.stat().st_size <= args.max_kb * 1024)[::args.every]
    same, differing, original_failed, start = 0, [], 0, time.perf_counter()
    for path in files:
        try:
            original = original_statements(path, preprocess, rgx)
        except (AssertionError, ValueError, IndexError):  # the original asserts on some valid IR
            original_failed += 1
            continue
        if original == file_statements(path):
            same += 1
        else:
            differing.append(path)
    print(f"{len(files)} files: {same} identical, {len(differing)} differ, {original_failed} the original "
          f"cannot read ({time.perf_counter() - start:.1f} s)")
    for path in differing[:20]:
        print("  differs:", path)
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
