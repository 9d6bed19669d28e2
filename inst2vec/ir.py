"""Read LLVM IR files into statement units, the raw material of inst2vec.

``read_module(path)`` decodes a ``.ll`` file, drops the lines inst2vec ignores (declarations,
metadata, attributes, comments, target lines), strips metadata and attribute references from
the rest, joins multi-line statements (switch tables, landingpad clauses, invoke) into one
unit, and checks that the module is well formed enough to trust: every instruction known,
every function closed. The filtering rules are the published inst2vec ones (docs/statements.md).

Statement text always comes from the file's own lines, because llvmlite (LLVM 22) prints every
pointer as ``ptr`` and the published vocabulary spells typed pointers (``i32*``). Bitcode (``.bc``) is
read as its disassembly by ``llvm-dis-14`` (typed pointers, as clang-14 wrote them), or by llvmlite
where that cannot read it (bitcode of newer LLVMs, whose pointers are opaque anyway). A C, C++ or OpenCL
file is read as the IR clang-14 makes of it at ``-O0``.
``verify_module`` runs LLVM's own parser and verifier on top, when asked.
"""
from __future__ import annotations

import itertools
import logging
import os
import re
import shutil
import subprocess
import sys
import warnings
from dataclasses import dataclass, field
from functools import cached_property
from typing import BinaryIO, Iterator

from inst2vec.errors import IRParseError

log = logging.getLogger(__name__)

#: Files larger than this are normalised in pieces of about this size, cut at function ends,
#: so memory stays bounded on very large files.
CHUNK_BYTES = 8 * 1024 * 1024

#: How LLVM bitcode files start: raw, and in the wrapper Apple's tools write.
BITCODE_MAGIC = (b"BC\xc0\xde", b"\xde\xc0\x17\x0b")
UTF8_BYTE_ORDER_MARK = b"\xef\xbb\xbf"

#: Separator the original used inside multi-line statements (``"\n "``).
UNIT_SEPARATOR = "\n "

_GLOBAL_ID = r'(?<!%")@["\w.\-$\\]+'
_ALIAS = re.compile(_GLOBAL_ID + r" = .*alias ")
_QUOTED = re.compile(r'".*"')
_METADATA_ARGUMENT = re.compile(r"\(.*metadata !.*\)")
_METADATA_STRIPS = tuple(
    re.compile(p) for p in (r"(, )?metadata !\d+(, )?", r"(, )?metadata !\w+(, )?", r"metadata !\d+(, )?",
                            r"metadata !\w+(, )?")
)
#: A local name or label reference as the statement rules spell it: the original's characters, or a quoted name
#: taken whole (``%"x y"``, ``%"alloc::vec::Vec<(u32, u32)>"``; the original cut it at the first other character).
#: The look-ahead keeps a ``%"`` that ends a ``c"...%"`` string from taking the text up to the next quote.
LOCAL_NAME = r'%(?:"[^"\n%]*"(?=[\s,()\[\]{}*]|$)|["@\w.\-:]+)'
_LANDINGPAD = re.compile(rf'{LOCAL_NAME} = landingpad')
_LANDINGPAD_CLAUSE = ("cleanup", "filter", "catch")
_SWITCH_CASE = re.compile(rf'i\d+ -?\d+, label {LOCAL_NAME}')
#: Instructions whose target labels follow on a line of their own, with the pattern of that line.
_TARGET_LINES = (("invoke", re.compile(rf'to label {LOCAL_NAME} unwind label {LOCAL_NAME}')),
                 ("callbr", re.compile(rf'to label {LOCAL_NAME} \[(?:label {LOCAL_NAME}(?:, )?)*\]$')))  # asm goto

# Structure: labels, definitions and the opcode of an instruction.
_LABEL = re.compile(r'(?:; <label>:(\d+)|("[^"]*"|[-\w.$]+):)')
_DEFINE_NAME = re.compile(r'define [^@]*@("[^"]*"|[-\w.$\\]+)')
#: Syntax older LLVMs wrote that LLVM 22 (and llvm-as-14) reject: untyped byval/sret, inrange, debug info.
_OLD_SYNTAX_MARKERS = (" byval ", " byval,", " sret ", " sret,", "inrange", "!DI", "metadata ")
_LLVM_ERROR_LINE = re.compile(r"<string>:(\d+):(\d+): error: (.*)")
_NOT_VERIFIED = b"assembly parsed, but does not verify as correct!"


