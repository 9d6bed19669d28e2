"""Why the ncc model's validation accuracy jumps: BatchNorm's moving statistics lag the features.

After every epoch, on the first CLASSES classes of a built POJ-104 (seed-0 split, last 256 statements,
batch 64, Adam, the published embeddings), prints validation accuracy with the moving statistics Keras
keeps (what `fit` reports) and with statistics recomputed over all training rows under the current
weights, how far the moving mean is from the training rows' mean (in their standard deviations), and how
much the means of single validation batches spread (the same unit). Results: docs/RESULTS.md.

Usage (after `inst2vec task classifyapp` has built POJ-104 into data-unpacked/poj104)::

    python scripts/ncc_batch_norm_lag.py [CLASSES=20] [EPOCHS=5] [IR_DIR=data-unpacked/poj104/ir-O0/ir]
"""
import json
import sys
import time

import keras
import numpy as np

import inst2vec
from inst2vec.data import data_root
from tasks import ncc
from tasks.classifyapp import split
from tasks.datasets import Poj104Data, load_poj104_ir
from tasks.encoding import encode_files
from script_help import exit_with_usage_on_help

BATCH_SIZE, MAX_LENGTH, SEED = 64, 256, 0


def accuracy(model, batches) -> float:
    right = total = 0
    for k in range(len(batches)):
        x, y = batches[k]
        right += int(np.sum(model.predict_on_batch(x).argmax(axis=1) == y))
        total += len(y)
    return right / total


def main() -> None:
    classes = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    everything = load_poj104_ir(sys.argv[3] if len(sys.argv) > 3 else "data-unpacked/poj104/ir-O0/ir")
    keep = everything.labels < classes
    data = Poj104Data(files=everything.files[keep], labels=everything.labels[keep],
                      programs=everything.programs[keep], classes=everything.classes[:classes])
    started = time.perf_counter()
    embeddings = inst2vec.load("published", data_root(None))
    sequences = encode_files(list(data.files), embeddings, jobs=2).sequences
    print("encoded", len(data.files), "files in", round(time.perf_counter() - started), "s", flush=True)
    train, validation, _ = split(data, SEED)
    vectors = np.asarray(embeddings.normalized, np.float32)
    pad = embeddings.vocabulary.unknown_index

    def batches(rows, seed=None):
        return ncc.make_batches([sequences[i] for i in rows], vectors, pad, data.labels[rows], None, BATCH_SIZE,
                                MAX_LENGTH, seed=seed)

    keras.utils.set_random_seed(SEED)
    model = ncc.build_ncc_model(classes, dim=vectors.shape[1])
    training, held_out, all_training_rows = batches(train, SEED), batches(validation), batches(train)
    norm = model.get_layer("batch_norm")
    features = keras.Model(model.inputs, norm.input)

    class Report(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            gamma, beta, moving_mean, moving_variance = [w.copy() for w in norm.get_weights()]
            with_moving = accuracy(model, held_out)
            h = np.concatenate([np.asarray(features.predict_on_batch(all_training_rows[k][0]))
                                for k in range(len(all_training_rows))])
            batch_means = np.array([np.asarray(features.predict_on_batch(held_out[k][0])).mean(axis=0)
                                    for k in range(len(held_out))])
            scale = np.sqrt(h.var(axis=0)).mean()
            norm.set_weights([gamma, beta, h.mean(axis=0), h.var(axis=0)])
            with_recomputed = accuracy(model, held_out)
            norm.set_weights([gamma, beta, moving_mean, moving_variance])
            print(json.dumps({"epoch": epoch + 1, "train_acc": round(logs["accuracy"], 4),
                              "val_moving": round(with_moving, 4), "val_recalibrated": round(with_recomputed, 4),
                              "moving_mean_off_by_std": round(float(np.abs(moving_mean - h.mean(axis=0)).mean()
                                                                    / scale), 3),
                              "val_batch_mean_spread_std": round(float(batch_means.std(axis=0).mean() / scale), 3),
                              "s": round(time.perf_counter() - started)}), flush=True)

    model.fit(ncc.for_fit(training), epochs=epochs, shuffle=False, verbose=0, callbacks=[Report()])


if __name__ == "__main__":
    exit_with_usage_on_help(__doc__)
    main()
