"""Spell LLVM IR statement units as inst2vec statements, exactly as the published vocabulary does.

``file_statements(path)`` gives the ordered statements of one ``.ll`` file; ``normalize_units``
does the work on units read by :mod:`inst2vec.ir`: named struct types are inlined as their
literal bodies, then identifiers and immediates are abstracted (``<%ID>``, ``<@ID>``, ``<INT>``,
``<FLOAT>``, `` <STRING>``, ``<TYP>``). The rules, quirks included, are those of the original
implementation (spcl/ncc, text path); docs/statements.md lists them with examples.

The substitutions run over the text of many units at once (pieces of up to ``BATCH_CHARS``)
rather than line by line; the patterns never cross a line, so the result is the same, many
times faster.
"""
from __future__ import annotations

import hashlib
import os
import re
from collections import Counter
from typing import Callable, Iterable, Iterator, Sequence

import regex  # same matching rules as `re`; far less backtracking on the nested struct-type patterns

from inst2vec.errors import IRParseError
from inst2vec.ir import (CHUNK_BYTES, LOCAL_NAME, IRModule, check_functions_closed, has_bad_line, reads_at_once,
                         iter_module_chunks, module_from_preprocessed, needs_collapse, preprocess, read_text,
                         shorten)

# ---------------------------------------------------------------------------------------------
# Identifiers and immediates (published rules; see docs/statements.md, "Abstraction").
LOCAL_ID = re.compile(LOCAL_NAME)
# Lookbehinds sit after the first literal character so the regex engine can skip ahead; hexadecimal
# and decimal floats run as one pass (their matches cannot overlap).
# A quoted global name is taken whole (the original's class stopped at characters such as `?`, ` ` or `[`).
GLOBAL_ID = re.compile(r'@(?<!%"@)(?:"[^"\n]*"|["\w.\-$\\]+)')
# Hexadecimal floats as the original spelled them (``0xK``: x86_fp80, ``0xL``: fp128, ``0xM``: ppc_fp128, ``0xH``:
# half), and (not in the original) ``0xR``, LLVM 11's bfloat, which became ``<INT>xR3F80``.
_FLOAT = re.compile(r" -?(?:0[xX][hklmrHKLMR]?[A-Fa-f0-9]+|[0-9]+\.[0-9]+(?:e\+?-?[0-9]+)?)")
_INT = re.compile(r" (?<!align )(?<!\[ )-?[0-9]+")
_STRING = re.compile(r'c"(?<!\wc").+"')
_INDEX_TYPE = re.compile(r"i\d+ ")
# Units whose integers stay literal (indices of extract/insert); the element ones get <TYP>.
_LITERAL_INDEX_UNITS = tuple(f"<%ID> = {op}" for op in
                             ("extractelement", "extractvalue", "insertelement", "insertvalue"))
_INDEX_TYPE_UNITS = ("<%ID> = extractelement", "<%ID> = insertelement")
# Labels are dropped from the statement stream; old-style "; <label>:N" ones too.
_LABEL = r'; <label>:\d|"[^"\n]*":|["@\w.\-:]+:'
_LABEL_TOKEN = re.compile(_LABEL)
_LABEL_LINE = re.compile(r"\n(?:" + _LABEL + r")[^\n]*")
_UNIT_START = re.compile(r"\n(?! )")  # units are joined by "\n"; their inner lines start with " "

# ---------------------------------------------------------------------------------------------
# Named struct types (published rules; see docs/statements.md, "Struct types").
_STRUCT_LOOKAHEAD = r"(?=[\s,*\]}])"
# A quoted name is taken whole first (Rust's %"alloc::vec::Vec<(u32, u32)>"); no name holds a "%" past its start.
_STRUCT_NAME_BARE = (
    r'(?:%"[^"\n%]*"|%["@\w.\-:]+(?:(?:<["@\w.\-:,<>() *]+>|\(["@\w.\-:,<> *]+\)|\w+)?::[" @\w.\-:)(]*)*'
    r'(?:\([\w=]+\)")?)'
)
STRUCT_NAME = re.compile(_STRUCT_NAME_BARE + _STRUCT_LOOKAHEAD)
_STRUCT_DEFINITION = re.compile(_STRUCT_NAME_BARE + _STRUCT_LOOKAHEAD + r" = type <?{?")
_STRUCT_DEFINITION_PARTS = re.compile("(" + _STRUCT_NAME_BARE + _STRUCT_LOOKAHEAD + r") = type (<?{?.*}?>?)$")


