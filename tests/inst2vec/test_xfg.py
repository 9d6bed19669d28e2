"""XFG construction: each flow rule on a tiny module, opaque pointers, export round trips, real IR."""
import glob
import re
import subprocess
from collections import Counter

import llvmlite.binding as llvm
import networkx as nx
import pytest

from inst2vec.errors import Inst2vecError
from inst2vec.ir import parse_module, read_module
from inst2vec.statements import file_statements, module_statements
from inst2vec.xfg import ROOT, build_xfg, read_xfg, write_xfg, xfg_summary

IR_FLOWS = """\
@g = global i32 5, align 4

define i32 @callee(i32 %a) #0 {
entry:
  %r = add i32 %a, 1
  ret i32 %r
}

define dso_local i32 @caller(i32* %p, i1 %c) #0 {
entry:
  store i32 7, i32* %p, align 4
  %v = load i32, i32* %p, align 4
  br i1 %c, label %then, label %join

then:
  %w = call i32 @callee(i32 %v)
  store i32 %w, i32* %p, align 4
  br label %join

join:
  %x = phi i32 [ %v, %entry ], [ %w, %then ]
  %y = load i32, i32* @g, align 4
  call void @ext(i32 %x)
  switch i32 %y, label %join [
    i32 0, label %then
  ]
}

declare void @ext(i32)
"""


def _edges(graph):
    return {(u, v, d["flow"]) for u, v, d in graph.edges(data=True)}


def test_flow_rules():
    graph = build_xfg(parse_module(IR_FLOWS))
    edges = _edges(graph)
    expected = {
        (ROOT, "@g", "path"),                             # global definition
        (ROOT, "@caller", "path"), ("@caller", "@caller:%entry", "path"),
        ("@caller:%entry", "@caller:%p", "path"),         # formal arguments hang off the entry block
        ("@caller:%entry", "@caller:%p", "data"),         # store of an immediate
        ("@caller:%p", "@caller:%v", "data"),             # def-use
        ("@caller:%c", "@caller:%then", "ctrl"), ("@caller:%c", "@caller:%join", "ctrl"),  # conditional branch
        ("@caller:%v", "@callee:%a", "data"),             # actual -> formal argument
        ("@callee:%r", "@caller:%w", "data"),             # callee's returned value -> call result
        ("@caller:%w", "@caller:%p", "data"),             # store value -> pointer
        ("@caller:%then", "@caller:%join", "ctrl"),       # unconditional branch
        ("@caller:%v", "@caller:%x", "data"), ("@caller:%w", "@caller:%x", "data"),  # phi incoming values
        ("@caller:%join", "@caller:%x", "path"),
        ("@g", "@caller:%y", "data"),                      # global use
        ("@caller:%y", "@caller:%then", "ctrl"), ("@caller:%y", "@caller:%join", "ctrl"),  # switch
        ("@callee:%r", "@callee:#ret", "path"),            # return
    }
    assert expected <= edges
    external = [(u, v) for u, v, d in graph.edges(data=True) if d["stmt"] == "call void <@ID>(i32 <%ID>)"]
    assert ("@caller:%x", external[0][1]) in external and ("@ext", external[0][1]) in external
    assert graph.nodes["@caller:%then"]["kind"] == "label" and graph.nodes[ROOT]["kind"] == "root"


def test_graph_equals_one_built_with_networkx_calls():
    graph = build_xfg(parse_module(IR_FLOWS))
    reference = nx.MultiDiGraph()
    reference.add_nodes_from(graph.nodes(data=True))
    reference.add_edges_from(graph.edges(data=True))
    assert nx.utils.graphs_equal(graph, reference)
    assert list(graph.edges(keys=True)) == list(reference.edges(keys=True))
    assert graph.number_of_edges("@0", "@g") == 1
    graph.add_edge("@0", "@g", stmt="x")  # still an ordinary, mutable networkx graph
    assert graph.number_of_edges("@0", "@g") == 2


def test_every_statement_is_on_an_edge_and_graph_is_connected():
    module = parse_module(IR_FLOWS)
    graph = build_xfg(module)
    on_edges = Counter(d["stmt"] for _, _, d in graph.edges(data=True) if d["index"] >= 0)
    assert set(on_edges) == set(module_statements(module))
    summary = xfg_summary(graph)
    assert summary["weakly_connected"] and summary["statements"] == len(module_statements(module))
    assert sum(summary["edges_by_flow"].values()) == summary["edges"]


