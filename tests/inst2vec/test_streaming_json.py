"""Reading a JSON object in pieces gives what json.load gives, and never holds the text whole."""
import io
import json
import random

import pytest

from inst2vec.streaming_json import load_object

#: In pieces of these sizes, and whole (a short text).
READINGS = [{"piece": piece, "whole": 0} for piece in (1, 2, 3, 7, 64, 1 << 20)] + [{}]


def _random_value(rng: random.Random, depth: int = 0):
    kind = rng.choice(["int", "float", "str", "literal", "list", "dict"] if depth < 4 else ["int", "float", "str"])
    if kind == "int":
        return rng.choice([0, -1, 7, 123456789, -98765432109876543210])
    if kind == "float":
        return rng.choice([0.5, -2.25, 1e-7, 6.02e23, -1.5e+300, 3.0])
    if kind == "str":
        return "".join(rng.choice('ab "\\\n\té€𝄞\x00') for _ in range(rng.randrange(12)))
    if kind == "literal":
        return rng.choice([True, False, None])
    if kind == "list":
        return [_random_value(rng, depth + 1) for _ in range(rng.randrange(5))]
    return {f"k{i}": _random_value(rng, depth + 1) for i in range(rng.randrange(5))}


def _dumps(rng: random.Random, obj) -> str:
    """``obj`` as JSON in one of the layouts writers use."""
    return json.dumps(obj, **rng.choice([{}, {"indent": 2}, {"separators": (",", ":")}, {"ensure_ascii": False}]))


def test_pieces_of_any_size_give_what_json_load_gives():
    rng = random.Random(0)
    for _ in range(300):
        obj = {f"key{i}": _random_value(rng) for i in range(rng.randrange(6))}
        text = _dumps(rng, obj)
        for reading in READINGS:
            assert json.dumps(load_object(io.StringIO(text), **reading)) == json.dumps(json.loads(text)), text


def test_a_number_cut_where_a_piece_ends_is_read_whole():
    """The decoder takes "12" of 123 and "2" of 2.5e+3 when the piece ends there."""
    for number in ("123", "2.5", "2.5e+3", "-7E-2", "1e10", "-0.125"):
        text = f'{{"a": {number}, "b": [{number}, {number}]}}'
        for piece in range(1, len(text) + 1):
            assert load_object(io.StringIO(text), piece=piece, whole=0) == json.loads(text), (number, piece)


def test_the_object_hook_is_applied_as_json_load_applies_it():
    text = '{"nodes": [{"id": "a"}, {"id": "b", "x": {"y": 1}}], "edges": [], "graph": {}}'
    tag = lambda obj: {**obj, "_keys": len(obj)}  # noqa: E731
    for reading in READINGS:
        assert load_object(io.StringIO(text), tag, **reading) == json.loads(text, object_hook=tag)


@pytest.mark.parametrize("text, message", [
    ("", "Expecting '{': character 0"), ("[1]", "Expecting '{': character 0"),
    ('{"a" 1}', "Expecting ':' delimiter: character 5"),
    ('{"a": 1,}', "Expecting property name enclosed in double quotes: character 8"),
    ('{"a": 1', "Expecting ',' delimiter: character 7"), ('{"a": [1, 2', "Expecting ',' delimiter: character 11"),
    ('{"a": [1 2]}', "Expecting ',' delimiter: character 9"), ('{"a": 1} x', "Extra data: character 9"),
    ("{1: 2}", "Expecting property name enclosed in double quotes: character 1"),
    ('{"a": tru}', "Expecting value: character 6"), ('{"a": [1,]}', "Expecting value: character 9"),
    ('{"a": "x}', "Unterminated string starting at: character 6")])
def test_what_is_not_one_json_object_is_refused_naming_the_character(text, message):
    for reading in READINGS:
        with pytest.raises(ValueError) as refused:
            load_object(io.StringIO(text), **reading)
        assert str(refused.value) == message, reading
    try:  # nor is it to json.load
        assert not isinstance(json.loads(text), dict)
    except ValueError:
        pass


def test_the_text_is_never_held_whole():
    """json.load read the whole text first: a 4.9 GB graph took 9.8 GB at its peak (docs/xfg.md)."""
    reads: list[int] = []

    class Text(io.StringIO):
        def read(self, size=-1):
            reads.append(size)
            return super().read(size)

    edges = [{"source": str(i), "target": str(i + 1), "stmt": "x" * 100} for i in range(20_000)]
    text = json.dumps({"nodes": [{"id": str(i)} for i in range(20_001)], "edges": edges})
    assert load_object(Text(text), piece=4096, whole=1000)["edges"] == edges
    assert len(text) > 2_000_000 and reads[0] == 1000 and max(reads[1:]) < 8192 and -1 not in reads