def _any_of(patterns: Sequence[str], suffix: str = "") -> str:
    """Regex alternation of ``patterns``; with ``suffix`` each alternative ends in ``suffix + " "``."""
    if suffix:
        return "(?:" + "|".join(p + suffix + " " for p in patterns) + ")"
    return "(?:" + "|".join(patterns) + ")"


_FIRST_CLASS = _any_of([r"i\d+", "half", "float", "double", "fp_128", "x86_fp80", "ppc_fp128", "<%ID>"]) + r"\**"
_VECTOR = r"<\d+ x " + _FIRST_CLASS + ">"
_ARRAY = r"\[\d+ x " + _FIRST_CLASS + r"\]"
_ARRAY_OF_ARRAY = r"\[\d+ x \[\d+ x " + _FIRST_CLASS + r"\]\]"
_FUNCTION = (_FIRST_CLASS + r" \(" + _any_of([_FIRST_CLASS, _VECTOR, _ARRAY, "..."], ",") + "*"
             + _any_of([_FIRST_CLASS, _VECTOR, _ARRAY, "..."]) + r"\)\**")
_ENTRY = _any_of([_FIRST_CLASS, _VECTOR, _ARRAY, _ARRAY_OF_ARRAY, _FUNCTION])
_ENTRY_WITH_COMMA = _any_of([_FIRST_CLASS, _VECTOR, _ARRAY, _ARRAY_OF_ARRAY, _FUNCTION], ",")
_LITERAL_STRUCT = "(<?{ " + _ENTRY_WITH_COMMA + "*" + _ENTRY + " }>?|opaque|{})"
# The published rules never met ``ptr`` (opaque pointers, clang >= 15) or address spaces (GPU targets): the loose
# pattern takes them too, or struct types holding them could not be resolved. Its second form takes any body that
# names no type (no ``%`` but in ``<%ID>``), so other types beside ``ptr`` are resolved as well: ``half``,
# ``x86_fp80``, ``ppc_fp128``, ``x86_amx``, scalable vectors (``<vscale x 4 x i32>``), target types
# (``target("spirv.Event")``).
_LOOSE_LITERAL_STRUCT = (r"<?{ (?:(?:[ <>{}\dx\[\]\(\)\.,\*%IDvfloatdubeipqcy]|addrspace\(\d+\)|ptr)+"
                         r"|(?:<%ID>|[^%])+)}>?$")
_MAX_INLINING_ROUNDS = 1000


