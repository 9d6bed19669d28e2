"""Contextual flow graphs (XFG, Ben-Nun et al. 2018, section 3): identifiers as nodes, statements as edges.

``build_xfg(module)`` returns a ``networkx.MultiDiGraph`` whose nodes are the module's
identifiers (globals, locals, block labels, and sinks) and whose edges are its statements,
with ``flow`` = ``"data"`` (def-use, store value -> pointer, phi incoming values, actual ->
formal argument, callee return -> call result), ``"ctrl"`` (branch/switch/invoke and the other
terminators to their target blocks) or ``"path"`` (structure: root -> globals and functions,
block -> first use, ...).
Two statements that touch a common node are in each other's context (see ``inst2vec.pairs``).

The graph is built from the text of each statement, so typed-pointer (clang <= 14) and
opaque-pointer (clang >= 15) IR, ``dso_local`` and other modern keywords all work.
"""
from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import re
import zlib
from collections import Counter
from typing import Callable, Iterable

import networkx as nx

from inst2vec.errors import Inst2vecError
from inst2vec.io import GZIP_MAGIC, atomic_write, first_non_blank
from inst2vec.ir import Function, IRModule, read_module
from inst2vec.statements import normalize_units
from inst2vec.streaming_json import load_object

ROOT = "@0"
_LOCAL = re.compile(r'%(?:"[^"]*"|[-\w.$]+)')
_GLOBAL = re.compile(r'@(?:"[^"]*"|[-\w.$\\]+)')
_HEAD = re.compile(r'(?:(%(?:"[^"]*"|[-\w.$]+)) = )?(?:(?:tail|musttail|notail) )?([a-z_][a-z_0-9]*)?')
_LABEL_OPERAND = re.compile(r'label (%(?:"[^"]*"|[-\w.$]+))')
_PHI_INCOMING = re.compile(r"\[\s*([^\[\]]*?),\s*%(?:\"[^\"]*\"|[-\w.$]+)\s*\]")
_CALLEE = re.compile(r'(?:call|invoke|callbr)\b[^@%(]*?(?:\([^)]*\)\s*)?(@(?:"[^"]*"|[-\w.$\\]+))\s*\(')
_BRANCHES = frozenset({"br", "switch", "indirectbr"})
_CALLS = frozenset({"call", "invoke", "callbr"})  # callbr: asm goto, with normal and indirect target blocks
_BLOCKADDRESS = re.compile(rf"blockaddress\(({_GLOBAL.pattern}), ({_LOCAL.pattern})\)")
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


def xfg_edges(module: IRModule, tokens: list[str] | None = None) -> tuple[list[tuple[str, str, int, str]], list[str]]:
    """The edges of :func:`build_xfg`'s graph without the graph, for code that only walks them (context pairs):
    ``(source, target, index, flow)`` in the order they were made (``index`` -1: a structural edge, no statement),
    and the module's statements, one per unit (``tokens``, computed when omitted)."""
    if tokens is None:
        tokens = normalize_units(module.units, module.struct_types)
    builder = _XfgBuilder(module, tokens)
    builder.collect()
    return builder.edges, tokens


