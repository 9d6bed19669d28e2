"""Benchmark: skip-gram training throughput (words/s) beside gensim's own Word2Vec on the same pairs.

Both train on the same XFG context pairs of the given IR (two-statement sentences, window 1, sg=1,
negative sampling, same threads and epochs): ours (`train_skipgram`) shuffles them into a temporary file
that gensim's threads read themselves (`corpus_file`; the time to write it is counted), the baseline hands
gensim a materialised list of sentences through its Python iterator.

Usage: python scripts/bench_training.py [IR_DIR...] [--epochs 2] [--threads 2] [--subsample 1e-6]
"""
import argparse
import glob
import sys
import time
from collections import Counter

from inst2vec.data import data_path, data_root
from inst2vec.pairs import corpus_pairs
from inst2vec.skipgram import train_skipgram
from inst2vec.statements import StatementCache, count_file_statements
from inst2vec.vocabulary import Vocabulary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folders", nargs="*", help="IR folders (default: devmap/kernels_ir)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--subsample", type=float, default=1e-6)
    args = parser.parse_args()
    folders = args.folders or [str(data_path(data_root(), "devmap", "kernels_ir"))]
    files = sorted(f for folder in folders for f in glob.glob(f"{folder}/**/*.ll", recursive=True))
    cache = StatementCache()
    counts = sum((count_file_statements(f, cache) for f in files), Counter())
    vocabulary = Vocabulary.build(counts)
    start = time.perf_counter()
    targets, contexts, occurrences, _ = corpus_pairs(files, vocabulary, threshold=args.subsample, jobs=args.threads)
    pair_seconds = time.perf_counter() - start
    _, ours = train_skipgram(targets, contexts, vocabulary, epochs=args.epochs, workers=args.threads)

    from gensim.models import Word2Vec

    words = vocabulary.statements
    sentences = [[words[t], words[c]] for t, c in zip(targets.tolist(), contexts.tolist())]
    start = time.perf_counter()
    Word2Vec(sentences, vector_size=200, window=1, sg=1, negative=15, sample=0, min_count=1,
             workers=args.threads, epochs=args.epochs, seed=0)
    gensim_seconds = time.perf_counter() - start  # includes gensim's own vocabulary scan
    gensim_rate = 2 * len(sentences) * args.epochs / gensim_seconds
    print(f"{len(files)} files, {occurrences:,} pair occurrences -> {len(targets):,} pairs drawn in {pair_seconds:.1f} s")
    print(f"ours (train_skipgram):        {ours.words_per_second:>12,.0f} words/s  ({ours.seconds:.1f} s)")
    print(f"gensim Word2Vec, list input:  {gensim_rate:>12,.0f} words/s  ({gensim_seconds:.1f} s)")
    print(f"ratio ours / gensim: {ours.words_per_second / gensim_rate:.2f}  ({args.threads} threads, {args.epochs} epochs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