#: Every LLVM instruction opcode (LangRef, LLVM 5 to 22).
OPCODES = frozenset("""
    ret br switch indirectbr invoke callbr resume catchswitch catchret cleanupret unreachable
    fneg add fadd sub fsub mul fmul udiv sdiv fdiv urem srem frem shl lshr ashr and or xor
    extractelement insertelement shufflevector extractvalue insertvalue
    alloca load store fence cmpxchg atomicrmw getelementptr
    trunc zext sext fptrunc fpext fptoui fptosi uitofp sitofp ptrtoint ptrtoaddr inttoptr bitcast addrspacecast
    icmp fcmp phi select freeze call va_arg landingpad catchpad cleanuppad
""".split())


@dataclass(frozen=True)
class Block:
    """A basic block: its label (``"%name"``; ``"%<entry>"`` when unnamed) and its unit indices."""

    label: str
    units: tuple[int, ...]


@dataclass(frozen=True)
class Function:
    """A function definition: its name (``"@name"``), the index of its ``define`` unit, its blocks."""

    name: str
    define: int
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class IRModule:
    """The statement units of one LLVM IR module, in file order.

    Attributes:
        path: where the text came from (``None`` for text from memory).
        units: statement units after line filtering; multi-line ones joined with ``"\\n "``.
        lines: the 1-based line where each unit starts.
        struct_lines: the ``%name = type ...`` units, used to inline named struct types.
    """

    path: str | None
    units: tuple[str, ...]
    lines: tuple[int, ...]
    struct_lines: tuple[str, ...] = field(default=())

    def __repr__(self) -> str:  # the dataclass's own would print every unit of the module
        defines = sum(unit.startswith("define") for unit in self.units)
        return (f"IRModule<{self.path or '<string>'}: {len(self.units)} units, function definitions: {defines}, "
                f"struct types: {len(self.struct_lines)}>")

    @cached_property
    def functions(self) -> tuple[Function, ...]:
        """The module's function definitions with their basic blocks."""
        return tuple(_split_functions(self.units))

    @cached_property
    def struct_types(self) -> dict[str, str]:
        """Named struct types resolved to literal bodies, as the published rules inline them."""
        from inst2vec.statements import build_struct_dictionary

        return build_struct_dictionary(self.struct_lines, self.path)

    @cached_property
    def statements(self) -> list[str]:
        """The inst2vec statements of the module (labels dropped), see ``inst2vec.statements``."""
        from inst2vec.statements import module_statements

        return module_statements(self)


def decode_ir(data: bytes, path: str | os.PathLike | None = None, first_line: int = 1) -> str:
    """Decode the bytes of a ``.ll`` file (or disassemble bitcode), rejecting empty, binary and non-UTF-8 input.

    Raises:
        IRParseError: naming the file and the line of the first bad byte (of the disassembly, for bitcode);
            ``data`` starts at line ``first_line`` of the file.
    """
    data = data.removeprefix(UTF8_BYTE_ORDER_MARK)  # written by Windows editors; LLVM refuses it, we drop it
    if not data.strip():
        raise IRParseError("empty file (no LLVM IR in it)", path)
    if data.startswith(BITCODE_MAGIC):
        data = disassemble_bitcode(data, path)
    _refuse_binary(data, path, first_line)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = _decode_bytes_in_comments(data, path, first_line)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def _refuse_binary(data: bytes, path: str | os.PathLike | None, first_line: int) -> None:
    """Raise IRParseError at the line of the first NUL byte in ``data`` (IR text has none), if any."""
    nul = data.find(b"\0")
    if nul != -1:
        named_bitcode = path is not None and os.fspath(path).endswith(".bc")
        not_bitcode = ", and not LLVM bitcode either (bitcode starts with 'BC' 0xC0DE)" if named_bitcode else ""
        raise IRParseError("binary data (NUL byte) where LLVM IR text was expected" + not_bitcode, path,
                           data.count(b"\n", 0, nul) + first_line)


def _read_blocks(f: BinaryIO, path: str | os.PathLike, line: int = 1) -> Iterator[tuple[int, bytes]]:
    """The rest of the text file ``f`` in blocks of CHUNK_BYTES, each with the line it starts on; a block with a NUL
    byte (binary junk, a zero-filled file, ``/dev/zero``) is refused at once, so it is never held whole in memory."""
    while block := f.read(CHUNK_BYTES):
        if b"\0" in block:
            _refuse_binary(block, path, line)
        yield line, block
        line += block.count(b"\n")