class _XfgBuilder:
    def __init__(self, module: IRModule, tokens: list[str]):
        self.module = module
        self.tokens = tokens
        self.kinds: dict[str, str] = {ROOT: "root"}  # node -> kind, in order of appearance
        self.edges: list[tuple[str, str, int, str]] = []  # (source, target, statement index, flow)
        self.types = set(module.struct_types) | {line.split(" = ", 1)[0] for line in module.struct_lines}
        self.functions = {f.name: f for f in module.functions}
        self.formals = {f.name: self._formal_arguments(f) for f in module.functions}
        self.returned = {f.name: self._returned_values(f) for f in module.functions}

    def build(self) -> nx.MultiDiGraph:
        self.collect()
        return _to_multidigraph(self.kinds, self.edges, self.tokens, self.module.lines)

    def collect(self) -> None:
        """Fill ``kinds`` and ``edges``."""
        in_function = set()
        for function in self.module.functions:
            in_function.add(function.define)
            in_function.update(i for block in function.blocks for i in block.units)
        for i, unit in enumerate(self.module.units):
            if i not in in_function and unit.startswith("@"):
                self._add_global(i, unit)
        for function in self.module.functions:
            self._add_function(function)

    # -- nodes ---------------------------------------------------------------------------------
    def _node(self, name: str, kind: str) -> str:
        self.kinds.setdefault(name, kind)
        return name

    def _global(self, name: str) -> str:
        if name not in self.kinds:
            self.kinds[name] = "global"
            self.edges.append((ROOT, name, -1, "path"))  # structural edge, no statement of its own
        return name

    def _edge(self, source: str, target: str, index: int, flow: str) -> None:
        self.edges.append((source, target, index, flow))

    # -- module level --------------------------------------------------------------------------
    def _add_global(self, i: int, unit: str) -> None:
        names = _GLOBAL.findall(unit)
        if not names:
            return
        defined = names[0]
        self.kinds[defined] = "global"
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
            local = self._locals(argument)
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

    def _operands(self, prefix: str, text: str, functions: bool = True) -> list[str]:
        """Nodes of the locals (``prefix`` + name) and globals in ``text``, registered as nodes."""
        out = []
        if "blockaddress(" in text:  # a block's address: the label node, in the function named
            out += [self._node(f"{f}:{label}", "label") for f, label in _BLOCKADDRESS.findall(text)]
            text = _BLOCKADDRESS.sub("", text)
        if "%" in text:
            kinds, types = self.kinds, self.types
            for local in _LOCAL.findall(text):
                if local not in types:
                    name = prefix + local
                    if name not in kinds:
                        kinds[name] = "local"
                    out.append(name)
        if "@" in text:
            out += [self._global(g) for g in _GLOBAL.findall(text) if functions or g not in self.functions]
        return out

    def _locals(self, text: str) -> list[str]:
        if "%" not in text:
            return []
        found = _LOCAL.findall(text)
        return [x for x in found if x not in self.types] if self.types else found

    def _add_function(self, function: Function) -> None:
        prefix = function.name + ":"
        self.kinds[function.name] = "global"
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
        add = self.edges.append
        edge = lambda source, target, index, flow: add((source, target, index, flow))  # noqa: E731
        for i in units:
            unit = self.module.units[i]
            m = _HEAD.match(unit)
            opcode = m.group(2) or ""
            result = self._node(prefix + m.group(1), "local") if m.group(1) else None
            rest = unit[m.end(1) + 3:] if m.group(1) else unit
            if "label " in rest:
                targets = [prefix + x for x in _LABEL_OPERAND.findall(rest)]
                operand_text = _LABEL_OPERAND.sub("", rest)
            else:
                targets, operand_text = [], rest
            if opcode == "phi" and result:
                edge(block, result, i, "path")
                for incoming in _PHI_INCOMING.findall(operand_text):
                    for source in self._operands(prefix, incoming):
                        edge(source, result, i, "data")
            elif opcode in _CALLS:
                self._add_call(function, block, i, operand_text, result, targets, defined_here)
            elif opcode in _BRANCHES or (targets and not result):  # and catchret, cleanupret
                sources = self._operands(prefix, operand_text) or [block]
                for source in sources:
                    for target in targets:
                        edge(source, self._node(target, "label"), i, "ctrl")
                if not targets:  # indirectbr with no destinations, malformed but harmless
                    edge(block, self._sink(prefix, i), i, "ctrl")
            elif opcode == "store":
                values = self._operands(prefix, operand_text)
                if not values:
                    edge(block, self._sink(prefix, i), i, "data")
                elif len(values) >= 2:
                    edge(values[0], values[-1], i, "data")  # value -> pointer
                else:
                    edge(block, values[-1], i, "data")  # an immediate stored to the pointer
            elif opcode == "ret":
                sink = self._node(prefix + "#ret", "sink")
                for source in self._operands(prefix, operand_text, functions=False) or [block]:
                    edge(source, sink, i, "path")
            elif result:
                sources = self._operands(prefix, operand_text)
                for source in sources:
                    edge(source, result, i, "data")
                if not any(s in defined_here for s in sources):
                    edge(block, result, i, "path")
                for target in targets:  # catchswitch: its handlers and unwind block
                    edge(result, self._node(target, "label"), i, "ctrl")
            else:  # unreachable, fence, resume, and other statements without a result
                sink = self._sink(prefix, i)
                for source in self._operands(prefix, operand_text, functions=False) or [block]:
                    edge(source, sink, i, "path")
            if result:
                defined_here.add(result)

    def _add_call(self, function: Function, block: str, i: int, rest: str, result: str | None,
                  targets: list[str], defined_here: set[str]) -> None:
        """Edges of a call, invoke or callbr; ``rest`` is its text without the result and the target labels."""
        prefix = function.name + ":"
        m = _CALLEE.search(rest)
        callee = m.group(1) if m else None
        arguments_at = rest.find("(", m.end() - 1) if m else rest.rfind("(")
        arguments = rest[arguments_at + 1:] if arguments_at != -1 else ""
        if callee is not None and callee in self.functions:  # positions matter: actual -> formal
            arguments = arguments[:_matching_paren(rest, arguments_at) - arguments_at - 1]
            actuals = [self._operands(prefix, argument) for argument in _split_top_level(arguments)]
        else:  # only the values matter (for an indirect call, the function pointer too)
            actuals = [self._operands(prefix, arguments if callee is not None else rest)]
        sources = [x for ids in actuals for x in ids]
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


