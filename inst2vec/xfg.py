"""Contextual flow graphs (XFG, Ben-Nun et al. 2018, section 3): identifiers as nodes, statements as edges.

``build_xfg(module)`` returns a ``networkx.MultiDiGraph`` whose nodes are the module's
identifiers (globals, locals, block labels, and sinks) and whose edges are its statements,
with ``flow`` = ``"data"`` (def-use, store value -> pointer, phi incoming values, actual ->
formal argument, callee return -> call result), ``"ctrl"`` (branch/switch/invoke to target
blocks) or ``"path"`` (structure: root -> globals and functions, block -> first use, ...).
Two statements that touch a common node are in each other's context (see ``inst2vec.pairs``).

The graph is built from the text of each statement, so typed-pointer (clang <= 14) and
opaque-pointer (clang >= 15) IR, ``dso_local`` and other modern keywords all work.
"""
from __future__ import annotations

import json
import os
import re
from collections import Counter
from typing import Iterable

import networkx as nx

from inst2vec.ir import Function, IRModule
from inst2vec.statements import normalize_units

ROOT = "@0"
_LOCAL = re.compile(r'%(?:"[^"]*"|[-\w.$]+)')
_GLOBAL = re.compile(r'@(?:"[^"]*"|[-\w.$\\]+)')
_DEFINITION = re.compile(r'(%(?:"[^"]*"|[-\w.$]+)) = ')
_OPCODE = re.compile(r'(?:%(?:"[^"]*"|[-\w.$]+) = )?(?:(?:tail|musttail|notail) )?([a-z_][a-z_0-9]*)')
_LABEL_OPERAND = re.compile(r'label (%(?:"[^"]*"|[-\w.$]+))')
_PHI_INCOMING = re.compile(r"\[\s*([^\[\]]*?),\s*%(?:\"[^\"]*\"|[-\w.$]+)\s*\]")
_CALLEE = re.compile(r'(?:call|invoke)\b[^@%(]*?(?:\([^)]*\)\s*)?(@(?:"[^"]*"|[-\w.$\\]+))\s*\(')
_BRANCHES = frozenset({"br", "switch", "indirectbr"})
FLOWS = ("data", "ctrl", "path")


def build_xfg(module: IRModule, tokens: list[str] | None = None) -> nx.MultiDiGraph:
    """Build the contextual flow graph of one module.

    Args:
        module: the module, from :func:`inst2vec.ir.read_module`.
        tokens: its normalised statements, one per unit (computed when omitted).

    Returns:
        A ``MultiDiGraph``; node attribute ``kind`` in {root, global, local, label, sink};
        edge attributes ``stmt`` (the inst2vec statement), ``flow``, ``index`` (statement
        instance: the unit's position in the module) and ``line``. Every statement of the
        module is on at least one edge, and the graph is weakly connected through the root.
    """
    if tokens is None:
        tokens = normalize_units(module.units, module.struct_types)
    builder = _XfgBuilder(module, tokens)
    return builder.build()