def test_quoted_names_give_the_graph_of_plain_ones(quoted_names_ir):
    """The same nodes, edges, flows and statements, up to the names (the statements on the edges were cut into
    pieces, and the labels of quoted blocks were statements)."""
    quoted, plain = (build_xfg(parse_module(ir)) for ir in quoted_names_ir)
    assert xfg_summary(quoted) == xfg_summary(plain)
    edge = nx.algorithms.isomorphism.categorical_multiedge_match(["stmt", "flow"], [None, None])
    assert nx.is_isomorphic(quoted, plain, node_match=lambda a, b: a["kind"] == b["kind"], edge_match=edge)


def test_trailing_comments_are_no_part_of_a_statement(data_root):
    """A comment after an instruction, a global or a struct type: its names were operands (here 359 data and 56
    control edges instead of 171 and 20), and its text stayed in the statement, out of the vocabulary. A ';' in a
    string or quoted name starts no comment; label lines keep their '; preds = ...'."""
    ir = (data_root / "devmap" / "kernels_ir" / "npb-3.3-FT-cffts1_A.ll").read_text()
    comment = ' ; from %0 and @cffts1.ty1! #1 "a;b" ; again'
    commented = "\n".join(line + comment if line.startswith(("  ", "%struct", "@")) else line
                           for line in ir.split("\n"))
    assert commented.count(comment) > 140
    plain, with_comments = parse_module(ir), parse_module(commented)
    assert module_statements(with_comments) == module_statements(plain)
    edge = nx.algorithms.isomorphism.categorical_multiedge_match(["stmt", "flow"], [None, None])
    assert nx.is_isomorphic(build_xfg(with_comments), build_xfg(plain), edge_match=edge)
    quoted = parse_module('@s = global [4 x i8] c"a;b\\00" ; text\n%"x;y" = type { i32 } ; and more\n')
    assert quoted.units == ('@s = global [4 x i8] c"a;b\\00"',) and quoted.struct_types == {'%"x;y"': "{ i32 }"}


def test_opaque_pointer_ir_from_llvmlite(data_root):
    """llvmlite prints every pointer as `ptr` (as clang >= 15 does): statements and XFG still work."""
    typed = (data_root / "threadcoarsening" / "kernels_ir" / "sgemm.ll").read_text()
    opaque = str(llvm.parse_assembly(typed, context=llvm.create_context()))
    module = parse_module(opaque)
    statements = module_statements(module)
    assert any(" ptr " in s for s in statements) and not any("float*" in s for s in statements)
    graph = build_xfg(module)
    summary = xfg_summary(graph)
    assert summary["weakly_connected"] and summary["statements"] == len(statements)
    assert summary["edges_by_flow"]["data"] > 0 and summary["edges_by_flow"]["ctrl"] > 0


@pytest.mark.parametrize("suffix", ["graphml", "json", "graphml.gz", "json.gz"])
def test_export_round_trip(tmp_path, suffix):
    graph = build_xfg(parse_module(IR_FLOWS))
    path = tmp_path / f"g.{suffix}"
    write_xfg(graph, path)
    loaded = read_xfg(path)
    assert sorted(loaded.nodes) == sorted(graph.nodes)
    key = lambda g: sorted((u, v, d["stmt"], d["flow"], int(d["index"])) for u, v, d in g.edges(data=True))
    assert key(loaded) == key(graph)


@pytest.mark.parametrize("suffix", ["json", "json.gz"])
def test_a_long_json_graph_is_read_in_pieces(tmp_path, monkeypatch, suffix):
    """json.load held the text twice: PowerParser.cc's graph of 4.9 GB took 9.9 GB to read, 0.4 GB in pieces."""
    import json

    import inst2vec.streaming_json

    graph = build_xfg(parse_module(IR_FLOWS))
    write_xfg(graph, tmp_path / f"g.{suffix}")
    monkeypatch.setattr(inst2vec.streaming_json, "WHOLE", 1000)  # texts longer than this are read in pieces
    monkeypatch.setattr(json, "load", lambda *a, **kw: pytest.fail("json.load read the graph whole"))
    loaded = read_xfg(tmp_path / f"g.{suffix}")
    assert list(loaded.nodes(data=True)) == list(graph.nodes(data=True))
    assert list(loaded.edges(keys=True, data=True)) == list(graph.edges(keys=True, data=True))


@pytest.mark.parametrize("name, content", [("g.json", "{not json"), ("g.json", "[1, 2]"), ("g.json", '{"nodes": 5}'),
                                           ("g.json", b"\xff\xfe"), ("g.graphml", "<graphml"), ("g.graphml", "<a></a>")])
