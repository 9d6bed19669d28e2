"""Damaged real IR: every mutant reads, or fails with an IRParseError that names the file and (almost always) a line;
damaged bitcode too, naming the file.

Mutations of the kinds a broken tool, a bad merge or a hand edit makes: a truncation, a line deleted, copied,
swapped or inserted, a token deleted, copied or replaced, a character deleted or replaced. Seeded, so a failure
here is the same on every run; ``-k mutated`` with ``MUTANTS=3000`` tries more.
"""
import os
import random
import re

import pytest

from inst2vec.embed import embed_file
from inst2vec.embeddings import load
from inst2vec.errors import IRParseError
from inst2vec.ir import read_module
from inst2vec.pairs import context_pairs
from inst2vec.statements import file_statements
from inst2vec.xfg import build_xfg

FILES = ["devmap/kernels_ir/npb-3.3-BT-compute_rhs3_S.ll", "devmap/kernels_ir/shoc-1.1.5-Triad-Triad.ll",
         "devmap/kernels_ir/rodinia-3.1-backprop-bpnn_layerforward_ocl.ll", "threadcoarsening/kernels_ir/mtLocal.ll",
         "threadcoarsening/kernels_ir/spmv.ll"]
INSERTED = ["}", "{", "define void @x() {", "entry:", "  br label %1", "  %1 = phi i32 [ 0, %0 ]",
            "%struct.a = type { %struct.a* }", "  unreachable", "declare i32 @f(...)", "  %x = call i32 (...) @f()",
            "  switch i32 %1, label %2 [", "  ]", "; <label>:9:"]


def mutate(text: str, rng: random.Random) -> str:
    """``text`` with one random damage."""
    lines = text.split("\n")
    kind = rng.choice(["truncate", "delete line", "copy line", "swap lines", "insert line", "delete token",
                       "copy token", "replace token", "delete character", "replace character"])
    if kind == "truncate":
        return text[:rng.randrange(len(text))]
    i = rng.randrange(len(lines))
    if kind == "delete line":
        del lines[i]
    elif kind == "copy line":
        lines.insert(i, rng.choice(lines))
    elif kind == "swap lines":
        j = rng.randrange(len(lines))
        lines[i], lines[j] = lines[j], lines[i]
    elif kind == "insert line":
        lines.insert(i, rng.choice(INSERTED))
    elif kind.endswith("token"):
        tokens = lines[i].split(" ")
        k = rng.randrange(len(tokens))
        if kind == "delete token":
            del tokens[k]
        elif kind == "copy token":
            tokens.insert(k, tokens[k])
        else:
            tokens[k] = rng.choice(rng.choice(lines).split(" "))
        lines[i] = " ".join(tokens)
    elif lines[i]:
        k = rng.randrange(len(lines[i]))
        new = "" if kind == "delete character" else rng.choice("{}()[]<>,%@!\"=*x0 ;#:\\")
        lines[i] = lines[i][:k] + new + lines[i][k + 1:]
    return "\n".join(lines)


@pytest.mark.filterwarnings("ignore:.*LLVM 22 no longer reads this older syntax")
def test_mutated_real_ir_reads_or_fails_naming_file_and_line(data_root, tmp_path, quoted_names_ir):
    embeddings = load()
    texts = {name: (data_root / name).read_text() for name in FILES}
    texts["quoted names (conftest.py)"] = quoted_names_ir[0]  # struct types, opaque pointers, invoke
    outcomes = {"read": 0, "refused": 0}
    for seed in range(int(os.environ.get("MUTANTS", 250))):
        rng = random.Random(seed)
        name = rng.choice(sorted(texts))
        text = texts[name]
        for _ in range(rng.randint(1, 3)):
            text = mutate(text, rng)
        path = tmp_path / f"mutant{seed}.ll"
        path.write_text(text)
        try:
            file_statements(path)
            graph = build_xfg(read_module(path, verify=seed % 5 == 0))
            context_pairs(graph, width=2)
            embed_file(path, embeddings)
            outcomes["read"] += 1
        except IRParseError as err:
            outcomes["refused"] += 1
            # LLVM's verifier names no line; where the instruction it names is on several lines, none is given
            verifier = err.reason.startswith("LLVM rejects this IR: ") and " does not dominate " in err.reason
            whole_file = err.reason.startswith("empty file")  # truncated to nothing (or to white space)
            where = re.escape(str(path)) + (r"(:\d+)?" if verifier or whole_file else r":\d+")
            assert re.match(where + ": ", str(err)), f"seed {seed} ({name}): {err}"
        path.unlink()
    assert min(outcomes.values()) > 0.2 * sum(outcomes.values()), outcomes  # both kinds of mutant are tried


def test_damaged_bitcode_reads_or_fails_naming_the_file(data_root, tmp_path):
    """Bitcode with bytes changed or cut off (seeded): read as its disassembly, or an IRParseError naming the file
    (LLVM aborts on some damaged bitcode; that happens in a child process)."""
    import subprocess

    whole_path = tmp_path / "spmv.bc"
    subprocess.run(["llvm-as-14", str(data_root / "threadcoarsening/kernels_ir/spmv.ll"), "-o", str(whole_path)],
                   check=True)
    whole, outcomes = whole_path.read_bytes(), {"read": 0, "refused": 0}
    for seed in range(60):
        rng = random.Random(seed)
        data = bytearray(whole[:rng.randrange(len(whole))] if seed % 3 == 0 else whole)
        for _ in range(0 if seed % 3 == 0 else rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        path = tmp_path / f"mutant{seed}.bc"
        path.write_bytes(bytes(data))
        try:
            file_statements(path)
            outcomes["read"] += 1
        except IRParseError as err:
            assert str(err).startswith(f"{path}:"), f"seed {seed}: {err}"
            outcomes["refused"] += 1
    assert outcomes["refused"] > 20, outcomes