def disassemble_bitcode(data: bytes, path: str | os.PathLike | None = None) -> bytes:
    """The textual IR of LLVM bitcode: ``llvm-dis-14``'s (typed pointers, as clang-14 wrote them), else llvmlite's.

    Raises:
        IRParseError: neither could read it (truncated or damaged bitcode), with both reasons.
    """
    disassembler = shutil.which("llvm-dis-14") or shutil.which("llvm-dis")
    reason = "llvm-dis: not found"
    if disassembler is not None:
        done = subprocess.run([disassembler, "-o", "-"], input=data, capture_output=True)
        if done.returncode == 0 and done.stdout.strip():
            return done.stdout
        reason = f"{os.path.basename(disassembler)}: {_failure(done) if done.returncode else 'no module in it'}"
    # Bitcode of a newer LLVM than llvm-dis-14's. In a child process: on damaged bitcode llvmlite's LLVM can fail an
    # assertion and abort, which would end a whole batch.
    done = subprocess.run([sys.executable, "-c", _PARSE_BITCODE], input=data, capture_output=True)
    if done.returncode == 0:
        return done.stdout
    raise IRParseError(f"LLVM bitcode that cannot be read ({reason}; llvmlite: {_failure(done)})", path)


#: What the child process of :func:`disassemble_bitcode` runs: bitcode on stdin, its IR text on stdout.
_PARSE_BITCODE = ("import sys, llvmlite.binding as llvm; "
                  "sys.stdout.buffer.write(str(llvm.parse_bitcode(sys.stdin.buffer.read(), "
                  "context=llvm.create_context())).encode())")


def _failure(done: subprocess.CompletedProcess) -> str:
    """Why a tool's process failed: its last error line, or for a crash the signal and any failed assertion."""
    message = done.stderr.decode(errors="replace")
    if done.returncode < 0:  # killed by a signal: LLVM's crash handler printed a stack dump, not a reason
        assertion = re.search(r"Assertion `.*' failed", message)
        return f"crashed with signal {-done.returncode}" + (f" ({assertion.group(0)})" if assertion else "")
    return _last_line(message).removeprefix("RuntimeError: ")


def _last_line(message: str) -> str:
    """The last line of a tool's error output, without the tool's own ``PATH: error:`` in front."""
    lines = message.strip().splitlines()
    return re.sub(r"^\S*: error: ", "", lines[-1].strip()) if lines else "no message"


def reads_at_once(path: str | os.PathLike, chunk_bytes: int = CHUNK_BYTES) -> bool:
    """Whether a file is read whole, never in pieces: it is small, a source file (read as clang's IR) or
    bitcode (read as its disassembly)."""
    if os.path.getsize(path) <= chunk_bytes or _is_source_file(path):
        return True
    with open(path, "rb") as f:
        return f.read(4) in BITCODE_MAGIC


def _is_source_file(path: str | os.PathLike) -> bool:
    from ir_corpus.sources import is_source_file  # ir_corpus builds on this package: imported when used

    return is_source_file(path)


def _decode_bytes_in_comments(data: bytes, path: str | os.PathLike | None, first_line: int) -> str:
    """Decode text whose bytes outside comments are UTF-8; other bytes in comments become U+FFFD.

    LLVM reads any bytes in a comment, and clang writes the source path into ``; ModuleID = '…'`` as it
    finds it (e.g. Latin-1). Everywhere else LLVM IR escapes non-ASCII bytes (``c"caf\\E9"``), so a bad
    byte there is an error naming the line.
    """
    lines = data.split(b"\n")
    for number, line in enumerate(lines, first_line):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as err:
            if not 0 <= _first_outside_quotes(line, ";") < err.start:
                raise IRParseError(f"not UTF-8 text (byte 0x{line[err.start]:02x})", path, number) from None
    return data.decode("utf-8", errors="replace")


def _first_outside_quotes(line: str | bytes, char: str) -> int:
    """Where ``char`` first stands in a line outside double quotes (strings and quoted names; IR strings escape
    their quotes as ``\\22``), -1 if nowhere: a ``;`` there starts a comment, a ``#`` an attribute group."""
    quote = '"'
    if isinstance(line, bytes):
        char, quote = char.encode(), b'"'
    at = line.find(char)
    while at != -1 and line.count(quote, 0, at) % 2:  # an odd number of quotes before it: inside quotes
        at = line.find(char, at + 1)
    return at


