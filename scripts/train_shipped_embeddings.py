"""Recipe of the embeddings shipped in the package (inst2vec/pretrained/ours), from a built corpus.

1. Count statements and draw XFG context pairs of every ``.ll`` file once (width 2, subsampling 1e-7,
   vocabulary cutoff 2), cached in ``--cache`` so that other settings can be tried without reading
   the corpus again (~12 min on 2 cores for the default corpus).
2. Map statements seen at most ``--cutoff`` times to ``!UNK`` (pairs of two ``!UNK`` dropped).
3. Skip-gram (``inst2vec.skipgram.train_skipgram``) and the paper's evaluation: the published questions
   restricted to statements in both vocabularies (the published embeddings scored beside ours on the
   same questions), our generated questions, semantic distance. One JSON line on stdout.
4. With ``--ship``, write the matrix in half precision, its vocabulary gzip-compressed and this record to
   ``inst2vec/pretrained/ours`` (the record holds the scores of the half-precision matrix).

Usage::

    inst2vec corpus build -o corpus/              # the default corpus (docs/corpus.md)
    python scripts/train_shipped_embeddings.py corpus/ir --cache pairs/ --epochs 3 --cutoff 50 --ship
"""
import argparse
import glob
import json
import sys
import time
from pathlib import Path

import numpy as np

import inst2vec
from inst2vec.data import data_root
from inst2vec.embeddings import OURS_FOLDER, Embeddings
from inst2vec.evaluation import (answerable_questions, evaluate_analogies, published_questions_path,
                                 semantic_distance)
from inst2vec.io import atomic_write
from inst2vec.pairs import corpus_pairs
from inst2vec.skipgram import train_skipgram
from inst2vec.statements import count_corpus_statements
from inst2vec.vocabulary import UNKNOWN, Vocabulary

PAIR_CUTOFF, WIDTH, SUBSAMPLE = 2, 2, 1e-7


def cached_pairs(corpus: str, cache: Path, jobs: int) -> tuple[dict, Vocabulary, np.ndarray, np.ndarray]:
    """Statement counts, the cutoff-2 vocabulary and its drawn pairs, computed once per cache folder."""
    if not (cache / "pairs.npz").is_file():
        files = sorted(glob.glob(f"{corpus}/**/*.ll", recursive=True))
        cache.mkdir(parents=True, exist_ok=True)
        counts, readable, skipped = count_corpus_statements(files, jobs)
        vocabulary = Vocabulary.build(counts, PAIR_CUTOFF)
        targets, contexts, occurrences, _ = corpus_pairs(readable, vocabulary, WIDTH, SUBSAMPLE, 0, jobs)
        with atomic_write(cache / "counts.json") as f:
            json.dump({"files": len(readable), "skipped": skipped, "occurrences": occurrences, "counts": counts}, f)
        vocabulary.save(cache / "vocabulary.json")
        with atomic_write(cache / "pairs.npz", "wb") as f:
            np.savez(f, targets=targets, contexts=contexts)
    record = json.loads((cache / "counts.json").read_text())
    pairs = np.load(cache / "pairs.npz")
    return record, Vocabulary.load(cache / "vocabulary.json"), pairs["targets"], pairs["contexts"]


def with_cutoff(counts: dict, vocabulary: Vocabulary, targets: np.ndarray, contexts: np.ndarray, cutoff: int):
    """The same pairs over the vocabulary of statements seen more than ``cutoff`` times."""
    smaller = Vocabulary.build(counts, cutoff)
    rows = np.asarray(smaller.indices(vocabulary.statements), dtype=np.int32)
    targets, contexts = rows[targets], rows[contexts]
    unknown = smaller.index(UNKNOWN)
    keep = (targets != contexts) & ~((targets == unknown) & (contexts == unknown))
    return smaller, targets[keep], contexts[keep]


def scores(embeddings: Embeddings, published: Embeddings, questions_file: Path) -> dict:
    """The paper's tests: published questions on the common vocabulary (both embeddings), generated
    questions, semantic distance."""
    ours = set(embeddings.vocabulary.statements)
    questions = answerable_questions(ours & set(published.vocabulary.statements), questions_file)
    return {"published_questions": evaluate_analogies(embeddings, questions).as_dict(),
            "published_embeddings_same_questions": evaluate_analogies(published, questions).as_dict(),
            "generated_questions": evaluate_analogies(embeddings, answerable_questions(ours)).as_dict(),
            "semantic_distance": semantic_distance(embeddings)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("corpus", help="folder of .ll files (e.g. corpus/ir)")
    parser.add_argument("--cache", required=True, help="folder for the counts and drawn pairs")
    parser.add_argument("--cutoff", type=int, default=50)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--negative", type=int, default=15)
    parser.add_argument("--learning-rate", type=float, default=0.025)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-j", "--jobs", type=int, default=2)
    parser.add_argument("--data-root", help="for the published embeddings and questions")
    parser.add_argument("--ship", action="store_true", help=f"write the result to {OURS_FOLDER}")
    args = parser.parse_args()
    root = data_root(args.data_root)
    start = time.perf_counter()
    record, pair_vocabulary, targets, contexts = cached_pairs(args.corpus, Path(args.cache), args.jobs)
    vocabulary, targets, contexts = with_cutoff(record["counts"], pair_vocabulary, targets, contexts, args.cutoff)
    embeddings, report = train_skipgram(targets, contexts, vocabulary, epochs=args.epochs, negative=args.negative,
                                        learning_rate=args.learning_rate, seed=args.seed, workers=args.jobs)
    if args.ship:  # score what is shipped: the half-precision matrix
        embeddings = Embeddings(vocabulary, embeddings.matrix.astype(np.float16).astype(np.float32))
    result = {"corpus": args.corpus, "files": record["files"], "statements": sum(record["counts"].values()),
              "pair_occurrences": record["occurrences"], "pairs": int(len(targets)),
              "width": WIDTH, "subsample": SUBSAMPLE, "pair_cutoff": PAIR_CUTOFF, "cutoff": args.cutoff,
              "vocabulary": len(vocabulary), "dim": 200, "epochs": args.epochs, "negative": args.negative,
              "learning_rate": args.learning_rate, "seed": args.seed, "threads": args.jobs,
              "training_seconds": round(report.seconds, 1), "words_per_second": round(report.words_per_second),
              "total_seconds": round(time.perf_counter() - start, 1),
              "scores": scores(embeddings, inst2vec.load("published", root), published_questions_path(root)),
              "versions": {"inst2vec": inst2vec.__version__, "gensim": __import__("gensim").__version__}}
    print(json.dumps(result))
    if args.ship:
        Embeddings(vocabulary, embeddings.matrix.astype(np.float16)).save(OURS_FOLDER, compress_vocabulary=True)
        with atomic_write(OURS_FOLDER / "training.json") as f:
            json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
