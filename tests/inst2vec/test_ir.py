"""Reading IR: bad input gets a clear error naming file and line; huge files are read in pieces."""
import glob
import pathlib

import pytest

import inst2vec.ir as ir
from inst2vec.errors import IRParseError
from inst2vec.ir import parse_module, read_module, verify_module
from inst2vec.statements import StatementCache, file_statements, iter_file_statements, text_statements

IR_OK = """\
define i32 @f(i32 %n) #0 {
entry:
  %cmp = icmp sgt i32 %n, 0
  br i1 %cmp, label %yes, label %no

yes:
  ret i32 1

no:
  ret i32 0
}
"""
IR_TRUNCATED = IR_OK[: IR_OK.index("yes:")]
IR_UNKNOWN_INSTRUCTION = IR_OK.replace("%cmp = icmp sgt i32 %n, 0", "%cmp = frobnicate i32 %n, 0")
IR_NOT_IR = "hello world\nthis is not LLVM IR\n"
IR_NESTED_DEFINE = IR_TRUNCATED + IR_OK
IR_LABELS_ONLY = "Name:\tinst2vec\nState:\tR (running)\n"  # the start of /proc/self/status


def _write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return path


def test_read_module_structure(tmp_path):
    module = read_module(_write(tmp_path, "ok.ll", IR_OK))
    assert module.units[0] == "define i32 @f(i32 %n)"
    assert module.lines[:3] == (1, 2, 3)
    (function,) = module.functions
    assert function.name == "@f"
    assert [b.label for b in function.blocks] == ["%entry", "%yes", "%no"]
    assert [module.units[i] for i in function.blocks[1].units] == ["ret i32 1"]
    # short, as Embeddings' and Vocabulary's are (the dataclass's printed every unit: megabytes for large modules)
    assert repr(module) == f"IRModule<{tmp_path / 'ok.ll'}: 8 units, function definitions: 1, struct types: 0>"


@pytest.mark.parametrize("name, data, line, message", [
    ("empty.ll", b"", None, "empty file"),
    ("blank.ll", b"  \n\n", None, "empty file"),
    ("junk.ll", b"\x7fELF\x02\x01\x01\x00\x00garbage", 1, "binary data"),
    ("junk.bc", b"\x7fELF\x02\x01\x01\x00\x00garbage", 1, "binary data .* and not LLVM bitcode either"),
    ("bitcode.ll", b"BC\xc0\xde\x35\x14\x00\x00", None, "LLVM bitcode"),
    ("latin1.ll", IR_OK.replace("entry:", "entr\xe9e:").encode("latin-1"), 2, "not UTF-8"),
    ("truncated.ll", IR_TRUNCATED, 1, "not closed"),
    ("unknown.ll", IR_UNKNOWN_INSTRUCTION, 3, "unknown instruction 'frobnicate'"),
    ("notir.ll", IR_NOT_IR, 1, "not LLVM IR"),
    ("labels.ll", IR_LABELS_ONLY, 1, "not LLVM IR"),  # 'key: value' lines look like labels: were 0 statements
    ("stray.ll", "@g = global i32 0\n%x = add i32 1, 2\n", 2, "not LLVM IR"),  # an instruction outside functions
    ("nested.ll", IR_NESTED_DEFINE, 6, "new function starts"),
])
def test_bad_input_names_file_and_line(tmp_path, name, data, line, message):
    path = _write(tmp_path, name, data)
    with pytest.raises(IRParseError, match=message) as caught:
        file_statements(path)
    error = caught.value
    assert error.path == str(path) and error.line == line
    assert str(error).startswith(f"{path}:{line}:" if line else f"{path}:")
    with pytest.raises(IRParseError):
        read_module(path)