def read_text(path: str | os.PathLike) -> str:
    """The decoded text of a ``.ll`` file, the disassembly of a ``.bc`` file (see :func:`decode_ir`), or the IR of
    a C, C++ or OpenCL file as clang-14 compiles it at ``-O0`` (see :func:`ir_corpus.compile.compile_file`)."""
    if _is_source_file(path):
        from ir_corpus.compile import compile_file

        return decode_ir(compile_file(path), path)
    with open(path, "rb") as f:  # once: a pipe can be read only once
        head = f.read(4)
        if head in BITCODE_MAGIC:
            return decode_ir(head + f.read(), path)
        return decode_ir(head + b"".join(block for _, block in _read_blocks(f, path, 1 + head.count(b"\n"))), path)


def read_module(path: str | os.PathLike, verify: bool = False) -> IRModule:
    """Read one ``.ll`` file into an :class:`IRModule`.

    Args:
        path: the textual LLVM IR file (typed or opaque pointers); also a ``.bc`` file, or a C, C++ or OpenCL
            file, read as the IR clang-14 makes of it at ``-O0`` (see :func:`read_text`).
        verify: also run LLVM's parser and verifier (llvmlite) over it; see :func:`verify_module`.

    Raises:
        IRParseError: the file is empty, binary, not UTF-8, truncated, or holds an unknown
            instruction or a line that is not LLVM IR (or, for a source file, does not compile:
            ``CompilationError``); the message names file and line.
    """
    if not reads_at_once(path):
        _check_first_piece(path)
    text = read_text(path)
    if verify:
        verify_module(text, path)
    return parse_module(text, path)


def _check_first_piece(path: str | os.PathLike) -> None:
    """Check the first piece of a large ``.ll`` file (see :func:`iter_module_chunks`) before it is read whole or in
    pieces, so a huge file of junk is refused at once, in bounded memory (330 MB of text read whole took 5 GB)."""
    with open(path, "rb") as f:
        _, block = next(_read_blocks(f, path), (1, b""))
    cut = _piece_end(block)
    closed = cut >= 3
    if not closed:  # one function longer than the block: the lines it has so far
        cut = block.rfind(b"\n") + 1
    if cut < 3 or not block[:cut].strip():
        return
    text = decode_ir(block[:cut], path)
    if closed:
        preprocess(text, path)
    else:
        _check_instructions(text, preprocess(text, path, check=False)[0], path, 1)


def _piece_end(data: bytes) -> int:
    """Where a piece of IR text read so far may end: after its last whole line, or, if a function is still open
    there, before that function's ``define`` line; below 3 if it may not end yet."""
    lines_end = data.rfind(b"\n") + 1
    opened = data.rfind(b"\ndefine", 0, lines_end) + 1 or (0 if data.startswith(b"define") else -1)
    return opened if opened > data.rfind(b"\n}\n", 0, lines_end) else lines_end


def parse_module(text: str, path: str | os.PathLike | None = None, first_line: int = 1,
                 struct_lines: tuple[str, ...] | None = None) -> IRModule:
    """Like :func:`read_module`, for IR text already in memory.

    ``first_line`` numbers the text's first line (for pieces of a larger file); ``struct_lines``
    overrides the struct definitions found in the text (pieces share those of the whole file).
    """
    kept, own_struct_lines = preprocess(text, path, first_line)
    return module_from_preprocessed(kept, own_struct_lines if struct_lines is None else struct_lines, path,
                                    first_line)


def module_from_preprocessed(kept: str, struct_lines: tuple[str, ...], path: str | os.PathLike | None = None,
                             first_line: int = 1) -> IRModule:
    """The :class:`IRModule` of text already filtered by :func:`preprocess` (no second pass)."""
    all_lines = kept.split("\n")
    units = list(filter(None, all_lines))
    lines = list(itertools.compress(range(first_line, first_line + len(all_lines)), all_lines))
    if needs_collapse(kept):
        indices = _collapse_units(units)
        units, lines = [units[i] for i in indices], [lines[i] for i in indices]
    path = None if path is None else os.fspath(path)
    return IRModule(path, tuple(units), tuple(lines), struct_lines)


