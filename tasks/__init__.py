"""The three downstream tasks, each with its published protocol: ``inst2vec task`` runs them from a shell.

From Python, load a data set and run one model's protocol; the result is the JSON object the command writes::

    import inst2vec
    from inst2vec.data import data_root
    from tasks import devmap, threadcoarsening
    from tasks.datasets import load_devmap, load_threadcoarsening
    from tasks.learners import TrainingSettings

    data = load_devmap("amd", data_root())  # 680 rows; "nvidia" too
    result = devmap.run(data, "boost", inst2vec.load(), "ours", seeds=[0], settings=TrainingSettings())
    print(result["accuracy_mean"], result["speedup_mean"])
    fermi = load_threadcoarsening("Fermi", data_root())  # Cypress, Tahiti, Fermi, Kepler
    print(threadcoarsening.run(fermi, "magni", None, "none", [0], TrainingSettings())["speedup_mean"])

Models (``MODELS`` in each module) that read statements need embeddings; the baselines (``static``, ``grewe``,
``magni``, ``oracle`` …) take ``None``. POJ-104 is compiled first: :func:`tasks.classifyapp.compile_poj104`, then
:func:`tasks.classifyapp.run`. Modules: :mod:`tasks.datasets` (checked loaders), :mod:`tasks.encoding` (IR to model
inputs), :mod:`tasks.ncc` and :mod:`tasks.learners` (the Keras model and its training),
:mod:`tasks.results` (the result object), :mod:`tasks.cli` (``inst2vec task`` and ``inst2vec predict``).

Once an ``ncc`` model has trained on the TensorFlow backend, TensorFlow keeps glibc's mmap threshold at 128 KiB for
the rest of the process (against a leak under Python 3.11), and numpy and scikit-learn work after it (``boost``,
the baselines) took 1.5-1.8x as long here (docs/benchmarks.md, ``scripts/bench_tf_malloc.py``): run that first, or
in a process of its own, as each ``inst2vec task`` is.
"""