def test_the_batch_cache_refuses_what_the_plain_path_refuses(tmp_path):
    cache = StatementCache()
    assert text_statements("@g = global i32 0\n", "g.ll", cache) == ["<@ID> = global i32 <INT>"]
    for text in (IR_NOT_IR, IR_LABELS_ONLY, IR_UNKNOWN_INSTRUCTION):
        with pytest.raises(IRParseError, match="not LLVM IR|unknown instruction"):
            text_statements(text, "bad.ll", cache)


def test_other_bytes_than_utf8_are_read_in_comments_only(tmp_path):
    """As LLVM does: clang writes the source path raw into '; ModuleID' (here Latin-1 'café.c')."""
    latin1 = tmp_path / "latin1.ll"
    latin1.write_bytes(b"; ModuleID = 'caf\xe9.c'\n" + IR_OK.encode())
    assert file_statements(latin1) == file_statements(_write(tmp_path, "plain.ll", IR_OK))
    latin1.write_bytes(IR_OK.replace("%n, 0\n", "%n, 0 ; n > 0 \xe0 \"caf\xe9\"\n").encode("latin-1"))
    assert file_statements(latin1) == file_statements(_write(tmp_path, "plain.ll", IR_OK))  # the comment is cut
    latin1.write_bytes(b"; ModuleID = 'caf\xe9.c'\n" + IR_OK.replace("entry:", "entr\xe9e:").encode("latin-1"))
    with pytest.raises(IRParseError, match=r"latin1.ll:3: not UTF-8 text \(byte 0xe9\)"):
        file_statements(latin1)
    latin1.write_bytes(b'@s = global [6 x i8] c";caf\xe9\\00"\n' + IR_OK.encode())
    with pytest.raises(IRParseError, match=r"latin1.ll:1: not UTF-8 text \(byte 0xe9\)"):
        file_statements(latin1)


def test_windows_line_endings_and_byte_order_mark(tmp_path):
    """Windows editors write CRLF and a leading UTF-8 byte-order mark (which LLVM itself refuses)."""
    plain = file_statements(_write(tmp_path, "lf.ll", IR_OK))
    assert file_statements(_write(tmp_path, "crlf.ll", IR_OK.replace("\n", "\r\n"))) == plain
    bom = tmp_path / "bom.ll"
    bom.write_bytes(b"\xef\xbb\xbf" + IR_OK.replace("\n", "\r\n").encode())
    assert file_statements(bom) == plain and read_module(bom, verify=True).statements == plain
    bom.write_bytes(b"\xef\xbb\xbf\r\n")
    with pytest.raises(IRParseError, match="empty file"):
        file_statements(bom)


def test_huge_file_is_read_in_pieces_with_same_result(tmp_path, monkeypatch, data_root):
    """A file larger than CHUNK_BYTES is cut at function ends; statements are identical."""
    source = data_root / "devmap" / "kernels_ir" / "rodinia-3.1-lavaMD-kernel_gpu_opencl.ll"  # has struct types
    text = source.read_text()
    start = text.index("\ndefine") + 1
    body = text[start:]
    globals_ = "".join(f"@g{i} = global [2 x i32] [i32 {i}, i32 7], align 4\n" for i in range(400))  # 17 kB
    text = text[:start] + globals_ + "\n" + body
    big = _write(tmp_path, "big.ll", text + "".join(body.replace("@kernel_gpu_opencl", f"@k{i}") for i in range(20)))
    whole = file_statements(big)
    monkeypatch.setattr(ir, "CHUNK_BYTES", 4096)
    pieces = list(ir.iter_module_chunks(big, chunk_bytes=4096))
    assert len(pieces) > 5 and not pieces[1].functions  # the globals alone fill pieces, cut at line ends
    assert all(p.struct_lines == pieces[0].struct_lines for p in pieces)
    assert list(iter_file_statements(big)) == whole
    assert pieces[3].lines[0] > pieces[2].lines[-1]  # line numbers continue across pieces