class _XfgBuilder:
    def __init__(self, module: IRModule, tokens: list[str]):
        self.module = module
        self.tokens = tokens
        self.graph = nx.MultiDiGraph()
        self.types = set(module.struct_types) | {line.split(" = ", 1)[0] for line in module.struct_lines}
        self.functions = {f.name: f for f in module.functions}
        self.formals = {f.name: self._formal_arguments(f) for f in module.functions}
        self.returned = {f.name: self._returned_values(f) for f in module.functions}
        self.graph.add_node(ROOT, kind="root")

    def build(self) -> nx.MultiDiGraph:
        in_function = set()
        for function in self.module.functions:
            in_function.add(function.define)
            in_function.update(i for block in function.blocks for i in block.units)
            self._add_function(function)
        for i, unit in enumerate(self.module.units):
            if i not in in_function and unit.startswith("@"):
                self._add_global(i, unit)
        return self.graph

    # -- nodes ---------------------------------------------------------------------------------
    def _node(self, name: str, kind: str) -> str:
        if name not in self.graph:
            self.graph.add_node(name, kind=kind)
        return name

    def _global(self, name: str) -> str:
        if name not in self.graph:
            self.graph.add_node(name, kind="global")
            self._edge(ROOT, name, None, "path")
        return name

    def _edge(self, source: str, target: str, index: int | None, flow: str) -> None:
        if index is None:  # structural edge with no statement of its own
            self.graph.add_edge(source, target, stmt="", flow=flow, index=-1, line=0)
            return
        self.graph.add_edge(source, target, stmt=self.tokens[index], flow=flow, index=index,
                            line=self.module.lines[index])

    # -- module level --------------------------------------------------------------------------
    def _add_global(self, i: int, unit: str) -> None:
        names = _GLOBAL.findall(unit)
        if not names:
            return
        defined = names[0]
        if defined in self.graph:
            self.graph.nodes[defined]["kind"] = "global"
        else:
            self.graph.add_node(defined, kind="global")
        self._edge(ROOT, defined, i, "path")
        for used in names[1:]:
            if used not in self.functions:
                self._edge(self._global(used), defined, i, "data")

    def _formal_arguments(self, function: Function) -> list[str]:
        header = self.module.units[function.define]
        open_at = header.find("(", header.find(function.name[1:]))
        arguments = _split_top_level(header[open_at + 1:header.rfind(")")]) if open_at != -1 else []
        names = []
        for position, argument in enumerate(arguments):
            local = _LOCAL.findall(argument)
            local = [x for x in local if x not in self.types]
            names.append(f"{function.name}:{local[-1] if local else '%' + str(position)}")
        return names

    def _returned_values(self, function: Function) -> list[str]:
        values = []
        for block in function.blocks:
            for i in block.units:
                unit = self.module.units[i]
                if unit.startswith("ret "):
                    values += [f"{function.name}:{x}" for x in self._locals(unit)]
                    values += [g for g in _GLOBAL.findall(unit) if g not in self.functions]
        return values

    def _locals(self, text: str) -> list[str]:
        return [x for x in _LOCAL.findall(text) if x not in self.types]

    def _add_function(self, function: Function) -> None:
        prefix = function.name + ":"
        self.graph.add_node(function.name, kind="global")
        self._edge(ROOT, function.name, function.define, "path")
        entry = self._node(prefix + function.blocks[0].label, "label")
        self._edge(function.name, entry, function.define, "path")
        for formal in self.formals[function.name]:
            self._edge(entry, self._node(formal, "local"), function.define, "path")
        for block in function.blocks:
            self._add_block(function, block.label, block.units)

    def _add_block(self, function: Function, label: str, units: Iterable[int]) -> None:
        prefix = function.name + ":"
        block = self._node(prefix + label, "label")
        defined_here: set[str] = set()
        for i in units:
            unit = self.module.units[i]
            m = _OPCODE.match(unit)
            opcode = m.group(1) if m else ""
            d = _DEFINITION.match(unit)
            result = self._node(prefix + d.group(1), "local") if d else None
            rest = unit[d.end():] if d else unit
            targets = [prefix + x for x in _LABEL_OPERAND.findall(rest)]
            operand_text = _LABEL_OPERAND.sub("", rest)
            if opcode == "phi" and result:
                self._edge(block, result, i, "path")
                for incoming in _PHI_INCOMING.findall(operand_text):
                    for x in self._locals(incoming):
                        self._edge(self._node(prefix + x, "local"), result, i, "data")
                    for g in _GLOBAL.findall(incoming):
                        self._edge(self._global(g), result, i, "data")
            elif opcode in ("call", "invoke"):
                self._add_call(function, block, i, rest, result, targets, defined_here)
            elif opcode in _BRANCHES:
                sources = [prefix + x for x in self._locals(operand_text)] or [block]
                for source in sources:
                    self._node(source, "local" if source != block else "label")
                    for target in targets:
                        self._edge(source, self._node(target, "label"), i, "ctrl")
                if not targets:  # indirectbr with no destinations, malformed but harmless
                    self._edge(block, self._sink(prefix, i), i, "ctrl")
            elif opcode == "store":
                values = [prefix + x for x in self._locals(operand_text)] + \
                         [g for g in _GLOBAL.findall(operand_text)]
                pointer = values[-1] if values else None
                if pointer is None:
                    self._edge(block, self._sink(prefix, i), i, "data")
                    continue
                pointer_node = self._node(pointer, "local") if pointer.startswith(prefix) else self._global(pointer)
                if len(values) >= 2:
                    value = values[0]
                    value_node = self._node(value, "local") if value.startswith(prefix) else self._global(value)
                    self._edge(value_node, pointer_node, i, "data")
                else:
                    self._edge(block, pointer_node, i, "data")
            elif opcode == "ret":
                sink = self._node(prefix + "#ret", "sink")
                sources = [self._node(prefix + x, "local") for x in self._locals(operand_text)]
                sources += [self._global(g) for g in _GLOBAL.findall(operand_text) if g not in self.functions]
                for source in sources or [block]:
                    self._edge(source, sink, i, "path")
            elif result:
                sources = [self._node(prefix + x, "local") for x in self._locals(operand_text)]
                sources += [self._global(g) for g in _GLOBAL.findall(operand_text)]
                for source in sources:
                    self._edge(source, result, i, "data")
                if not any(s in defined_here for s in sources):
                    self._edge(block, result, i, "path")
            else:  # unreachable, fence, resume, and other statements without a result
                sources = [self._node(prefix + x, "local") for x in self._locals(operand_text)]
                sink = self._sink(prefix, i)
                for source in sources or [block]:
                    self._edge(source, sink, i, "path")
            if result:
                defined_here.add(result)

    def _add_call(self, function: Function, block: str, i: int, rest: str, result: str | None,
                  targets: list[str], defined_here: set[str]) -> None:
        prefix = function.name + ":"
        m = _CALLEE.search(rest)
        callee = m.group(1) if m else None
        arguments_at = rest.find("(", m.end() - 1) if m else rest.rfind("(")
        arguments = _split_top_level(rest[arguments_at + 1:_matching_paren(rest, arguments_at)]) \
            if arguments_at != -1 else []
        actuals = []
        for argument in arguments:
            ids = [prefix + x for x in self._locals(argument)] + _GLOBAL.findall(argument)
            actuals.append(ids)
        sources = [x for ids in actuals for x in ids]
        for source in sources:
            if source.startswith(prefix):
                self._node(source, "local")
            else:
                self._global(source)
        if callee is not None and callee in self.functions:  # a call inside the module: link the bodies
            formals = self.formals[callee]
            for position, ids in enumerate(actuals):
                for source in ids:
                    if position < len(formals):
                        self._edge(source, self._node(formals[position], "local"), i, "data")
            if result:
                returned = self.returned[callee]
                for value in returned or [callee + ":#ret"]:
                    self._edge(self._node(value, "local" if ":%" in value else "sink"), result, i, "data")
            if not sources and not result:
                entry = callee + ":" + self.functions[callee].blocks[0].label
                self._edge(block, self._node(entry, "label"), i, "ctrl")
        elif result:
            for source in sources:
                self._edge(source, result, i, "data")
            if callee is not None:
                self._edge(self._global(callee), result, i, "data")
            if not any(s in defined_here for s in sources):
                self._edge(block, result, i, "path")
        else:
            sink = self._sink(prefix, i)
            for source in sources or [block]:
                self._edge(source, sink, i, "path")
            if callee is not None:
                self._edge(self._global(callee), sink, i, "path")
        for target in targets:  # invoke: normal and unwind destinations
            self._edge(result or block, self._node(target, "label"), i, "ctrl")

    def _sink(self, prefix: str, i: int) -> str:
        return self._node(f"{prefix}#{i}", "sink")


