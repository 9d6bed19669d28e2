"""Vocabulary: cutoff, deterministic order, JSON round trip, the published file, clear errors."""
import json

import pytest

from inst2vec.errors import VocabularyError
from inst2vec.vocabulary import UNKNOWN, Vocabulary


def test_build_order_and_cutoff():
    v = Vocabulary.build({"b": 3, "a": 3, "c": 7, "rare": 2, "once": 1}, cutoff=2)
    assert v.statements == [UNKNOWN, "c", "a", "b"]
    assert v.counts == [3, 7, 3, 3]
    assert v.index("rare") == v.index(UNKNOWN) == 0 and v.indices(["a", "zzz"]) == [2, 0]
    assert "a" in v and "rare" not in v and len(v) == 4


@pytest.mark.parametrize("name", ["v.json", "v.json.gz"])
def test_round_trip(tmp_path, name):
    v = Vocabulary.from_statements(["x", "y", "y", "z\n w"], cutoff=0)
    v.save(tmp_path / name)
    w = Vocabulary.load(tmp_path / name)
    assert (w.statements, w.counts, w.cutoff) == (v.statements, v.counts, v.cutoff)


@pytest.mark.parametrize("name", ["v.json", "v.json.gz"])
def test_a_long_vocabulary_is_read_in_pieces(tmp_path, monkeypatch, name):
    """json.load held the text twice (a vocabulary of 262 M characters: 573 MB at the peak, 331 MB in pieces)."""
    import inst2vec.streaming_json
    import inst2vec.vocabulary

    v = Vocabulary.from_statements([f"<%ID> = add i{i} <%ID>, <INT>" for i in range(3000)] * 2, cutoff=0)
    v.save(tmp_path / name)
    monkeypatch.setattr(inst2vec.streaming_json, "WHOLE", 1000)  # texts longer than this are read in pieces

    def read_whole(*args, **kwargs):
        raise AssertionError("json.load read the vocabulary whole")

    monkeypatch.setattr(inst2vec.vocabulary.json, "load", read_whole)
    w = Vocabulary.load(tmp_path / name)
    assert (w.statements, w.counts, w.cutoff) == (v.statements, v.counts, v.cutoff)


def test_truncated_gzip_is_a_clear_error(tmp_path):
    Vocabulary.from_statements(["x"] * 50 + [str(i) for i in range(500)]).save(tmp_path / "v.json.gz")
    data = (tmp_path / "v.json.gz").read_bytes()
    (tmp_path / "v.json.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(VocabularyError, match="cannot read a vocabulary") as caught:
        Vocabulary.load(tmp_path / "v.json.gz")
    assert "v.json.gz" in str(caught.value)


def test_published_vocabulary(data_root):
    v = Vocabulary.load(data_root / "inst2vec-published" / "vocabulary.json")
    assert len(v) == 8565 and v.unknown_index == 8564
    assert v.index("<%ID> = alloca i32, align 4") < 8564


@pytest.mark.parametrize("content, message", [
    ("{not json", "cannot read"),
    (json.dumps({"hello": 1}), "not an inst2vec vocabulary"),
    (json.dumps(["a", "b"]), "must contain '!UNK'"),
    (json.dumps(["a", "a", "!UNK"]), "duplicates"),
    (json.dumps({"format": "inst2vec-vocabulary", "statements": ["!UNK"], "cutoff": "2"}), "cutoff must be a whole"),
    (json.dumps({"format": "inst2vec-vocabulary", "statements": ["!UNK"], "cutoff": -1}), "not -1"),
    ("\n" * 70_000 + "ret void\n" * 10, r"a JSON list or object; this file starts with 'r'"),  # not read whole
])
def test_bad_files(tmp_path, content, message):
    path = tmp_path / "v.json"
    path.write_text(content)
    with pytest.raises(VocabularyError, match=message) as caught:
        Vocabulary.load(path)
    assert str(path) in str(caught.value)


def test_cutoffs_that_are_no_whole_number_at_least_0_are_refused():
    """build refused -1 in other words than the constructor, and a str failed inside with a comparison error."""
    for cutoff in (-1, 1.5, "2", True, None):
        with pytest.raises(VocabularyError, match=f"the cutoff must be a whole number >= 0, not {cutoff!r}"):
            Vocabulary.build({"a": 1}, cutoff=cutoff)


def test_one_str_where_statements_go_is_refused():
    """A str was read as one statement per character: indices('ret void') gave eight !UNK rows, from_statements
    counted characters."""
    vocabulary = Vocabulary.build({"ret void": 2})
    with pytest.raises(TypeError, match=r"statements go in a list, not one str \('ret void'\); one statement's is "
                                        r"\.index\(statement\)"):
        vocabulary.indices("ret void")
    with pytest.raises(TypeError, match=r"statements go in a list, not one str \('ret void'\)$"):
        Vocabulary.from_statements("ret void")
    with pytest.raises(TypeError, match=r"not one str \('!UNK ret void'\)$"):
        Vocabulary("!UNK ret void")
    assert vocabulary.indices(["ret void", "unreachable"]) == [1, 0]
