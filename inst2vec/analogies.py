"""Generate analogy questions for any statement vocabulary, by the paper's categories.

Each category is a transformation of a statement (change the type, the opcode, add fast-math,
invert a conversion, ...), labelled by the exact relation (``i32 -> i64``, ``add -> sub``). Every
statement ``a`` of the vocabulary whose transform ``T(a)`` is also in the vocabulary gives a pair;
two pairs of the same relation give the question ``a : T(a) :: c : T(c)`` (``a`` and ``c`` of
different instructions where the category asks for it).
At most ``max_per_category`` questions per category are kept, drawn with a seeded generator.
"""
from __future__ import annotations

import os
import re
from typing import Callable, Iterable

import numpy as np

from inst2vec.evaluation import Analogy

_INT_OPS = "add|sub|mul|udiv|sdiv|urem|srem|shl|lshr|ashr|and|or|xor"
_FP_OPS = "fadd|fsub|fmul|fdiv|frem"
_INT_BINARY = re.compile(rf"^<%ID> = ({_INT_OPS})((?: nuw| nsw| exact)*) (i\d+) ")
_FP_BINARY = re.compile(rf"^<%ID> = ({_FP_OPS})((?: fast| nnan| ninf| nsz| arcp| contract| afn| reassoc)*) "
                        r"(float|double) ")
_CONVERSION = re.compile(r"^<%ID> = (\w+) (.+?) (<%ID>|<INT>|<FLOAT>|\S+) to (.+)$")
_INT_TO_FP = {"add": "fadd", "sub": "fsub", "mul": "fmul", "sdiv": "fdiv", "srem": "frem"}
_INVERSE_INT = {"add": "sub", "sub": "add", "mul": "sdiv", "sdiv": "mul"}
_INVERSE_FP = {"fadd": "fsub", "fsub": "fadd", "fmul": "fdiv", "fdiv": "fmul"}
_INVERSE_CONVERSION = {
    "Bitcast x to y - y to x (inverse)": {"bitcast": "bitcast"},
    "Trunc - s/zext (inverse)": {"trunc": ("sext", "zext"), "sext": ("trunc",), "zext": ("trunc",)},
    "Fptou/si - s/uitofp (inverse)": {"fptosi": ("sitofp",), "fptoui": ("uitofp",), "sitofp": ("fptosi",),
                                      "uitofp": ("fptoui",)},
    "Inttoptr - ptrtoint (inverse)": {"inttoptr": ("ptrtoint",), "ptrtoint": ("inttoptr",)},
}


def _opcode(statement: str) -> str:
    m = re.match(r"(?:<%ID> = )?(?:(?:tail|musttail|notail) )?([a-z_]+)", statement)
    return m.group(1) if m else ""


Transform = Callable[[str], list[tuple[str, str]]]  # statement -> [(relation, transformed statement)]


def _retype_int(statement: str) -> list[tuple[str, str]]:
    m = _INT_BINARY.match(statement)
    if not m:
        return []
    width = m.group(3)
    return [(f"{width} -> {other}", re.sub(rf"\b{width}\b", other, statement))
            for other in ("i8", "i16", "i32", "i64") if other != width]


def _retype_fp(statement: str) -> list[tuple[str, str]]:
    m = _FP_BINARY.match(statement)
    if not m:
        return []
    other = "double" if m.group(3) == "float" else "float"
    return [(f"{m.group(3)} -> {other}", re.sub(rf"\b{m.group(3)}\b", other, statement))]


def _int_to_fp(statement: str) -> list[tuple[str, str]]:
    m = _INT_BINARY.match(statement)
    if not m or m.group(1) not in _INT_TO_FP or m.group(3) not in ("i32", "i64"):
        return []
    fp_type = "float" if m.group(3) == "i32" else "double"
    rest = statement[m.end():].replace("<INT>", "<FLOAT>")
    return [(f"{m.group(3)} -> {fp_type}", f"<%ID> = {_INT_TO_FP[m.group(1)]} {fp_type} {rest}")]