def _matching_paren(text: str, open_at: int) -> int:
    depth = 0
    for j in range(open_at, len(text)):
        c = text[j]
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return j
    return len(text)


def _split_top_level(text: str) -> list[str]:
    """Split an argument list at commas that are not nested in brackets."""
    parts, depth, start = [], 0, 0
    for j, c in enumerate(text):
        if c in "([{<":
            depth += 1
        elif c in ")]}>":
            depth -= 1
        elif c == "," and depth == 0:
            parts.append(text[start:j])
            start = j + 1
    if text[start:].strip():
        parts.append(text[start:])
    return [p.strip() for p in parts]


def xfg_summary(graph: nx.MultiDiGraph) -> dict:
    """Counts of nodes by kind and edges by flow, and the number of statements on edges."""
    kinds = Counter(kind for _, kind in graph.nodes(data="kind"))
    flows = Counter(flow for _, _, flow in graph.edges(data="flow"))
    statements = {index for _, _, index in graph.edges(data="index") if index >= 0}
    return {
        "nodes": graph.number_of_nodes(),
        "edges": graph.number_of_edges(),
        "nodes_by_kind": dict(sorted(kinds.items())),
        "edges_by_flow": {flow: flows.get(flow, 0) for flow in FLOWS},
        "statements": len(statements),
        "weakly_connected": graph.number_of_nodes() == 0 or nx.is_weakly_connected(graph),
    }


def write_xfg(graph: nx.MultiDiGraph, path: str | os.PathLike) -> None:
    """Save an XFG as GraphML (``.graphml``) or node-link JSON (``.json``), atomically."""
    from inst2vec.io import atomic_write

    suffix = os.fspath(path).rsplit(".", 1)[-1].lower()
    if suffix == "graphml":
        with atomic_write(path, "wb") as f:
            nx.write_graphml(graph, f)
    elif suffix == "json":
        data = nx.node_link_data(graph, edges="edges")
        with atomic_write(path, "w") as f:
            json.dump(data, f)
    else:
        raise ValueError(f"XFG output must end in .graphml or .json. Received: path={os.fspath(path)!r}")


def read_xfg(path: str | os.PathLike) -> nx.MultiDiGraph:
    """Load an XFG saved by :func:`write_xfg`."""
    if os.fspath(path).lower().endswith(".graphml"):
        return nx.read_graphml(path, force_multigraph=True)
    with open(path) as f:
        return nx.node_link_graph(json.load(f), directed=True, multigraph=True, edges="edges")