def test_large_file_starting_with_blank_lines(tmp_path, monkeypatch):
    """The first piece of a large file, checked before the rest is read, may hold nothing but blank lines."""
    monkeypatch.setattr(ir, "CHUNK_BYTES", 4096)
    path = _write(tmp_path, "blank_start.ll", "\n" * 5000 + IR_OK * 50)
    pieces = list(ir.iter_module_chunks(path, chunk_bytes=4096))
    assert len(pieces) > 1 and sum(len(piece.functions) for piece in pieces) == 50


def test_truncated_huge_file_still_reported(tmp_path):
    path = _write(tmp_path, "big_truncated.ll", IR_OK * 200 + IR_TRUNCATED)
    with pytest.raises(IRParseError, match="not closed") as caught:
        list(ir.iter_module_chunks(path, chunk_bytes=1000))
    assert caught.value.line == 200 * IR_OK.count("\n") + 1
    bad_byte = _write(tmp_path, "big_latin1.ll", (IR_OK * 200 + IR_OK.replace("entry:", "entr\xe9e:")).encode("latin-1"))
    with pytest.raises(IRParseError, match="not UTF-8") as caught:
        list(ir.iter_module_chunks(bad_byte, chunk_bytes=1000))
    assert caught.value.line == 200 * IR_OK.count("\n") + 2  # the file's line, not the piece's


def test_a_line_after_a_function_that_is_no_ir_is_named_so(tmp_path):
    """Outside a function only globals may stand: the same message whether the file is read whole or in pieces."""
    path = _write(tmp_path, "after.ll", IR_OK + "hello world\n")
    for read in (read_module, lambda p: list(ir.iter_module_chunks(p, chunk_bytes=64))):
        with pytest.raises(IRParseError, match=r'after.ll:12: not LLVM IR; expected a global.*"hello world"'):
            read(path)


_READ_AND_REPORT_MEMORY = """
import sys
from inst2vec.errors import IRParseError
from inst2vec.ir import read_module
from inst2vec.statements import file_statements
for read in (file_statements, read_module):  # in pieces; whole, as for the XFG
    try:
        read(sys.argv[1])
    except IRParseError as err:
        print(err)
with open("/proc/self/status") as status:  # this process's peak, not the parent's (getrusage keeps that over exec)
    print(next(int(line.split()[1]) // 1024 for line in status if line.startswith("VmHWM:")))
"""


@pytest.mark.parametrize("name", ["zero_filled.ll", "text_junk.ll", "junk_function.ll", "/dev/zero"])
def test_junk_is_refused_without_being_read_whole(tmp_path, name):
    """A huge file of junk is refused in bounded memory, at its first bad line, read in pieces or whole: 600 MB of
    zeros after some IR (a NUL byte stops the read at its block), 100 MB of text lines that are not IR (cut into
    pieces at line ends, as no function is open; the first piece is checked before a whole read), the same inside a
    function never closed, or an endless device. In a child process with 4 GiB of address space, so that reading /dev/zero whole fails fast instead of
    filling the machine."""
    import resource
    import subprocess
    import sys

    path, line = pathlib.Path(name), 1
    if name == "zero_filled.ll":
        path, line = _write(tmp_path, name, IR_OK), IR_OK.count("\n") + 1
        with open(path, "r+b") as f:
            f.truncate(600 << 20)  # a sparse file: zeros after the IR
    elif name == "text_junk.ll":
        path, line = _write(tmp_path, name, IR_OK + "this is no IR\n" * 7_000_000), IR_OK.count("\n") + 1
    elif name == "junk_function.ll":  # a function never closed: junk inside it
        path, line = _write(tmp_path, name, IR_OK[:IR_OK.index("yes:")] + "this is no IR\n" * 7_000_000), 6
    limit = 4 << 30
    done = subprocess.run([sys.executable, "-c", _READ_AND_REPORT_MEMORY, str(path)], capture_output=True, text=True,
                          timeout=120, preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit)))
    in_pieces, whole, peak_mib = done.stdout.splitlines()
    assert in_pieces == whole and whole.startswith(f"{path}:{line}: ")
    assert int(peak_mib) < 600, done.stdout  # without the checks: 1.3 GB, 2 GB, all it may take