def iter_module_chunks(path: str | os.PathLike, chunk_bytes: int = CHUNK_BYTES) -> Iterator[IRModule]:
    """Read a (possibly huge) ``.ll`` file as a sequence of modules cut at function ends.

    Each piece holds whole functions only, and every piece carries the struct types of the whole
    file, so normalising the pieces one after the other gives the same statements as normalising
    the file at once, with memory bounded by about ``chunk_bytes`` times a small factor.
    """
    if reads_at_once(path, chunk_bytes):
        yield read_module(path)
        return
    _check_first_piece(path)  # before a pass over the whole file for its struct types
    struct_lines = _struct_lines_of_file(path)
    first_line = 1
    with open(path, "rb") as f:
        rest = b""
        while True:
            block = f.read(chunk_bytes)
            data = rest + block
            cut = _piece_end(data) if block else len(data)
            if cut < 3:  # nowhere to end a piece yet (a function longer than a block): read on
                if not block:
                    break
                rest = data
                continue
            piece, rest = data[:cut], data[cut:]
            text = decode_ir(piece, path, first_line) if piece.strip() else ""
            if text:
                yield parse_module(text, path, first_line, struct_lines)
            first_line += piece.count(b"\n")
            if not block:
                break


def _struct_lines_of_file(path) -> tuple[str, ...]:
    """First pass over a huge file: its ``= type`` lines, preprocessed like any other line."""
    found: list[str] = []
    rest, rest_line = b"", 1
    with open(path, "rb") as f:
        for block_line, block in _read_blocks(f, path):
            data = rest + block
            cut = data.rfind(b"\n") + 1
            for lineno, raw in enumerate(data[:cut].split(b"\n")[:-1], rest_line):
                if b" = type " in raw:
                    found.extend(preprocess(decode_ir(raw, path, lineno), path, lineno, check=False)[1])
            rest, rest_line = data[cut:], block_line + block.count(b"\n")
    if b" = type " in rest:
        found.extend(preprocess(decode_ir(rest, path, rest_line), path, rest_line, check=False)[1])
    return tuple(found)


# Whole-text, line-preserving filters: a dropped line becomes empty, so line numbers survive.
# Patterns start with a literal "\n" (the text gets one in front) so the regex engine skips ahead.
# Also use-list order directives (``uselistorder``, ``uselistorder_bb``, which ``-preserve-ll-uselistorder`` writes):
# the order of a value's uses in memory, no statement of the program (the original kept them as statements).
# Also module summary entries (``^0 = module: …``, ``^1 = gv: …``) of ThinLTO bitcode: facts for the linker.
_DROPPED_LINE = re.compile(
    r"\n(?:;(?! <label>)|!|\^|[^\S\n]*(?:[{}\[\]]|$)|source_filename|target triple|target datalayout"
    r"|attributes|module asm |declare|[^\S\n]+;|[^\S\n]*uselistorder(?:_bb)? )[^\n]*", re.MULTILINE)
_ASM_LINE = re.compile(r"\n[^\n]*call void asm[^\n]*")
# Comdat definitions of every selection kind (the original knew ``any`` only; MSVC targets and profiling write
# ``largest`` and ``nodeduplicate``).
_COMDAT_LINE = re.compile(r"\n[^\n]*\$[^\n]* = comdat (?:any|exactmatch|largest|nodeduplicate|noduplicates|samesize)"
                          r"[^\n]*")
_ALIAS_CANDIDATE = re.compile(r"\n[^\n]*alias [^\n]*")
_FUNCTION_BRACKETS = re.compile(r"\n(define|\})")
# Line starts that are no instruction (label, global, definition, switch case), and the
# "%x = tail " that may stand before an instruction's opcode.
_NOT_AN_INSTRUCTION = r'(?:"[^"\n]*"|[-\w.$]+):|; <label>:|[@$]|define[ \t]|i\d+ -?\d+, label '
_BEFORE_OPCODE = r'(?:%(?:"[^"\n]*"|[-\w.$]+) = )?(?:(?:tail|musttail|notail) )?'
_FIRST_WORD = re.compile(r"\n(?:" + _NOT_AN_INSTRUCTION + "|" + _BEFORE_OPCODE + r"([a-z_][a-z_0-9]*|\S+))")
#: First words of lines that are not instructions but may stand where one does.
_CONTINUATION_WORDS = frozenset({"cleanup", "catch", "filter", "to"})
# A line that is none of: empty, label, global, definition, switch case, known instruction.
_BAD_LINE = re.compile(
    r"\n(?!$|" + _NOT_AN_INSTRUCTION + "|" + _BEFORE_OPCODE + "(?:"
    + "|".join(sorted(OPCODES | _CONTINUATION_WORDS, key=lambda w: (-len(w), w))) + r")(?![\w.]))", re.MULTILINE)


