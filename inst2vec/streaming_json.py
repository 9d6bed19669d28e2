"""Reading a large JSON object without holding its text whole: the elements of its arrays are decoded one by one.

``json.load`` reads the whole text first: a node-link graph of 4.9 GB took 9.8 GB at its peak (the bytes and the
characters) before a single object was made. :func:`load_object` reads the text in pieces and decodes each value of
the object, and each element of an array value, with ``json``'s own decoder, so that only one piece and what has
been decoded are held. A text of up to :data:`WHOLE` characters is decoded at once, as ``json.load`` does: element
by element took 2.5 times as long (a graph of 0.5 MB: 15 ms against 6).
"""
from __future__ import annotations

import json
import re
from typing import IO, Any, Callable

#: Characters read at a time. A value longer than that is decoded again with twice the text held, then four
#: times, …: a few times at most.
PIECE = 1 << 20
#: A text of up to this many characters is decoded at once.
WHOLE = 1 << 26

_BLANK = re.compile(r"[ \t\n\r]*")


def load_object(text: IO[str], object_hook: Callable[[dict], Any] | None = None, piece: int = PIECE,
                whole: int | None = None) -> Any:
    """``json.load(text, object_hook=object_hook)`` of a text holding one JSON object, read ``piece`` characters
    at a time if it is longer than ``whole`` (default :data:`WHOLE`).

    Raises:
        ValueError: the text is not one JSON object; the message names the character where (counted from 0).
    """
    reader = _Reader(text, object_hook, piece)
    whole = WHOLE if whole is None else whole
    reader.buffer = text.read(whole)
    if len(reader.buffer) < whole and reader.peek() == "{":  # all of it, and an object
        try:
            return reader.decoder.decode(reader.buffer)
        except json.JSONDecodeError as err:
            raise _located(err.msg, err.pos) from None
    obj: dict[str, Any] = {}

    def member() -> None:
        if reader.peek() != '"':
            raise reader.error("Expecting property name enclosed in double quotes")
        key = reader.value()
        reader.expect(":")
        obj[key] = reader.array() if reader.peek() == "[" else reader.value()

    reader.each("{", member, "}")
    if reader.peek():
        raise reader.error("Extra data")
    return object_hook(obj) if object_hook else obj


def _located(message: str, position: int) -> ValueError:
    """``message`` at the character ``position`` of the text, as ``json`` words its errors."""
    return ValueError(f"{message}: character {position:,}")


class _Reader:
    """The text held: ``buffer[pos:]`` is what is left to decode; ``offset`` characters came before ``buffer``."""

    def __init__(self, text: IO[str], object_hook: Callable[[dict], Any] | None, piece: int):
        self.text, self.piece = text, piece
        self.decoder = json.JSONDecoder(object_hook=object_hook)
        self.buffer, self.pos, self.offset, self.ended = "", 0, 0, False

    def _read(self) -> bool:
        """Hold more of the text (at least as much again as is held: a long value is not decoded again and again);
        False at its end."""
        more = "" if self.ended else self.text.read(max(self.piece, len(self.buffer) - self.pos))
        if not more:
            self.ended = True
            return False
        self.offset += self.pos
        self.buffer, self.pos = self.buffer[self.pos:] + more, 0
        return True

    def peek(self) -> str:
        """The next character that is not blank ('' at the end of the text), left to read."""
        while True:
            self.pos = _BLANK.match(self.buffer, self.pos).end()
            if self.pos < len(self.buffer) or not self._read():
                return self.buffer[self.pos:self.pos + 1]

    def expect(self, character: str) -> None:
        """Read ``character``, else raise (in ``json``'s words where it has them)."""
        if self.peek() != character:
            raise self.error(f"Expecting {character!r}" + (" delimiter" if character == ":" else ""))
        self.pos += 1

    def each(self, opening: str, read_one: Callable[[], None], closing: str) -> None:
        """Read ``opening``, then ``read_one()`` for each of the comma-separated members up to ``closing``."""
        self.expect(opening)
        if self.peek() == closing:
            self.pos += 1
            return
        while True:
            read_one()
            character = self.peek()
            if character not in (",", closing):
                raise self.error("Expecting ',' delimiter")
            self.pos += 1
            if character == closing:
                return

    def value(self) -> Any:
        """The next JSON value, decoded whole. A value cut off where the held text ends cannot be told from a
        damaged one: a damaged value is reported once the text after it has been read."""
        self.peek()
        while True:
            try:
                value, end = self.decoder.raw_decode(self.buffer, self.pos)
            except json.JSONDecodeError as err:
                if self._read():  # cut off where the held text ends: decoded again with more of it
                    continue
                raise _located(err.msg, self.offset + err.pos) from None
            # A number may go on in the text not read yet: "12" of 123, "2" of 2.5 (the decoder left "2." alone).
            # What it leaves at the end of the held text is at most two characters ("e+" of 2e+3).
            if self.buffer[self.pos] not in "-0123456789" or len(self.buffer) - end > 2 or not self._read():
                self.pos = end
                return value

    def array(self) -> list:
        """The next JSON array, its elements decoded one by one."""
        items: list = []
        self.each("[", lambda: items.append(self.value()), "]")
        return items

    def error(self, message: str) -> ValueError:
        """``message`` at the character to read next."""
        return _located(message, self.offset + self.pos)
