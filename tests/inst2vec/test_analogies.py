"""Analogy questions generated from a vocabulary, by category and exact relation."""
import pytest

from inst2vec.analogies import generate_analogies, write_analogies
from inst2vec.errors import VocabularyError
from inst2vec.evaluation import Analogy, evaluate_analogies, read_analogies

VOCABULARY = [
    "<%ID> = add i32 <%ID>, <%ID>", "<%ID> = add i64 <%ID>, <%ID>",
    "<%ID> = sub i32 <%ID>, <%ID>", "<%ID> = sub i64 <%ID>, <%ID>",
    "<%ID> = fadd float <%ID>, <%ID>", "<%ID> = fadd fast float <%ID>, <%ID>",
    "<%ID> = fmul float <%ID>, <%ID>", "<%ID> = fmul fast float <%ID>, <%ID>",
    "<%ID> = trunc i64 <%ID> to i32", "<%ID> = sext i32 <%ID> to i64",
    "<%ID> = trunc i32 <%ID> to i8", "<%ID> = zext i8 <%ID> to i32",
]


def test_questions_follow_one_relation():
    questions = generate_analogies(VOCABULARY)
    by_category = {}
    for q in questions:
        by_category.setdefault(q.category, []).append((q.a, q.b, q.c, q.d))
        assert {q.a, q.b, q.c, q.d} <= set(VOCABULARY)
    assert ("<%ID> = add i32 <%ID>, <%ID>", "<%ID> = add i64 <%ID>, <%ID>",
            "<%ID> = sub i32 <%ID>, <%ID>", "<%ID> = sub i64 <%ID>, <%ID>") in by_category["Integer binary operations (type)"]
    assert ("<%ID> = add i32 <%ID>, <%ID>", "<%ID> = sub i32 <%ID>, <%ID>",
            "<%ID> = add i64 <%ID>, <%ID>", "<%ID> = sub i64 <%ID>, <%ID>") in by_category["Arithmetic integer binary ops (inverse)"]
    assert len(by_category["Floating point ops (fast-math)"]) == 2
    assert "Trunc - s/zext (inverse)" not in by_category  # trunc -> sext and trunc -> zext: two relations
    assert generate_analogies(VOCABULARY, seed=3) == generate_analogies(VOCABULARY, seed=3)
    assert len(generate_analogies(VOCABULARY, max_per_category=1)) <= len(by_category)


def test_round_trip_and_published_score(tmp_path, data_root):
    from inst2vec.embeddings import load

    questions = generate_analogies(VOCABULARY)
    write_analogies(questions, tmp_path / "q.tsv")
    assert read_analogies(tmp_path / "q.tsv") == questions
    published = load("published", data_root)
    generated = generate_analogies(published.vocabulary.statements, max_per_category=200)
    score = evaluate_analogies(published, generated)
    assert score.total == len(generated) > 1000 and 0.2 < score.score < 0.5  # 32.8 % at 500 per category


def test_damaged_question_files_name_the_line(tmp_path):
    path = tmp_path / "q.tsv"
    path.write_bytes(b"# questions\r\ncat\ta\tb\tc\td\r\n\ncat\ta\tb\xf0\x28\tc\td\n")
    with pytest.raises(VocabularyError, match=r"q.tsv:4:8: not UTF-8 text \(invalid continuation byte\)"):
        read_analogies(path)
    path.write_bytes(b"cat\ta\tb\tc\td\r\ncat\ta\tb\tc\n")
    with pytest.raises(VocabularyError, match=r"q.tsv:2: expected 5 or 9 tab-separated fields, found 4"):
        read_analogies(path)
    path.write_bytes(b"cat\ta\tb\tc\td\r\n")
    assert read_analogies(path) == [Analogy("cat", "a", "b", "c", "d")]  # CRLF line ends
    path.write_bytes(b"# only a comment\n\n")  # was scored as if no question fitted the vocabulary
    with pytest.raises(VocabularyError, match=r"q.tsv: no analogy questions in it"):
        read_analogies(path)