def build_struct_dictionary(definitions: Iterable[str], path: str | os.PathLike | None = None) -> dict[str, str]:
    """Resolve named struct types to literal bodies, e.g. ``{"%struct.vec": "{ float, float }"}``.

    Bodies that only hold first-class types are inlined into the others round after round;
    a type that refers to itself (directly or through others) gets the reference replaced by
    ``<name>_cyclic``, whose body is ``opaque``: ``%list = type { i32, %list* }`` becomes
    ``{ i32, opaque* }``. Order and quirks follow the original, so spellings match the
    published vocabulary. The nested patterns of rounds 0-2 run on the ``regex`` engine: same
    answers as ``re`` (checked against the original), without its exponential backtracking on
    bodies full of function pointers (``re``: 32 s for one struct of SMG2000's pcg.c; ``regex``: 0.3 s).

    Args:
        definitions: units of the form ``%name = type ...`` (other units are ignored).
        path: the file they come from, named in errors.

    Raises:
        IRParseError: the definitions cannot be resolved (the original asserted here).
    """
    pending: dict[str, str] = {}
    for line in definitions:
        if _STRUCT_DEFINITION.match(line):
            m = _STRUCT_DEFINITION_PARTS.search(line)
            if m:
                pending[m.group(1)] = m.group(2)
    defined = dict(pending)  # every definition as written, for naming what went wrong
    literal = regex.compile(_LITERAL_STRUCT)
    to_inline = {name: body for name, body in pending.items() if literal.match(body)}
    for name in to_inline:
        del pending[name]
    ready: dict[str, str] = {}
    references = _References()
    entries, entries_with_comma = [_ENTRY, _LITERAL_STRUCT], [_ENTRY_WITH_COMMA, _LITERAL_STRUCT + ", "]
    use_ready, rounds, previous_size = False, 0, len(pending)
    while pending:
        for name, body in to_inline.items():
            for other in list(pending):
                if references.search(name, pending[other]):
                    pending[other] = references.sub(name, body, pending[other])
        if use_ready:
            for other, snapshot in list(pending.items()):
                for name, body in ready.items():  # each match restarts from the snapshot (original quirk)
                    if references.search(name, snapshot):
                        pending[other] = references.sub(name, body, snapshot)
        ready.update(to_inline)
        to_inline = {}
        if rounds < 3:
            composite = "<?{ " + _any_of(entries_with_comma) + "*" + _any_of(entries) + " }>?"
            entries.append(composite)
            entries_with_comma.append(composite + ", ")
        else:
            composite = _LOOSE_LITERAL_STRUCT
        composite_re = regex.compile(composite)
        for name in list(pending):
            if composite_re.match(pending[name]):
                to_inline[name] = pending.pop(name)
        rounds += 1
        if len(pending) == previous_size and rounds > 3:
            cycle_found = _break_cycles(pending, to_inline, references)
            if cycle_found:
                use_ready = False
            elif not use_ready:
                use_ready = True
            else:
                raise _unresolved(pending, defined, references, path,
                                  f"cannot resolve the struct types {', '.join(sorted(pending))}")
        previous_size = len(pending)
        if rounds >= _MAX_INLINING_ROUNDS:
            raise _unresolved(pending, defined, references, path,
                              f"struct types still unresolved after {rounds} rounds: {', '.join(sorted(pending))}")
    ready.update(to_inline)
    return ready


def _unresolved(pending: dict[str, str], defined: dict[str, str], references: "_References",
                path: str | os.PathLike | None, message: str) -> IRParseError:
    """The error for struct types left ``pending``: a type that a definition names but the file does not define
    (a deleted or misspelt definition), else the first type stuck on its own body (one that names no other
    pending type), with the line of that definition where the file can be read; else ``message``."""
    for name in sorted(pending):
        missing = [found for found in STRUCT_NAME.findall(defined[name]) if found not in defined]
        if missing:
            return IRParseError(f"struct type {name} names {missing[0]}, which the file does not define", path,
                                _definition_line(path, name))
    for name, body in pending.items():
        if not any(references.search(other, body) for other in pending if other != name):
            return IRParseError(f"{message}: {name} = type {shorten(defined[name])} is not a type the inst2vec "
                                "rules can read", path, _definition_line(path, name))
    return IRParseError(message, path)


def _definition_line(path: str | os.PathLike | None, name: str) -> int | None:
    """The 1-based line of ``path`` that defines struct type ``name``; None for text from memory, bitcode (its
    lines are the disassembly's) or a file that no longer reads."""
    if path is None:
        return None
    start = f"{name} = type ".encode()
    try:
        with open(path, "rb") as f:
            return next((number for number, line in enumerate(f, 1) if line.startswith(start)), None)
    except OSError:
        return None


_DELIMITERS = frozenset(" \t\n\r\f\v,*]}")  # what may follow a type name (the original's lookahead)


class _References:
    """Occurrences of a type name followed by a delimiter, as ``re.escape(name) + (?=[\\s,*\\]}])``
    finds them, with ``str.find`` (no regex to compile per name: files can hold thousands)."""

    @staticmethod
    def _positions(name: str, text: str) -> Iterator[int]:
        size, at = len(name), text.find(name)
        while at != -1:
            end = at + size
            if end < len(text) and text[end] in _DELIMITERS:
                yield at
                at = text.find(name, end)
            else:
                at = text.find(name, at + 1)

    def search(self, name: str, text: str) -> bool:
        return name in text and next(self._positions(name, text), None) is not None

    def sub(self, name: str, body: str, text: str) -> str:
        at = text.find(name)
        if at == -1:
            return text
        end = at + len(name)
        if text.find(name, at + 1) == -1:  # the common case: one occurrence
            return text[:at] + body + text[end:] if end < len(text) and text[end] in _DELIMITERS else text
        pieces, last = [], 0
        for at in self._positions(name, text):
            pieces += (text[last:at], body)
            last = at + len(name)
        return "".join(pieces) + text[last:] if pieces else text