def preprocess(text: str, path: str | os.PathLike | None = None, first_line: int = 1,
               check: bool = True) -> tuple[str, tuple[str, ...]]:
    """Apply the published line filter to IR text, keeping one (possibly empty) line per line.

    Drops comments, metadata, declarations, attributes, target and comdat lines and lone
    brackets; strips indentation, trailing comments (not a label's), trailing metadata (``, !tbaa !3``) and
    attribute groups (``#0`` and all after it); removes struct type definitions and returns them apart.

    Returns:
        ``(kept, struct_lines)``: the filtered text, line for line, and the struct definitions.

    Raises:
        IRParseError: with ``check``, on an unknown instruction or an unclosed function.
    """
    original = text
    text = "\n" + text
    if check:
        check_functions_closed(text, path, first_line)
    text = _DROPPED_LINE.sub("\n", text)
    if "call void asm" in text:
        text = _ASM_LINE.sub("\n", text)
    if " = comdat " in text:
        text = _COMDAT_LINE.sub("\n", text)
    if "alias " in text:
        text = _ALIAS_CANDIDATE.sub(lambda m: "\n" if _ALIAS.match(_QUOTED.sub("", m.group(0)[1:])) else m.group(0),
                                    text)
    lines = [_clean_line(line) if "!" in line or "#" in line or ";" in line else line.strip()
             for line in text[1:].split("\n")]
    struct_lines: tuple[str, ...] = ()
    if " = type " in text:
        struct_lines = tuple(line for line in lines if " = type " in line)
        lines = ["" if " = type " in line else line for line in lines]
    kept = "\n".join(lines)
    if check:
        _check_instructions(original, kept, path, first_line)
    return kept, struct_lines


def _clean_line(line: str) -> str:
    """Strip a line and cut its comment (``; …``), metadata (``!``) and attribute-group (``#``) tails, each from its
    first character outside quotes.

    Label lines keep their comment (``; preds = %3``), as the original's label statements do. Not as the original:
    it kept every other comment too (clang writes none after an instruction; hand-written IR does, and the names in
    it became operands), and it also cut at a ``#`` in quotes, and at a ``!`` in a quoted name (``c"#1\\00"``,
    ``@"push!"``).
    """
    line = line.strip()
    if ";" in line and not _LABEL.match(line):
        comment_at = _first_outside_quotes(line, ";")
        if comment_at != -1:
            line = line[:comment_at].rstrip()
    if "!" in line:
        if "metadata !" in line:
            line = _delete_metadata_arguments(line)
        bang_at = _first_outside_quotes(line, "!")
        if bang_at != -1:  # e.g. ", !tbaa !7"
            line = _cut_at(line, bang_at)
    hash_at = _first_outside_quotes(line, "#")
    if hash_at != -1:
        line = line[:hash_at].strip()
    return line


def check_functions_closed(text: str, path: str | os.PathLike | None = None, first_line: int = 1) -> None:
    """Every ``define`` must be closed by a ``}`` line before the next one and before the end.

    Raises:
        IRParseError: naming the line of the unclosed ``define`` (or of the next one).
    """
    if not text.startswith("\n"):
        text = "\n" + text
    marks = _FUNCTION_BRACKETS.findall(text)
    expected = "define"
    for mark in marks:
        if mark == "}":
            expected = "define"
        elif expected == "}":  # a second define while one is open
            break
        else:
            expected = "}"
    else:
        if expected == "define":
            return
    open_at = None
    for i, line in enumerate(text[1:].split("\n")):
        if line.startswith("define"):
            if open_at is not None:
                raise IRParseError(f"a new function starts before the one defined on line {open_at} is closed "
                                   "by '}'", path, i + first_line)
            open_at = i + first_line
        elif line.startswith("}"):
            open_at = None
    raise IRParseError(f"unexpected end of file: the function defined on line {open_at} is not closed by '}}' "
                       "(truncated file?)", path, open_at)


_NOT_A_GLOBAL = re.compile(r"^[^@\n]", re.MULTILINE)


def has_bad_line(kept: str) -> bool:
    """Whether a preprocessed line is none of: label, global, definition, known instruction."""
    return _BAD_LINE.search("\n" + kept) is not None


