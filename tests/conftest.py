"""Shared fixtures: the real data sets under ``../shared/data`` (or ``$INST2VEC_DATA``), and IR with quoted names."""
import re
from pathlib import Path

import pytest

from inst2vec.data import data_root as resolve_data_root


def pytest_collection_modifyitems(config, items) -> None:
    """The tests that train Keras models in this process (``tasks/test_neural.py``) run last. TensorFlow's first
    ``tf.data`` generator pins glibc's mmap threshold at 128 KiB for the rest of the process (its
    ``ApplyPython311MemoryPatch``, against a leak under Python 3.11): from then on every allocation above it is a
    fresh mmap, and the numpy and scikit-learn work of the devmap tests after it took 1.5x as long (126-136 s
    against 84-88 s for three test files, in alternating runs). The others keep their order."""
    items.sort(key=lambda item: item.path.name == "test_neural.py")


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The data root; fails (never skips) when it is missing, naming where it looked."""
    root = resolve_data_root().resolve()
    if not (root / "devmap" / "kernels_ir").is_dir():
        pytest.fail(f"data sets not found at {root}: set INST2VEC_DATA to the folder holding devmap/, "
                    "threadcoarsening/, inst2vec-published/ (see README, Data)")
    return root


@pytest.fixture(scope="session")
def published_vocabulary(data_root) -> list:
    import json

    with open(data_root / "inst2vec-published" / "vocabulary.json", encoding="utf-8") as f:
        return json.load(f)


# Quoted names that hold characters the original's name class lacks (spaces, parentheses, quotes), as Rust, Julia
# or hand-written IR spell them, in every place a name goes: types, arguments, values, labels, targets.
IR_QUOTED_NAMES = """\
%"struct.my s" = type { i32, float }
%"alloc::vec::Vec<(u32, u32)>" = type { { i64, ptr }, i64 }
%"core::fmt::Arguments<'_>" = type { %"alloc::vec::Vec<(u32, u32)>", [2 x i32] }
@"the global" = global i32 0, align 4
declare void @"may throw"(ptr)
define i32 @"my func"(i32 %"a b", ptr %p, %"struct.my s"* %"s p") #0 personality ptr @__gxx_personality_v0 {
"entry block":
  %"x y" = add i32 %"a b", 1
  %f = getelementptr inbounds %"struct.my s", %"struct.my s"* %"s p", i32 0, i32 0
  %v = load i32, i32* %f, align 4
  %w = getelementptr inbounds %"alloc::vec::Vec<(u32, u32)>", ptr %p, i64 0, i32 1
  %args = alloca %"core::fmt::Arguments<'_>", align 8
  switch i32 %v, label %"the end" [
    i32 0, label %"case zero"
  ]
"case zero":
  invoke void @"may throw"(ptr %args)
          to label %"the end" unwind label %"lp pad"
"lp pad":
  %lp = landingpad { ptr, i32 }
          cleanup
  br label %"the end"
"the end":
  %r = phi i32 [ %"x y", %"entry block" ], [ %v, %"case zero" ], [ 0, %"lp pad" ]
  ret i32 %r
}
"""


@pytest.fixture
def quoted_names_ir() -> tuple[str, str]:
    """IR full of quoted names, and the same IR with plain names instead."""
    plain = IR_QUOTED_NAMES
    for quoted, name in (('%"struct.my s"', "%struct.s"), ('%"alloc::vec::Vec<(u32, u32)>"', "%struct.vec"),
                         ('%"core::fmt::Arguments<\'_>"', "%struct.args")):
        plain = plain.replace(quoted, name)
    plain = re.sub(r'"(\w+) (\w+)"', r"\1_\2", plain)
    assert '"' not in plain
    return IR_QUOTED_NAMES, plain