def _break_cycles(pending: dict[str, str], to_inline: dict[str, str], references: _References) -> bool:
    """Replace self- and mutual references by ``<name>_cyclic`` (= ``opaque``); True if any."""
    cycle_found = False
    for name, body in list(pending.items()):
        cyclic = name + "_cyclic"
        if references.search(name, body):
            cycle_found = True
            to_inline[cyclic] = "opaque"
            pending[name] = references.sub(name, cyclic, body)
        if not cycle_found:
            for other, other_body in list(pending.items()):
                if (other, other_body) != (name, body) and references.search(name, other_body):
                    cycle_found = True
                    to_inline[cyclic] = "opaque"
                    pending[other] = references.sub(name, cyclic, other_body)
    return cycle_found


def inline_struct_types(units: Sequence[str], struct_types: dict[str, str],
                        placeholders: list[str] | None = None) -> list[str]:
    """Replace every named struct type in ``units`` by its literal body from ``struct_types``.

    With a ``placeholders`` list, a body that abstraction cannot change (see :func:`_inert`) goes in
    as ``\\x00k\\x01`` (``placeholders[k]`` is the body) and :func:`_expand` puts it back after
    abstraction: inlined C++ types can make a module's statements gigabytes long, and the
    substitutions then scan only the short form. Element units keep real bodies (``<TYP>``
    rewrites ``iN `` inside them).
    """
    if not struct_types:
        return list(units)
    references, definitions = _References(), _Definitions()
    slots: dict[str, str] = {}
    # Every name contains its prefix up to the first "." (%struct., %class., ...): a unit holding none of
    # the prefixes holds no name, and skips the costlier name pattern. Few prefixes in practice.
    prefixes = {name[:name.find(".") + 1] or name for name in struct_types}
    if len(prefixes) > 8:
        prefixes = {"%"}
    out = list(units)
    candidates = sorted({i for prefix in prefixes for i, unit in enumerate(out) if prefix in unit})

    def short_body(name: str) -> str:
        body = struct_types[name]
        if name not in slots:  # decided once per name: bodies can be megabytes long
            slots[name] = f"\x00{len(placeholders)}\x01" if _inert(body) else None
            if slots[name]:
                placeholders.append(body)
        return slots[name] or body

    if placeholders is not None:
        candidates = _inline_in_one_pass(out, candidates, struct_types, definitions, short_body)
    for i in candidates:
        unit = out[i]
        # Each name once: the original substituted again per occurrence (quadratic on long
        # initializers); a repeat is a no-op, since a body never holds its own name.
        names = [name for name in dict.fromkeys(STRUCT_NAME.findall(unit)) if name in struct_types]
        if not names:
            continue
        short = placeholders is not None and not _is_element_unit(unit)
        for name in names:
            if not definitions.defines(name, unit):
                unit = references.sub(name, short_body(name) if short else struct_types[name], unit)
        out[i] = unit
    return out


