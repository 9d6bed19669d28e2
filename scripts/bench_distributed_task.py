"""End to end: the ncc model on half of devmap (AMD), data-parallel under MPI; rank 0 prints one JSON line.

Usage (COMPRESSION "single" = one process, no allreduce)::

    mpiexec -n 4 --oversubscribe python scripts/bench_distributed_task.py DATA_ROOT COMPRESSION ALGORITHM EPOCHS \
        [SEED] [--no-error-feedback] [--optimizer adam|sgd:LR] [--link-gbps G]

Besides accuracy on the 340 held-out rows and the bytes this rank sent, it reports the wall time,
the held-out accuracy after every epoch with the training seconds until then (``curve_seconds``,
``curve_accuracy``: time to accuracy; the evaluations are not counted as training time) and an
*estimated* wall time on a cluster link: the measured allreduce time replaced by the α–β model's
time for the same bytes at ``SIMULATED_GBPS`` (10 Gb/s, 20 us per message; compression work is kept).
``--link-gbps G`` makes every message really wait for its time on a G Gb/s link
(:class:`train.collectives.SimulatedLink`), so the wall time and the curve include it.
"""
import json
import sys
import time

import numpy as np

import inst2vec
from tasks import devmap
from tasks.datasets import load_devmap
from tasks.encoding import distinct_files, encode_files
from tasks.learners import FoldInputs, TrainingSettings, fit_predict_ncc
from train.collectives import SimulatedLink
from script_help import exit_with_usage_on_help


SIMULATED_GBPS = 10.0


def main() -> None:
    start = time.perf_counter()
    data_root, compression, algorithm, epochs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    seed = int(sys.argv[5]) if len(sys.argv) > 5 else 0
    error_feedback = "--no-error-feedback" not in sys.argv[6:]
    optimizer = sys.argv[sys.argv.index("--optimizer") + 1] if "--optimizer" in sys.argv else "adam"
    link_gbps = float(sys.argv[sys.argv.index("--link-gbps") + 1]) if "--link-gbps" in sys.argv else None
    data = load_devmap("amd", data_root)
    files, positions = distinct_files(list(data.files))
    encoded = encode_files(files, inst2vec.load("published", data_root))
    # Half of the rows for testing (340: one row is 0.29 pp), stratified, fixed.
    from sklearn.model_selection import StratifiedKFold

    train, test = next(StratifiedKFold(2, shuffle=True, random_state=204).split(data.features, data.labels))
    settings = TrainingSettings(epochs=epochs, max_length=64, compression=None if compression == "single"
                                else compression, algorithm=algorithm, error_feedback=error_feedback,
                                optimizer=optimizer, simulated_link_gbps=link_gbps)
    inputs = FoldInputs(encoded, positions, data.labels, 2, data.features, devmap.AUX_COLUMNS)
    probabilities, curves = fit_predict_ncc(inputs, train, test, seed=seed, settings=settings, test_curve=True)
    from mpi4py import MPI

    predictions = MPI.COMM_WORLD.allgather(probabilities.argmax(axis=1).tolist())
    wall = time.perf_counter() - start
    comm_seconds, sent = curves.get("allreduce_seconds", 0.0), curves.get("bytes_sent", 0)
    steps = len(curves["loss"]) * -(-len(train) // settings.batch_size)
    simulated = wall - comm_seconds + (SimulatedLink(SIMULATED_GBPS).seconds(sent, steps) if sent else 0.0)
    if MPI.COMM_WORLD.rank == 0:
        print(json.dumps({"compression": compression, "algorithm": algorithm, "ranks": MPI.COMM_WORLD.size,
                          "seed": seed, "error_feedback": error_feedback, "optimizer": optimizer,
                          "link_gbps": link_gbps, "link_seconds": curves.get("link_seconds", 0.0),
                          "wall_seconds": round(wall, 2), "allreduce_seconds": comm_seconds,
                          "simulated_seconds_10gbps": round(simulated, 2),
                          "accuracy": float(np.mean(probabilities.argmax(axis=1) == data.labels[test])),
                          "ranks_agree": all(p == predictions[0] for p in predictions),
                          "bytes_sent": curves.get("bytes_sent", 0),
                          "epochs": len(curves["loss"]), "final_training_loss": curves["loss"][-1],
                          "curve_seconds": [round(t, 2) for t in curves["seconds"]],
                          "curve_accuracy": curves["test_accuracy"]}))


if __name__ == "__main__":
    exit_with_usage_on_help(__doc__, required=4)
    main()
