"""Run under mpiexec: the ncc model on half of devmap (AMD), data-parallel; rank 0 prints a JSON line.

Usage: mpi_task.py DATA_ROOT COMPRESSION ALGORITHM EPOCHS
"""
import json
import sys

import numpy as np

import inst2vec
from tasks import devmap
from tasks.datasets import load_devmap
from tasks.encoding import distinct_files, encode_files
from tasks.learners import FoldInputs, TrainingSettings, fit_predict_ncc


def main() -> None:
    data_root, compression, algorithm, epochs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    data = load_devmap("amd", data_root)
    files, positions = distinct_files(list(data.files))
    encoded = encode_files(files, inst2vec.load("published", data_root))
    # Half of the rows for testing (340: one row is 0.29 pp), stratified, fixed.
    from sklearn.model_selection import StratifiedKFold

    train, test = next(StratifiedKFold(2, shuffle=True, random_state=204).split(data.features, data.labels))
    settings = TrainingSettings(epochs=epochs, max_length=64, compression=None if compression == "single"
                                else compression, algorithm=algorithm)
    inputs = FoldInputs(encoded, positions, data.labels, 2, data.features, devmap.AUX_COLUMNS)
    probabilities, curves = fit_predict_ncc(inputs, train, test, seed=0, settings=settings)
    from mpi4py import MPI

    predictions = MPI.COMM_WORLD.allgather(probabilities.argmax(axis=1).tolist())
    if MPI.COMM_WORLD.rank == 0:
        print(json.dumps({"accuracy": float(np.mean(probabilities.argmax(axis=1) == data.labels[test])),
                          "ranks_agree": all(p == predictions[0] for p in predictions),
                          "bytes_sent": curves.get("bytes_sent", 0),
                          "epochs": len(curves["loss"])}))


if __name__ == "__main__":
    main()