def _inline_in_one_pass(out: list[str], candidates: list[int], struct_types: dict[str, str],
                        definitions: "_Definitions", short_body: Callable[[str], str]) -> list[int]:
    """Inline the names of most candidate units with one substitution over all of them; returns the rest.

    The same result as the per-unit loop of :func:`inline_struct_types`: a ``%`` occurs in a name
    match only at its start, so the occurrences of a name followed by a delimiter are exactly the
    pattern's matches of that name, and bodies without ``%`` create no new ones. Left to the loop:
    units that may define a type-named value (they start with a name's literal part), element units
    (real bodies), and everything when some body holds a ``%``.
    """
    if any("%" in body for body in struct_types.values()):
        return candidates
    defining = tuple({definitions[name] for name in struct_types})
    plain = [i for i in candidates if not out[i].startswith(defining) and not _is_element_unit(out[i])]
    joined = "\x02".join(out[i] for i in plain)  # no name match can hold or cross \x02

    def replace(m: re.Match) -> str:  # the pattern's lookahead \s is wider than the delimiters (\xa0, ...)
        name = m[0]
        known = name in struct_types and m.end() < len(joined) and joined[m.end()] in _DELIMITERS
        return short_body(name) if known else name

    pieces = STRUCT_NAME.sub(replace, joined).split("\x02")
    if len(pieces) != len(plain):  # a unit held \x02 itself: leave all to the loop
        return candidates
    for i, piece in zip(plain, pieces):
        out[i] = piece
    done = set(plain)
    return [i for i in candidates if i not in done]


def _inert(body: str) -> bool:
    """Whether no abstraction rule can touch ``body``: no identifiers, quotes or spaced numbers.

    Bodies start with ``{``, ``<`` or ``o`` and end with ``}``, ``>`` or ``e``, so no rule can match
    across their ends either.
    """
    return not ("%" in body or "@" in body or '"' in body or _SPACED_NUMBER.search(body))


_SPACED_NUMBER = re.compile(r" -?[0-9]")
_ELEMENT_UNIT = re.compile(r"<%ID> = (?:extractelement|insertelement) ")


def _is_element_unit(unit: str) -> bool:
    return "element" in unit and _ELEMENT_UNIT.match(LOCAL_ID.sub("<%ID>", unit)) is not None


def _expand(tokens: list[str], placeholders: list[str]) -> list[str]:
    """Tokens with the struct bodies of their placeholders put back. Equal tokens become one string object: a file
    repeats its statements, and each can be megabytes of inlined C++ types (a 4.5 MB file's statements: 2.6 GB
    in all, 205 MB distinct)."""
    if not placeholders:
        return tokens
    expanded: dict[str, str] = {}
    out = []
    for token in tokens:
        if "\x00" in token:
            full = expanded.get(token)
            if full is None:
                full = expanded[token] = "".join(_expanded_parts(token, placeholders))
            token = full
        out.append(token)
    return out


def _expanded_parts(token: str, placeholders: list) -> list:
    """``a\x00k\x01b`` -> ``[a, placeholders[k], b]``."""
    first, *rest = token.split("\x00")
    parts = [first]
    for piece in rest:
        index, _, tail = piece.partition("\x01")
        parts += (placeholders[int(index)], tail)
    return parts


class _Definitions(dict):
    """Whether a unit assigns a value named like a type (``%0 = ...`` with ``%0 = type``).

    The original used the type name as a regex here (``.`` matching any character); so do we,
    for identical results, but try the pattern only on units that start with the name's literal
    part (up to its first regex metacharacter): no match can start otherwise.
    """

    def __missing__(self, name: str) -> str:
        m = _REGEX_METACHARACTER.search(name)
        self[name] = prefix = name if m is None else name[:m.start()]
        return prefix

    def defines(self, name: str, unit: str) -> bool:
        if not unit.startswith(self[name]):
            return False
        try:
            return re.match(name + r"\d* = ", unit) is not None
        except re.error:
            return False


_REGEX_METACHARACTER = re.compile(r"[.^$*+?{}\[\]\\|()]")


def normalize_units(units: Sequence[str], struct_types: dict[str, str] | None = None) -> list[str]:
    """Abstract statement units into inst2vec tokens, one token per unit (labels included).

    Args:
        units: statement units from :mod:`inst2vec.ir` (stripped, metadata removed).
        struct_types: named struct bodies from :func:`build_struct_dictionary`.

    Returns:
        One token per unit, in order. Use :func:`statements_from_tokens` to drop labels.

    Example:
        >>> normalize_units(["%cmp = icmp sgt i32 %n, 10", "@g = global i32 42, align 4"])
        ['<%ID> = icmp sgt i32 <%ID>, <INT>', '<@ID> = global i32 <INT>, align 4']
    """
    placeholders: list[str] = []
    return _expand(_normalize_short(units, struct_types, placeholders), placeholders)