def test_a_file_that_is_no_xfg_is_refused_naming_it(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(Inst2vecError, match=rf"{name}: not an XFG written by `inst2vec xfg`"):
        read_xfg(path)


def test_compressed_graphs_are_gzip_of_the_plain_ones_and_read_whatever_their_name(tmp_path):
    import gzip

    graph = build_xfg(parse_module(IR_FLOWS))
    for suffix in ("graphml", "json"):
        write_xfg(graph, tmp_path / f"g.{suffix}")
        write_xfg(graph, tmp_path / f"g.{suffix}.gz")
        compressed = (tmp_path / f"g.{suffix}.gz").read_bytes()
        assert compressed[:2] == b"\x1f\x8b" and gzip.decompress(compressed) == (tmp_path / f"g.{suffix}").read_bytes()
        write_xfg(graph, tmp_path / f"again.{suffix}.gz")  # no time or name in the header: the same bytes
        assert (tmp_path / f"again.{suffix}.gz").read_bytes() == compressed
    (tmp_path / "renamed.json").write_bytes((tmp_path / "g.json.gz").read_bytes())
    assert sorted(read_xfg(tmp_path / "renamed.json").nodes) == sorted(graph.nodes)
    (tmp_path / "cut.json.gz").write_bytes(compressed[:len(compressed) // 2])
    with pytest.raises(Inst2vecError, match=r"cut.json.gz: not an XFG written by `inst2vec xfg` \(Compressed file "):
        read_xfg(tmp_path / "cut.json.gz")


@pytest.mark.parametrize("name", ["g.json", "g.graphml"])
def test_a_graph_read_keeps_one_string_per_statement(tmp_path, name):
    """Each edge spells its statement; read as it was written, the graph of a C++ file whose statements inline
    large struct types held every copy (CLAMR's PowerParser.cc from JSON: 4.95 GB after loading, 0.37 GB now;
    GraphML since 2026-12-07)."""
    write_xfg(build_xfg(parse_module(IR_FLOWS)), tmp_path / name)
    statements = [data["stmt"] for *_, data in read_xfg(tmp_path / name).edges(data=True)]
    assert len(statements) > len(set(statements))  # statements on several edges
    assert len({id(statement) for statement in statements}) == len(set(statements))


@pytest.mark.parametrize("part, field, value, message", [
    ("edges", "index", "x", "has index 'x'"), ("edges", "stmt", {}, "has stmt {}"),
    ("edges", "flow", "sideways", "has flow 'sideways'"), ("edges", "line", True, "has line True"),
    ("nodes", "id", 5, "the node 5 is not named by a string")])
def test_a_graph_changed_since_it_was_written_is_refused_on_reading(tmp_path, part, field, value, message):
    """Found by changing node-link JSON at random: `context_pairs` of such a graph failed with a TypeError or
    ValueError of its own."""
    import json

    write_xfg(build_xfg(parse_module(IR_FLOWS)), tmp_path / "g.json")
    data = json.loads((tmp_path / "g.json").read_text())
    data[part][-1][field] = value
    (tmp_path / "g.json").write_text(json.dumps(data))
    with pytest.raises(Inst2vecError, match=r"g.json: not an XFG written by `inst2vec xfg` \(.*"
                       + re.escape(message)):
        read_xfg(tmp_path / "g.json")


def test_a_large_file_of_something_else_is_refused_before_it_is_read_whole(tmp_path, monkeypatch):
    import json

    def read_whole(_):
        raise AssertionError("json.load read the file")

    path = tmp_path / "g.json"
    path.write_text("\n" * 5000 + "junk " * 100_000)  # blank lines first: the check looks past them
    monkeypatch.setattr(json, "load", read_whole)  # a 400 MB file took 0.8 GB before it was refused
    with pytest.raises(Inst2vecError, match=r"g.json: not an XFG .*starts with '\{', this file with 'j'"):
        read_xfg(path)


def test_graphml_spells_characters_xml_cannot_hold_as_llvm_does(tmp_path):
    """A quoted LLVM name may hold a control character raw; written into GraphML as it was, the file was not XML."""
    ir = 'define void @f() #0 {\n  %"a\x01b" = alloca i32, align 4\n  store i32 1, i32* %"a\x01b", align 4\n' \
         '  ret void\n}\n'
    graph = build_xfg(parse_module(ir))
    write_xfg(graph, tmp_path / "g.graphml")
    assert '@f:%"a\\01b"' in read_xfg(tmp_path / "g.graphml").nodes
    write_xfg(graph, tmp_path / "g.json")  # JSON escapes it itself: the name is kept as it is
    assert '@f:%"a\x01b"' in read_xfg(tmp_path / "g.json").nodes


def test_export_refuses_unknown_suffix(tmp_path):
    with pytest.raises(ValueError, match=r"\.graphml or \.json"):
        write_xfg(build_xfg(parse_module(IR_FLOWS)), tmp_path / "g.txt")
    assert not list(tmp_path.iterdir())


def test_real_kernels(data_root):
    files = sorted(glob.glob(str(data_root / "threadcoarsening" / "kernels_ir" / "*.ll")))
    files += sorted(glob.glob(str(data_root / "devmap" / "kernels_ir" / "*.ll")))[::20]
    for path in files:
        summary = xfg_summary(build_xfg(read_module(path)))
        assert summary["weakly_connected"], path
        assert summary["statements"] == len(file_statements(path)), path


def _clang_ir(tmp_path, name: str, source: str, *flags: str):
    path = tmp_path / name
    path.write_text(source)
    ir = tmp_path / (name + ".ll")
    subprocess.run(["clang-14", "-O1", "-S", "-emit-llvm", *flags, str(path), "-o", str(ir)], check=True)
    return read_module(ir)


def test_windows_exception_funclets_link_their_blocks(tmp_path):
    """catchswitch -> its handlers, catchret -> the block it returns to, cleanupret -> its unwind block (ctrl).
    These edges were missing: the handlers and the block after the catch were reached by no control flow."""
    module = _clang_ir(tmp_path, "eh.cpp", "struct R { ~R(); };\nvoid f();\n"
                       "int g() { try { R r; f(); } catch (int x) { return x; } catch (...) { throw; } return 0; }\n",
                       "--target=x86_64-pc-windows-msvc")
    graph = build_xfg(module)
    opcode = lambda stmt: stmt.removeprefix("<%ID> = ").split(" ", 1)[0]  # noqa: E731
    ctrl = {(opcode(d["stmt"]), u.split(":")[-1], v.split(":")[-1])
            for u, v, d in graph.edges(data=True) if d["flow"] == "ctrl"}
    assert {("catchswitch", "%8", "%9"), ("catchswitch", "%8", "%12"), ("catchret", "%10", "%14"),
            ("cleanupret", "%6", "%7")} <= ctrl
    assert all(kind == "label" for node, kind in graph.nodes(data="kind") if node.split(":")[-1] in {"%7", "%9"})


def test_asm_goto_is_one_statement_whose_targets_are_blocks(tmp_path):
    """callbr (asm goto) is joined to its `to label %a [label %b]` line and links both blocks, like invoke; a
    blockaddress operand is the block's label node, not a value of that name."""
    module = _clang_ir(tmp_path, "goto.c", 'int ag(int x) { asm goto("testl %0, %0; jne %l1" :: "r"(x) :: yes);'
                       " return 0; yes: return 1; }\n")
    statements = module_statements(module)
    callbr = [s for s in statements if s.startswith("callbr")]
    assert len(callbr) == 1 and callbr[0].endswith("\n to label <%ID> [label <%ID>]")
    assert not any(s.startswith("to label") for s in statements)
    graph = build_xfg(module)
    targets = {v for _, v, d in graph.edges(data=True) if d["stmt"] == callbr[0] and d["flow"] == "ctrl"}
    assert len(targets) == 2 and all(graph.nodes[v]["kind"] == "label" for v in targets)
    block_addressed = [u for u, _, d in graph.edges(data=True) if d["stmt"] == callbr[0] and d["flow"] == "path"]
    assert any(u in targets for u in block_addressed)  # blockaddress(@ag, %yes): the block, not a value named so


def test_invoke_through_a_function_pointer_links_blocks_not_values(tmp_path):
    """An indirect invoke's `to label %a unwind label %b` are its target blocks; they were read as its operands
    too (edges from 'values' %a and %b, and the label nodes made locals)."""
    module = _clang_ir(tmp_path, "fp.cpp",
                       "int g(void (*fp)()) { try { fp(); } catch (...) { return 1; } return 0; }\n")
    graph = build_xfg(module)
    invoke = [(u, v, d["flow"]) for u, v, d in graph.edges(data=True) if d["stmt"].startswith("invoke")]
    assert sorted(flow for _, _, flow in invoke) == ["ctrl", "ctrl", "path"]  # fp -> a sink; -> 2 blocks
    assert all(graph.nodes[v]["kind"] == "label" for _, v, flow in invoke if flow == "ctrl")