def _to_multidigraph(kinds: dict[str, str], edges: list[tuple[str, str, int, str]], tokens: list[str],
                     lines: tuple[int, ...]) -> nx.MultiDiGraph:
    """The graph, filled the way ``MultiDiGraph.add_edge`` fills it, minus its per-call overhead.

    ``add_edges_from`` spends about 8 us per edge here (measured, devmap), three times the cost of
    building the whole XFG; this writes the same adjacency dicts directly: node -> attributes,
    ``succ[u][v]`` and ``pred[v][u]`` sharing one key dict, keys 0, 1, ... in insertion order.
    ``tests/inst2vec/test_xfg.py`` checks that the result equals ``add_edges_from``'s.
    """
    graph = nx.MultiDiGraph()
    node, succ, pred = graph._node, graph._succ, graph._pred
    for name, kind in kinds.items():
        node[name] = {"kind": kind}
        succ[name] = {}
        pred[name] = {}
    for u, v, i, flow in edges:
        keys = succ[u].get(v)
        if keys is None:
            keys = succ[u][v] = pred[v][u] = {}
        keys[len(keys)] = ({"stmt": tokens[i], "flow": flow, "index": i, "line": lines[i]} if i >= 0 else
                           {"stmt": "", "flow": flow, "index": -1, "line": 0})
    nx._clear_cache(graph)
    return graph


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


#: The names of a saved XFG: the ending gives the format; ``.gz`` after it, gzip-compressed (a C++ file's statements
#: inline their struct types: CLAMR's PowerParser.cc has a 4.9 GB graph as JSON, 53 MB compressed).
XFG_SUFFIXES = (".graphml", ".json", ".graphml.gz", ".json.gz")


def write_xfg(graph: nx.MultiDiGraph, path: str | os.PathLike) -> None:
    """Save an XFG as GraphML (``.graphml``) or node-link JSON (``.json``), gzip-compressed when the name ends in
    ``.gz`` after either, atomically."""
    name = os.fspath(path).lower()
    if not name.endswith(XFG_SUFFIXES):
        raise ValueError(f"XFG output must end in .graphml or .json (or either with .gz). "
                         f"Received: path={os.fspath(path)!r}")
    if name.endswith((".graphml", ".graphml.gz")):
        with atomic_write(path, "wb", compress=name.endswith(".gz")) as f:
            nx.write_graphml(_xml_safe(graph), f)
    else:
        with atomic_write(path, "w", compress=name.endswith(".gz")) as f:
            json.dump(nx.node_link_data(graph, edges="edges"), f)