def _fast_math(statement: str) -> list[tuple[str, str]]:
    m = re.match(rf"^(<%ID> = (?:{_FP_OPS}|fcmp)) (?!fast )", statement)
    return [("fast", statement[:m.end(1)] + " fast" + statement[m.end(1):])] if m else []


def _inverse_arithmetic(table: dict[str, str]) -> Transform:
    def transform(statement: str) -> list[tuple[str, str]]:
        opcode = _opcode(statement)
        if opcode not in table:
            return []
        return [(f"{opcode} -> {table[opcode]}", statement.replace(f"= {opcode} ", f"= {table[opcode]} ", 1))]
    return transform


def _inverse_conversion(table: dict) -> Transform:
    def transform(statement: str) -> list[tuple[str, str]]:
        m = _CONVERSION.match(statement)
        if not m or m.group(1) not in table:
            return []
        inverses = table[m.group(1)]
        inverses = (inverses,) if isinstance(inverses, str) else inverses
        return [(f"{m.group(1)} -> {inverse}", f"<%ID> = {inverse} {m.group(4)} {m.group(3)} to {m.group(2)}")
                for inverse in inverses]
    return transform


def _next_index(statement: str) -> list[tuple[str, str]]:
    m = re.match(r"^<%ID> = (extractelement|insertelement|extractvalue|insertvalue) .*?(\d+)$", statement)
    return [("index + 1", statement[:m.start(2)] + str(int(m.group(2)) + 1))] if m else []


#: Category name -> (transformation, whether a and c must be different instructions; not where the
#: relation itself names the instruction, as in ``add -> sub``).
CATEGORIES: dict[str, tuple[Transform, bool]] = {
    "Integer binary operations (type)": (_retype_int, True),
    "Floating point binary operations (type)": (_retype_fp, True),
    "Floating point / Integer binary operations (type)": (_int_to_fp, True),
    "Floating point ops (fast-math)": (_fast_math, True),
    "Insert/extract element and value (index)": (_next_index, True),
    "Arithmetic integer binary ops (inverse)": (_inverse_arithmetic(_INVERSE_INT), False),
    "Arithmetic flpt binary ops (inverse)": (_inverse_arithmetic(_INVERSE_FP), False),
    **{name: (_inverse_conversion(table), False) for name, table in _INVERSE_CONVERSION.items()},
}


def generate_analogies(statements: Iterable[str], max_per_category: int = 1000, seed: int = 0) -> list[Analogy]:
    """Analogy questions whose four statements are all in ``statements`` (see the module docstring)."""
    known = set(statements)
    rng = np.random.default_rng(seed)
    questions = []
    for category, (transform, different_instructions) in CATEGORIES.items():
        by_relation: dict[str, set] = {}
        for a in known:
            for relation, b in transform(a):
                if b in known and b != a:
                    by_relation.setdefault(relation, set()).add((a, b))
        candidates = []
        for relation in sorted(by_relation):
            pairs = sorted(by_relation[relation])
            candidates += [(p, q) for p in pairs for q in pairs
                           if p[0] != q[0] and p[1] != q[1]
                           and (not different_instructions or _opcode(p[0]) != _opcode(q[0]))]
        if len(candidates) > max_per_category:
            chosen = rng.choice(len(candidates), max_per_category, replace=False)
            candidates = [candidates[k] for k in sorted(chosen)]
        questions += [Analogy(category, a, b, c, d) for (a, b), (c, d) in candidates]
    return questions


def write_analogies(questions: list[Analogy], path: str | os.PathLike) -> None:
    """Save questions as TSV (``category, A, B, C, D``; newlines escaped), readable by ``read_analogies``."""
    from inst2vec.io import atomic_write

    with atomic_write(path) as f:
        f.write("# category\tA\tB\tC\tD (inst2vec statements, \\n escaped)\n")
        for q in questions:
            f.write("\t".join([q.category] + [s.replace("\n", "\\n") for s in (q.a, q.b, q.c, q.d)]) + "\n")