def _normalize_short(units: Sequence[str], struct_types: dict[str, str] | None, placeholders: list[str]
                     ) -> list[str]:
    """:func:`normalize_units` with inert struct bodies left as placeholders (appended to ``placeholders``)."""
    if not units:
        return []
    units = inline_struct_types(units, struct_types or {}, placeholders)
    tokens: list[str] = []
    for start, stop in _batches(units):  # bounded pieces: inlined C++ types can make units huge
        batch = _UNIT_START.split(_abstract("\n".join(units[start:stop])))
        if len(batch) != stop - start:
            raise AssertionError(f"unit count changed during normalisation: {stop - start} -> {len(batch)}")
        tokens += batch
    return tokens


#: Units are abstracted in pieces of at most about this many characters (each substitution copies
#: its piece, so this bounds the extra memory).
BATCH_CHARS = 16 * 1024 * 1024


def _batches(units: Sequence[str]) -> Iterator[tuple[int, int]]:
    if sum(map(len, units)) + len(units) <= BATCH_CHARS:
        yield 0, len(units)
        return
    start, size = 0, 0
    for i, unit in enumerate(units):
        if size and size + len(unit) > BATCH_CHARS:
            yield start, i
            start, size = i, 0
        size += len(unit) + 1
    yield start, len(units)


def _abstract(text: str) -> str:
    """Abstract identifiers and immediates in units joined by newlines (empty lines allowed)."""
    text = LOCAL_ID.sub("<%ID>", text)
    text = GLOBAL_ID.sub("<@ID>", text)
    text = _FLOAT.sub(" <FLOAT>", text)
    if "> = extract" in text or "> = insert" in text:
        text = "\n".join(_replace_integers(_UNIT_START.split(text)))
    else:
        text = _INT.sub(" <INT>", text)
    if 'c"' in text:
        text = _STRING.sub(" <STRING>", text)
    return text


def _replace_integers(tokens: list[str]) -> list[str]:
    """``<INT>`` everywhere but in extract/insert units, whose element index types become ``<TYP>``."""
    out, run = [], []
    for token in tokens:
        if token.startswith(_LITERAL_INDEX_UNITS):
            if run:
                out.append(_INT.sub(" <INT>", "\n".join(run)))
                run = []
            out.append(_INDEX_TYPE.sub("<TYP> ", token) if token.startswith(_INDEX_TYPE_UNITS) else token)
        else:
            run.append(token)
    if run:
        out.append(_INT.sub(" <INT>", "\n".join(run)))
    return out


def is_label(token: str) -> bool:
    """Whether a token is a basic-block label (``for.body:``, ``5:``, ``; <label>:5``)."""
    return _LABEL_TOKEN.match(token) is not None


def statements_from_tokens(tokens: Iterable[str]) -> list[str]:
    """Drop empty and label tokens and tidy ``; preds =`` comments, as the original's text path did."""
    out = []
    for token in tokens:
        if not token or (":" in token and _LABEL_TOKEN.match(token)):  # every label holds a ":"
            continue
        if "; preds = " in token:
            parts = token.split("  ")
            token = parts[0] + parts[-1] if parts[-1].startswith(" ") else parts[0] + " " + parts[-1]
        out.append(token)
    return out