def _check_instructions(raw: str, kept: str, path, first_line: int) -> None:
    """Every kept line must be a label, global, definition or known instruction inside a function, and a global
    outside one. (Outside functions only globals are kept; a text without functions is checked for that
    whole, e.g. a ``key: value`` file whose lines look like labels. With functions, a line scan every time
    would cost a third of the statement speed, so only files with an unknown line are scanned.)"""
    if not has_bad_line(kept) and ("define" in kept or not _NOT_A_GLOBAL.search(kept)):
        return
    in_function = False
    for i, (original, line) in enumerate(zip(raw.split("\n"), kept.split("\n"))):
        if original.startswith("define"):
            in_function = True
        elif original.startswith("}"):
            in_function = False
        if not line or original.startswith(("define", "}")):
            continue
        if in_function and _BAD_LINE.match("\n" + line):
            word = _FIRST_WORD.match("\n" + line).group(1)
            raise IRParseError(f"unknown instruction '{word}' (line: \"{shorten(line)}\")", path, i + first_line)
        if not in_function and not line.startswith("@"):
            raise IRParseError(f"not LLVM IR; expected a global, a type or a function definition "
                               f"(line: \"{shorten(line)}\")", path, i + first_line)


def needs_collapse(kept: str) -> bool:
    """Whether some statements span several lines (switch tables, landingpads, invokes, callbrs)."""
    return "switch" in kept or "invoke" in kept or "landingpad" in kept or "callbr" in kept


def shorten(text: str, width: int = 80) -> str:
    """The first line of ``text``, cut to ``width`` characters with "..." (for quoting input in errors)."""
    text = text.split("\n", 1)[0]
    return text if len(text) <= width else text[: width - 3] + "..."


def _delete_metadata_arguments(line: str) -> str:
    """Delete metadata arguments, as the original did: ``(metadata i32* %x, metadata !15, metadata
    !DIExpression())`` becomes the published ``(metadata i32* %x())`` residue."""
    while _METADATA_ARGUMENT.search(line):
        before = line
        for pattern in _METADATA_STRIPS:
            line = pattern.sub("", line)
        if line == before:  # the original loops forever here (e.g. ``metadata !{...}``)
            break
    return line


def _cut_at(line: str, pos: int) -> str:
    """``line`` up to ``pos``, stripped, without a comma left at its end (as after ``, !tbaa``)."""
    line = line[:pos].strip()
    if line.endswith(","):
        line = line[:-1].strip()
    return line


def _collapse_units(units: list[str]) -> list[int]:
    """Join switch tables, landingpad clauses and invoke (and callbr) targets to their first line, in place.

    The original joined no callbr targets (LLVM had no callbr then): its ``to label %a [label %b]`` line would be a
    statement of its own, and the published vocabulary has no callbr statement either way.

    Returns the indices of the units that remain (the joined continuation lines are gone).
    """
    n = len(units)
    erased = [False] * n
    for i in range(n):
        if erased[i]:
            continue
        unit = units[i]
        if _LANDINGPAD.match(unit):
            for j in range(i + 1, min(i + 4, n)):
                if not units[j].startswith(_LANDINGPAD_CLAUSE):
                    break
                units[i] += UNIT_SEPARATOR + units[j]
                erased[j] = True
        elif unit.startswith("switch"):
            for j in range(i + 1, n):
                if _SWITCH_CASE.search(units[j]):
                    units[i] += UNIT_SEPARATOR + units[j]
                    erased[j] = True
                else:
                    units[i] += "]"
                    break
        elif i + 1 < n and any(word in unit and targets.match(units[i + 1]) for word, targets in _TARGET_LINES):
            units[i] += UNIT_SEPARATOR + units[i + 1]
            erased[i + 1] = True
    return [i for i in range(n) if not erased[i]]


def label_name(unit: str) -> str | None:
    """The block name a label unit declares (``"%name"``), or ``None`` if it is no label."""
    m = _LABEL.match(unit)
    if m is None:
        return None
    return "%" + (m.group(1) if m.group(1) is not None else m.group(2))


