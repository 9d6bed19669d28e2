"""Train the ncc model on thread-coarsening kernels for EPOCHS, or stop at STOP and resume: print the
test probabilities and the training curves (rank 0) so runs can be compared bit for bit. Runs alone or under mpiexec.

Usage: resume_check.py DATA_ROOT CHECKPOINT EPOCHS [STOP|none] [COMPRESSION|none] [--validation]

With ``--validation`` four kernels are held out for choosing the best epoch's weights (as classifyapp
does), so the resumed run must also carry the best-so-far weights across the interruption.
"""
import dataclasses
import json
import sys

import numpy as np

import inst2vec
from tasks.datasets import load_threadcoarsening
from tasks.encoding import encode_files
from tasks.learners import FoldInputs, TrainingSettings, fit_predict_ncc
from script_help import exit_with_usage_on_help


def main() -> None:
    root, checkpoint, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    stop = int(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[4] != "none" else None
    compression = sys.argv[5] if len(sys.argv) > 5 and sys.argv[5] != "none" else None
    validation = np.arange(1, 5) if "--validation" in sys.argv else None
    data = load_threadcoarsening("Fermi", root)
    encoded = encode_files(list(data.files), inst2vec.load("published", root))
    inputs = FoldInputs(encoded, np.arange(17), data.labels, 6)
    train, test = np.arange(1 if validation is None else 5, 17), np.arange(0, 17)
    settings = TrainingSettings(epochs=epochs, batch_size=4, max_length=128, compression=compression)
    if stop is not None:
        fit_predict_ncc(inputs, train, test, 0, dataclasses.replace(settings, epochs=stop, checkpoint=checkpoint),
                        validation=validation)
        settings = dataclasses.replace(settings, checkpoint=checkpoint, resume=True)
    probabilities, curves = fit_predict_ncc(inputs, train, test, 0, settings, validation=validation)
    rank = 0
    if compression is not None:
        from mpi4py import MPI

        rank = MPI.COMM_WORLD.rank
    if rank == 0:
        print("probabilities", probabilities.astype(np.float32).tobytes().hex())
        print("curves", json.dumps({k: v for k, v in curves.items() if k not in ("bytes_sent", "allreduce_seconds")}))


if __name__ == "__main__":
    exit_with_usage_on_help(__doc__, required=3)
    main()