class StatementCache:
    """Memo of raw IR line -> statement, shared across the files of a batch.

    Identical lines recur across files (the same kernel at other optimisation levels or problem
    sizes, shared headers), and a line's statement depends on the line alone when its file has no
    named struct types and no multi-line statements; only such files use the cache, so results
    are the same with or without it. Holds at most ``max_lines`` lines (then starts afresh), or
    the distinct lines of one file where that file alone has more.

    Example:
        >>> cache = StatementCache()
        >>> text_statements("define i32 @f() #0 {\\n  ret i32 42\\n}", cache=cache)
        ['define i32 <@ID>()', 'ret i32 <INT>']
        >>> len(cache)  # the distinct lines seen: define, ret and }
        3
        >>> text_statements("define i32 @g() #0 {\\n  ret i32 42\\n}", cache=cache)  # one new line
        ['define i32 <@ID>()', 'ret i32 <INT>']
        >>> len(cache)
        4
    """

    def __init__(self, max_lines: int = 2_000_000, max_dictionaries: int = 16):
        self.max_lines = max_lines
        self.max_dictionaries = max_dictionaries
        self._tokens: dict[str, str] = {}
        self._dictionaries: dict[tuple[str, ...], dict[str, str]] = {}

    def __len__(self) -> int:
        return len(self._tokens)

    def struct_types(self, struct_lines: tuple[str, ...], path: str | os.PathLike | None = None) -> dict[str, str]:
        """:func:`build_struct_dictionary` of ``struct_lines``, remembered for the latest few sets of lines
        (the variants of a source and the files of a program often define the same types). Read only."""
        found = self._dictionaries.pop(struct_lines, None)
        if found is None:
            found = build_struct_dictionary(struct_lines, path)
            if len(self._dictionaries) >= self.max_dictionaries:
                del self._dictionaries[next(iter(self._dictionaries))]  # the least recently used
        self._dictionaries[struct_lines] = found
        return found

    def statements(self, text: str, path: str | os.PathLike | None = None) -> list[str] | None:
        """The statements of ``text`` through the cache, or ``None`` if the file cannot use it."""
        if " = type " in text or "switch" in text or "invoke" in text or "landingpad" in text:
            return None
        if "define" not in text:
            return None  # no function: the uncached path checks that every line is a global
        check_functions_closed(text, path)
        lines = text.split("\n")
        tokens = self._tokens
        distinct = dict.fromkeys(lines)
        misses = [line for line in distinct if line not in tokens]
        if misses:
            if len(tokens) + len(misses) > self.max_lines:
                tokens.clear()  # start afresh: this file's hits are gone too
                misses = list(distinct)
            kept, _ = preprocess("\n".join(misses), path, check=False)
            if has_bad_line(kept):
                return None  # the uncached path reports the error with its line number
            for line, token in zip(misses, _abstract(kept).split("\n")):
                tokens[line] = (statements_from_tokens([token]) or [""])[0]  # "" for dropped lines and labels
        return [token for token in map(tokens.__getitem__, lines) if token]


def text_statements(text: str, path: str | os.PathLike | None = None,
                    cache: StatementCache | None = None) -> list[str]:
    """The ordered inst2vec statements of LLVM IR text (labels dropped).

    Args:
        text: the IR.
        path: named in error messages.
        cache: a :class:`StatementCache` shared by the files of a batch (same result, faster).

    Raises:
        IRParseError: bad input (truncated, unknown instruction); names file and line.
    """
    return _expand(*_short_text_statements(text, path, cache))


def _short_text_statements(text: str, path: str | os.PathLike | None, cache: StatementCache | None
                           ) -> tuple[list[str], list[str]]:
    """The statements of ``text`` with inert struct bodies as placeholders, and the placeholders' bodies.

    Labels and ``; preds =`` comments are handled on the short form: they never hold struct types.
    """
    if cache is not None:
        cached = cache.statements(text, path)
        if cached is not None:
            return cached, []
    kept, struct_lines = preprocess(text, path)
    if not struct_lines:
        struct_types = {}
    else:
        struct_types = (cache.struct_types(struct_lines, path) if cache is not None
                        else build_struct_dictionary(struct_lines, path))
    if struct_types or needs_collapse(kept):
        module = module_from_preprocessed(kept, struct_lines, path)
        placeholders: list[str] = []
        return statements_from_tokens(_normalize_short(module.units, struct_types, placeholders)), placeholders
    text = _LABEL_LINE.sub("\n", "\n" + _abstract(kept))
    if "; preds = " in text:
        return statements_from_tokens(text.split("\n")), []
    return [token for token in text.split("\n") if token], []


def module_statements(module: IRModule) -> list[str]:
    """The inst2vec statements of an :class:`~inst2vec.ir.IRModule`, in file order."""
    return statements_from_tokens(normalize_units(module.units, module.struct_types))