def _split_functions(units: tuple[str, ...]) -> Iterator[Function]:
    i, n = 0, len(units)
    while i < n:
        if not units[i].startswith("define"):
            i += 1
            continue
        m = _DEFINE_NAME.match(units[i])
        name = "@" + (m.group(1) if m else f"<function at unit {i}>")
        define, i = i, i + 1
        blocks: list[Block] = []
        label, body = "%<entry>", []
        while i < n and not units[i].startswith(("define", "@", "$")):  # struct lines are not units
            unit = units[i]
            declared = label_name(unit) if ":" in unit and unit[0] != "%" else None
            if declared is not None:
                if body or blocks or label != "%<entry>":
                    blocks.append(Block(label, tuple(body)))
                label, body = declared, []
            else:
                body.append(i)
            i += 1
        blocks.append(Block(label, tuple(body)))
        yield Function(name, define, tuple(blocks))


def _verifier_failure(said: str, text: str) -> tuple[str, int | None]:
    """``(reason, line)`` from llvm-as's report of IR that parses but does not verify: its first error's message
    and the instructions it quotes (as LLVM prints them), and the line of the last of them where the text holds
    it once (as printed, or without what LLVM adds after a comma, such as an alignment). Where the text holds it
    more often (a copied line can be the one the verifier means, or its original), the reason lists those lines
    and ``line`` is None."""
    reported = [piece.strip() for piece in said.split(_NOT_VERIFIED.decode(), 1)[1].splitlines() if piece.strip()]
    starts = [i for i, piece in enumerate(reported) if piece.endswith("!")] or [0]  # "… does not dominate all uses!"
    first = reported[starts[0]:starts[1] if len(starts) > 1 else None]
    if not first:
        return said.strip().splitlines()[-1], None
    lines = [line.strip() for line in text.split("\n")]
    places = [number for number, line in enumerate(lines, 1) if line == first[-1]]
    if not places:  # LLVM prints what the file may leave out, such as ", align 4"
        places = [number for number, line in enumerate(lines, 1) if line and first[-1].startswith(line + ", ")]
    shown = ", ".join(map(str, places[:5])) + (f" and {len(places) - 5} more" if len(places) > 5 else "")
    on_lines = f" (on lines {shown})" if len(places) > 1 else ""
    more = f" (and {len(starts) - 1} more)" if len(starts) > 1 else ""
    return "; ".join(first) + on_lines + more, places[0] if len(places) == 1 else None


def verify_module(text: str, path: str | os.PathLike | None = None) -> None:
    """Parse and verify IR with LLVM (llvmlite), raising :class:`IRParseError` on real errors.

    llvmlite's text parser (LLVM 22) rejects some syntax that clang-14 and older emitted; such
    files are assembled by ``llvm-as-14`` and read back with ``parse_bitcode`` instead. Where that
    fails too and the failing line holds syntax of older LLVMs (``byval`` without a type,
    ``inrange``, old debug info), a warning is issued and the text reader's judgement stands.
    """
    import llvmlite.binding as llvm

    try:  # no module left in a local: one raised below with this frame must not keep it beyond its context
        llvm.parse_assembly(text, context=llvm.create_context()).verify()
        return
    except RuntimeError as err:
        message = str(err)
    m = _LLVM_ERROR_LINE.search(message)
    line, reason = (int(m.group(1)), m.group(3)) if m else (None, message.strip().splitlines()[-1])
    assembler = shutil.which("llvm-as-14") or shutil.which("llvm-as")
    if assembler is None:
        warnings.warn(f"{path or '<string>'}:{line}: llvmlite rejected this IR ({reason}) and no llvm-as "
                      "was found to try its bitcode; trusting the text reader", stacklevel=2)
        return
    done = subprocess.run([assembler, "-o", "-"], input=text.encode(), capture_output=True)
    if done.returncode == 0:
        try:
            llvm.parse_bitcode(done.stdout, context=llvm.create_context()).verify()
        except RuntimeError as err:
            # not `from err`: its frames hold the module, which must not outlive its context in a garbage cycle
            problem = str(err).strip()
        else:
            log.info("%s: read through bitcode (llvmlite's text parser said: %s)", path, reason)
            return
        raise IRParseError(f"LLVM rejects this IR: {problem}", path, line)
    if line is None and _NOT_VERIFIED in done.stderr:  # parsed, but wrong: say what and where, in the file's spelling
        reason, line = _verifier_failure(done.stderr.decode(errors="replace"), text)
    failing = text.split("\n")[line - 1] if line else ""
    if any(marker in failing for marker in _OLD_SYNTAX_MARKERS):
        warnings.warn(f"{path or '<string>'}:{line}: LLVM 22 no longer reads this older syntax ({reason}); "
                      "trusting the text reader", stacklevel=2)
        return
    raise IRParseError(f"LLVM rejects this IR: {reason}", path, line)
