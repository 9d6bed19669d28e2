"""Train statement embeddings: skip-gram (gensim, ``sg=1``) on the XFG context pairs of a corpus.

The original trained its own TensorFlow skip-gram with a full softmax over the vocabulary and Adam.
We use gensim's skip-gram with negative sampling instead: the same objective family (word2vec,
Mikolov et al. 2013), orders of magnitude faster on CPU cores, and maintained. Each context pair
``(target, context)`` is given to gensim as a two-statement sentence with window 1, so gensim
trains exactly on the XFG pairs (both directions), not on text-order neighbours; subsampling is
done on the pairs beforehand (``inst2vec.pairs``), so gensim's own is off. The pairs are shuffled
(the corpus arrives file by file) and read by gensim from a temporary file (``corpus_file``).
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from inst2vec.embeddings import Embeddings
from inst2vec.errors import NothingReadError
from inst2vec.vocabulary import Vocabulary

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingReport:
    """What training did: pairs used, seconds, gensim's effective throughput, and gensim's per-epoch
    running loss (informative only: gensim sums it in float32 and it is known not to be reliable)."""

    pairs: int
    seconds: float
    words_per_second: float
    epochs: int
    losses: tuple[float, ...]
    workers: int = 1  # gensim's threads: with more than one, runs of one seed differ a little


def _write_pair_corpus(targets: np.ndarray, contexts: np.ndarray, path: str, seed: int,
                       chunk: int = 1 << 22) -> None:
    """Write the pairs as gensim's line-sentence file, one ``"target context"`` line each, in a seeded
    random order: SGD with a decaying learning rate should not see the corpus file by file."""
    order = np.random.default_rng(seed).permutation(len(targets))
    with open(path, "w") as out:
        for start in range(0, len(order), chunk):
            rows = order[start:start + chunk]
            out.writelines(f"{t} {c}\n" for t, c in zip(targets[rows].tolist(), contexts[rows].tolist()))


def train_skipgram(targets: np.ndarray, contexts: np.ndarray, vocabulary: Vocabulary, dim: int = 200,
                   epochs: int = 5, negative: int = 15, learning_rate: float = 0.025, seed: int = 0,
                   workers: int = 0) -> tuple[Embeddings, TrainingReport]:
    """Skip-gram with negative sampling on (target, context) pairs of vocabulary rows.

    The pairs go to gensim as a temporary line-sentence file (``corpus_file`` mode: gensim's
    threads read it without the Python GIL), each pair a two-word sentence, shuffled once.

    Args:
        targets, contexts: row indices into ``vocabulary`` (equal length).
        vocabulary: the rows of the result, in order.
        dim: embedding size (200, as published).
        epochs, negative, learning_rate: gensim's ``epochs``, ``negative``, ``alpha``.
        seed: gensim's seed and the shuffle's. An exact rerun also needs ``workers=1`` (gensim's
            threads race); Python's hash seed plays no part (tests/inst2vec/test_skipgram.py).
        workers: threads (0: all cores).

    Returns:
        The embeddings (rows in ``vocabulary`` order; a statement that never occurs in a pair
        keeps gensim's seeded random initial vector) and a :class:`TrainingReport`.
    """
    import tempfile

    from gensim.models import Word2Vec

    if dim < 1 or epochs < 1 or negative < 1:
        raise ValueError(f"`dim`, `epochs` and `negative` must be >= 1. Received: dim={dim}, epochs={epochs}, "
                         f"negative={negative}")
    targets, contexts = np.asarray(targets), np.asarray(contexts)
    if len(targets) == 0 or len(targets) != len(contexts):
        raise ValueError("no context pairs to train on (empty corpus, or everything subsampled away)")
    words = [str(i) for i in range(len(vocabulary))]
    frequency = np.bincount(np.concatenate([targets, contexts]), minlength=len(vocabulary))
    workers = workers if workers > 0 else (os.cpu_count() or 1)
    model = Word2Vec(vector_size=dim, window=1, sg=1, hs=0, negative=negative, sample=0, min_count=1,
                     alpha=learning_rate, seed=seed, workers=workers, compute_loss=True)
    model.build_vocab_from_freq({word: max(1, int(f)) for word, f in zip(words, frequency)})
    losses, start = [], time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="inst2vec-pairs-") as folder:
        corpus = os.path.join(folder, "pairs.txt")
        _write_pair_corpus(targets, contexts, corpus, seed)
        for epoch in range(epochs):
            model.train(corpus_file=corpus, total_words=2 * len(targets), epochs=1, compute_loss=True,
                        start_alpha=learning_rate * (1 - epoch / epochs),
                        end_alpha=learning_rate * max(1e-4, 1 - (epoch + 1) / epochs))
            losses.append(float(model.get_latest_training_loss()))
            log.info("epoch %d/%d: loss %.1f", epoch + 1, epochs, losses[-1])
    seconds = time.perf_counter() - start
    matrix = np.stack([model.wv[word] for word in words]).astype(np.float32)
    total_words = 2 * len(targets) * epochs
    report = TrainingReport(len(targets), seconds, total_words / seconds if seconds else 0.0, epochs, tuple(losses),
                            workers)
    return Embeddings(vocabulary, matrix), report


def embeddings_from_corpus(files: Sequence[str], cutoff: int = 0, width: int = 2, threshold: float = 1e-7,
                           seed: int = 0, jobs: int = 1, progress: bool | None = None,
                           **training) -> tuple[Embeddings, TrainingReport, dict]:
    """Vocabulary, context pairs and skip-gram training over the ``.ll`` files of a corpus.

    Files that cannot be read are skipped and listed in the returned summary (``skipped``).
    ``training`` goes to :func:`train_skipgram`.
    """
    from inst2vec.pairs import corpus_pairs
    from inst2vec.statements import count_corpus_statements

    counts, readable, skipped = count_corpus_statements(files, jobs, progress)
    if files and not readable:
        raise NothingReadError(skipped)
    vocabulary = Vocabulary.build(counts, cutoff)
    if counts and len(vocabulary) == 1:  # !UNK alone, and pairs of two !UNK are dropped
        raise ValueError(f"no statement is seen more than {cutoff} times (--cutoff), so none is in the "
                         f"vocabulary; the most frequent is seen {max(counts.values())} times")
    targets, contexts, occurrences, _ = corpus_pairs(readable, vocabulary, width, threshold, seed, jobs, progress)
    embeddings, report = train_skipgram(targets, contexts, vocabulary, seed=seed, **training)
    summary = {"files": len(files) - len(skipped), "skipped": skipped, "statements": sum(counts.values()),
               "distinct": len(counts), "vocabulary": len(vocabulary), "cutoff": cutoff, "width": width,
               "subsample": threshold, "pair_occurrences": occurrences, "pairs_drawn": len(targets)}
    return embeddings, report, summary