def _llvm22_bitcode_and_text(text: str) -> tuple[bytes, str]:
    """IR as LLVM 22 (llvmlite) writes it. The module is freed on return, before its context: an LLVM module left
    for the cycle collector with its context (in a traceback's frames) may be freed after it, and crash."""
    import llvmlite.binding as llvm

    module = llvm.parse_assembly(text, context=llvm.create_context())
    return module.as_bitcode(), str(module)


def test_bitcode_is_read_as_its_disassembly(tmp_path):
    """clang-14 bitcode gives the statements clang-14's text gives (typed pointers); newer LLVM's bitcode is read
    by llvmlite; damaged bitcode is an error naming the file."""
    import subprocess

    from inst2vec.batch import collect_ir_files

    source = pathlib.Path(ir.__file__).parent / "samples" / "sample.c"
    for level in ("-O0", "-O2"):
        text, bitcode = tmp_path / f"sample{level}.ll", tmp_path / f"sample{level}.bc"
        subprocess.run(["clang-14", level, "-S", "-emit-llvm", str(source), "-o", str(text)], check=True)
        subprocess.run(["clang-14", level, "-c", "-emit-llvm", str(source), "-o", str(bitcode)], check=True)
        assert file_statements(bitcode) == file_statements(text) and "i32*" in "".join(file_statements(bitcode))
        assert len(list(ir.iter_module_chunks(bitcode, chunk_bytes=1000))) == 1  # never cut into pieces
    newer_bitcode, newer_text = _llvm22_bitcode_and_text(text.read_text())
    _write(tmp_path, "newer.bc", newer_bitcode)  # LLVM 22's bitcode, which llvm-dis-14 cannot read
    assert file_statements(tmp_path / "newer.bc") == text_statements(newer_text)
    assert collect_ir_files([tmp_path])[0] == sorted(str(p) for p in tmp_path.glob("*.[lb][lc]"))
    truncated = _write(tmp_path, "truncated.bc", bitcode.read_bytes()[:200])
    with pytest.raises(IRParseError, match="LLVM bitcode that cannot be read") as caught:
        file_statements(truncated)
    assert str(caught.value).startswith(f"{truncated}:")


def test_bitcode_that_crashes_llvm_is_an_error_not_a_crash(tmp_path, monkeypatch):
    """On some damaged bitcode llvmlite's LLVM fails an assertion and aborts the process; the bitcode is read in a
    child process, so the caller (a whole batch) gets an error naming the file instead of dying with it."""
    import subprocess

    bitcode = tmp_path / "sample.bc"
    subprocess.run(["llvm-as-14", str(pathlib.Path(ir.__file__).parent / "samples" / "sample.ll"), "-o", str(bitcode)],
                   check=True)
    data = bytearray(bitcode.read_bytes())
    data[780] = 128  # found by fuzzing: llvm-dis-14 refuses it, and llvmlite 0.50 aborts on `idx < size()`
    damaged = _write(tmp_path, "damaged.bc", bytes(data))
    with pytest.raises(IRParseError, match="LLVM bitcode that cannot be read .*; llvmlite: ") as caught:
        file_statements(damaged)
    assert str(caught.value).startswith(f"{damaged}:")
    monkeypatch.setattr(ir, "_PARSE_BITCODE", "import os; os.abort()")  # a crash, whatever llvmlite's version does
    with pytest.raises(IRParseError, match=r"llvmlite: crashed with signal 6\)$"):
        file_statements(damaged)


def test_verify_accepts_real_ir_and_reports_llvm_errors(data_root):
    path = data_root / "devmap" / "kernels_ir" / "amd-app-sdk-3.0-BinomialOption-binomial_options.ll"
    read_module(path, verify=True)
    with pytest.raises(IRParseError, match=r"LLVM rejects this IR") as caught:
        verify_module(IR_OK.replace("ret i32 1", "ret i64 1"), "bad.ll")
    assert caught.value.line == 7