#: Characters XML 1.0 cannot hold (GraphML is XML). A quoted LLVM name may hold them raw; LLVM prints them \XX.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_safe(graph: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """``graph`` itself, or where a node name or string attribute holds a character XML cannot, a copy that spells
    such characters as LLVM does (``\01``)."""
    def fix(value):
        return _NOT_XML.sub(lambda m: f"\\{ord(m.group()):02X}", value) if isinstance(value, str) else value

    def bad(value) -> bool:
        return isinstance(value, str) and _NOT_XML.search(value) is not None

    if not any(bad(node) or any(map(bad, data.values())) for node, data in graph.nodes(data=True)) and \
            not any(any(map(bad, data.values())) for *_, data in graph.edges(keys=True, data=True)):
        return graph
    safe = nx.MultiDiGraph(**graph.graph)
    safe.add_nodes_from((fix(node), {k: fix(v) for k, v in data.items()}) for node, data in graph.nodes(data=True))
    safe.add_edges_from((fix(u), fix(v), key, {k: fix(x) for k, x in data.items()})
                        for u, v, key, data in graph.edges(keys=True, data=True))
    return safe


def save_file_xfg(ir_path: str | os.PathLike, graph_path: str | os.PathLike, verify: bool = False) -> dict:
    """Build the XFG of one ``.ll`` / ``.bc`` file, write it to ``graph_path`` (see :func:`write_xfg`) and
    return its :func:`xfg_summary`."""
    graph = build_xfg(read_module(ir_path, verify=verify))
    write_xfg(graph, graph_path)
    return xfg_summary(graph)


def read_xfg(path: str | os.PathLike) -> nx.MultiDiGraph:
    """Load an XFG saved by :func:`write_xfg` (GraphML when the name ends in ``.graphml`` or ``.graphml.gz``, else
    node-link JSON; gzip-compressed or not, whatever the name).

    Raises:
        Inst2vecError: the file is not such a graph (damaged, or another kind of file), naming it.
    """
    from xml.etree.ElementTree import ParseError

    try:
        with open(path, "rb") as raw:
            compressed = raw.read(2) == GZIP_MAGIC
            raw.seek(0)
            with (gzip.GzipFile(fileobj=raw, mode="rb") if compressed else contextlib.nullcontext(raw)) as binary:
                if os.fspath(path).lower().endswith((".graphml", ".graphml.gz")):
                    return _checked(_one_string_per_statement_of(nx.read_graphml(binary, force_multigraph=True)))
                text = io.TextIOWrapper(binary, encoding="utf-8")
                first = first_non_blank(text)
                if first and first != "{":  # refused before a large file of something else is read whole
                    raise ValueError(f"a node-link JSON object starts with '{{', this file with {first!r}")
                text.seek(0)  # read in pieces: json.load held the text twice, 9.8 GB for a 4.9 GB graph
                data = load_object(text, _one_string_per_statement())
                return _checked(nx.node_link_graph(data, directed=True, multigraph=True, edges="edges"))
    except (ValueError, TypeError, AttributeError, KeyError, ParseError, nx.NetworkXError, EOFError, zlib.error,
            gzip.BadGzipFile) as err:
        raise Inst2vecError(f"{os.fspath(path)}: not an XFG written by `inst2vec xfg` ({err})") from err


#: The attributes of an XFG edge and their types, as :func:`build_xfg` sets them.
_EDGE_ATTRIBUTES = {"stmt": str, "flow": str, "index": int, "line": int}


def _checked(graph: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """``graph``, if its nodes are named by strings and its edges carry :data:`_EDGE_ATTRIBUTES` (a file changed
    since it was written gave a TypeError or ValueError in :func:`~inst2vec.pairs.context_pairs`); else ValueError
    naming the first edge or node that does not."""
    for node in graph:
        if not isinstance(node, str):
            raise ValueError(f"the node {node!r} is not named by a string")
    for u, v, data in graph.edges(data=True):
        for name, kind in _EDGE_ATTRIBUTES.items():
            value = data.get(name)
            if not isinstance(value, kind) or isinstance(value, bool) or name == "flow" and value not in FLOWS:
                raise ValueError(f"the edge {u!r} -> {v!r} has {name} {value!r}")
    return graph


def _one_string_per_statement_of(graph: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """``graph`` with the edges of one statement sharing one string, as :func:`build_xfg` makes them (GraphML's
    reader gives every edge a copy: a C++ graph of 74,473 edges held 119 MB after reading, 101 MB shared)."""
    share = _one_string_per_statement()
    for _, _, data in graph.edges(data=True):
        share(data)
    return graph


def _one_string_per_statement() -> Callable[[dict], dict]:
    """A ``json.load`` object hook giving the edges of one statement one string, as :func:`build_xfg` does: each
    edge spells its statement, and C++ statements inline their struct types (the graph of CLAMR's PowerParser.cc
    read from JSON held 4.95 GB after loading, now 0.37 GB)."""
    shared: dict[str, str] = {}

    def share(obj: dict) -> dict:
        if isinstance(obj.get("stmt"), str):
            obj["stmt"] = shared.setdefault(obj["stmt"], obj["stmt"])
        return obj
    return share
