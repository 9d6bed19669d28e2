"""Analogy questions generated from a vocabulary, by category and exact relation."""
from inst2vec.analogies import generate_analogies, write_analogies
from inst2vec.evaluation import evaluate_analogies, read_analogies

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