IR_USE_BEFORE_DEFINITION = """\
define i32 @f(i32 %a) {
entry:
  %x = add i32 %y, 1
  %y = add i32 %a, 1
  ret i32 %x
}
"""


def test_ir_that_parses_but_does_not_verify_names_the_reason_and_the_line():
    """LLVM's verifier gives no line: its message said only the instruction, without why (the dominance rule here)
    or where. The line is that of the instruction it names last; a line copied elsewhere leaves it open, and the
    message lists the lines that hold it."""
    with pytest.raises(IRParseError) as caught:
        verify_module(IR_USE_BEFORE_DEFINITION, "bad.ll")
    assert (caught.value.line, caught.value.reason) == (3, "LLVM rejects this IR: Instruction does not dominate all "
                                                           "uses!; %y = add i32 %a, 1; %x = add i32 %y, 1")
    once = "define void @g(i32* %p) {\n  store i32 %y, i32* %p\n  %y = add i32 1, 1\n  ret void\n}\n"
    with pytest.raises(IRParseError) as caught:
        verify_module(once, "bad.ll")  # LLVM quotes "store i32 %y, i32* %p, align 4": the file leaves the align out
    assert caught.value.line == 2
    copied = once.replace("  ret void", "  store i32 %y, i32* %p\n  ret void")
    with pytest.raises(IRParseError, match="Instruction does not dominate all uses!") as caught:
        verify_module(copied, "bad.ll")
    assert caught.value.line is None and caught.value.reason.endswith("i32* %p, align 4 (on lines 2, 4)")
    many = copied.replace("  ret void", "  store i32 %y, i32* %p\n" * 5 + "  ret void")
    with pytest.raises(IRParseError, match=r"align 4 \(on lines 2, 4, 5, 6, 7 and 2 more\)$"):
        verify_module(many, "bad.ll")


def test_verify_falls_back_to_text_reader_for_old_syntax(data_root):
    """LLVM 22 (and llvm-as-14) reject Apple LLVM 5's `byval` without a type: a warning, not a failure."""
    path = data_root / "devmap" / "kernels_ir" / "rodinia-3.1-lavaMD-kernel_gpu_opencl.ll"
    with pytest.warns(UserWarning, match=r"lavaMD-kernel_gpu_opencl\.ll:17: LLVM 22 no longer reads"):
        module = read_module(path, verify=True)
    assert module.functions[0].name == "@kernel_gpu_opencl"


def test_every_devmap_file_reads_and_every_function_has_blocks(data_root):
    files = sorted(glob.glob(str(data_root / "devmap" / "kernels_ir" / "*.ll")))
    for path in files[::25]:
        module = read_module(path)
        assert module.functions and all(f.blocks for f in module.functions)


def test_parse_module_from_memory_has_no_path():
    with pytest.raises(IRParseError, match=r"^<string>:3: unknown instruction"):
        parse_module(IR_UNKNOWN_INSTRUCTION)


CPP_VIRTUAL = """\
struct Base { virtual int f() { return 1; } virtual ~Base() {} };
struct Derived : Base { int f() override { return 2; } };
int use(Base *b) { return b->f(); }
int main() { Derived d; return use(&d); }
"""


def test_verify_reads_clang14_inrange_through_bitcode(tmp_path):
    """clang-14 writes `inrange` vtable GEPs that llvmlite's text parser rejects; bitcode reads them."""
    import subprocess

    source = _write(tmp_path, "v.cpp", CPP_VIRTUAL)
    out = tmp_path / "v.ll"
    subprocess.run(["clang++-14", "-S", "-emit-llvm", "-O0", str(source), "-o", str(out)], check=True)
    assert "inrange" in out.read_text()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback warning: the bitcode route verified it
        module = read_module(out, verify=True)
    assert {f.name for f in module.functions} >= {"@main", "@_Z3useP4Base"}