def _short_file_statements(path: str | os.PathLike, cache: StatementCache | None = None
                           ) -> Iterator[tuple[list[str], list[str]]]:
    """A file's statements in pieces, each as ``(statements with placeholders, placeholder bodies)``.

    Files over ``CHUNK_BYTES`` are read function by function, so memory stays bounded.
    """
    if reads_at_once(path, CHUNK_BYTES):
        yield _short_text_statements(read_text(path), path, cache)
        return
    struct_types = None
    for piece in iter_module_chunks(path):
        if struct_types is None:
            struct_types = piece.struct_types
        placeholders: list[str] = []
        yield statements_from_tokens(_normalize_short(piece.units, struct_types, placeholders)), placeholders


def iter_file_statements(path: str | os.PathLike) -> Iterator[str]:
    """Stream the inst2vec statements of a ``.ll`` file; memory stays bounded on huge files."""
    for statements, placeholders in _short_file_statements(path):
        yield from _expand(statements, placeholders)


def file_statements(path: str | os.PathLike, cache: StatementCache | None = None) -> list[str]:
    """The ordered inst2vec statements of one ``.ll`` file (labels dropped).

    Args:
        path: the file.
        cache: an optional :class:`StatementCache` shared across a batch of files.

    Raises:
        IRParseError: bad input (empty, binary, truncated, unknown instruction); names file and line.
    """
    return [s for statements, placeholders in _short_file_statements(path, cache)
            for s in _expand(statements, placeholders)]


def file_statement_hashes(path: str | os.PathLike, cache: StatementCache | None = None
                          ) -> tuple[str, int, set[bytes]]:
    """The sha256 of a ``.ll`` file's statements joined by newlines, their number, and the distinct
    ``sha256(statement)[:16]``.

    The same as hashing ``"\\n".join(file_statements(path))`` and each distinct statement, without building the
    statements: inlined C++ struct types can make one file's statements gigabytes long, their short forms stay small.

    Raises:
        IRParseError: as :func:`file_statements`.
    """
    whole, count, distinct = hashlib.sha256(), 0, set()
    for statements, placeholders in _short_file_statements(path, cache):
        if not statements:
            continue
        if count:
            whole.update(b"\n")
        count += len(statements)
        bodies = [body.encode() for body in placeholders]
        _update_expanded(whole, "\n".join(statements), bodies)  # placeholders never span statements
        distinct.update(_statement_digest(statement, bodies) for statement in set(statements))
    return whole.hexdigest(), count, distinct


def _statement_digest(statement: str, bodies: list[bytes]) -> bytes:
    """``sha256(statement)[:16]``, the placeholders' (encoded) bodies in place."""
    if "\x00" not in statement:
        return hashlib.sha256(statement.encode()).digest()[:16]
    one = hashlib.sha256()
    _update_expanded(one, statement, bodies)
    return one.digest()[:16]


def _update_expanded(digest, text: str, bodies: list[bytes]) -> None:
    """Feed ``text`` to ``digest`` with the placeholders' (encoded) bodies in place, without building the
    expanded text."""
    if "\x00" not in text:
        digest.update(text.encode())
        return
    for i, part in enumerate(_expanded_parts(text, bodies)):  # text, body, text, body, ..., text
        digest.update(part if i % 2 else part.encode())


def count_file_statements(path: str | os.PathLike, cache: StatementCache | None = None) -> Counter:
    """How often each statement occurs in one ``.ll`` file."""
    return Counter(file_statements(path, cache))


def count_corpus_statements(files: Sequence[str], jobs: int = 1, progress: bool | None = None
                            ) -> tuple[Counter, list[str], list[str]]:
    """Statement counts over many files (one :class:`StatementCache` per worker batch).

    Returns:
        ``(counts, readable, errors)``: the counts, the files that were read, and one message
        per file that could not be.
    """
    import functools

    from inst2vec.batch import run_batch

    counts: Counter = Counter()
    readable, errors = [], []
    for result in run_batch(functools.partial(count_file_statements, cache=StatementCache()), files, jobs,
                            progress, "counting"):
        if result.ok:
            counts.update(result.value)
            readable.append(result.path)
        else:
            errors.append(result.error)
    return counts, readable, errors
