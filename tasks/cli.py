"""``inst2vec task …`` and ``inst2vec predict …``: run a downstream task's protocol, use a trained model.

The task modules (and Keras) are imported when a command runs, so other commands stay quick.
"""
from __future__ import annotations

import argparse
import functools
import json
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

from inst2vec.arguments import IR_INPUTS_HELP, add_source_flags, at_least, output_folder
from inst2vec.batch import collect_ir_files, no_ir_files_error, skipped_summary
from inst2vec.errors import Inst2vecError, first_line

TASKS = ("classifyapp", "devmap", "threadcoarsening")
DEFAULT_MODEL = {"classifyapp": "ngram", "devmap": "boost", "threadcoarsening": "neighbours"}
#: Statements kept per sequence by default (the longest devmap kernel has 1,505); see docs/RESULTS.md.
DEFAULT_MAX_LENGTH = {"classifyapp": 512, "devmap": 1024, "threadcoarsening": 1024}
#: The (task, model) pairs that ``--save-models`` can save for ``inst2vec predict``.
SAVED_MODELS = {("classifyapp", "ncc"), ("classifyapp", "bag"), ("classifyapp", "ngram"),
                ("devmap", "ncc"), ("devmap", "boost"), ("threadcoarsening", "ncc"), ("threadcoarsening", "neighbours")}
#: How the gradients of each kind of compressor are summed (train.compression.REDUCTIONS), for messages.
SUMMED_AS = {"dense": "summed by a dense allreduce", "gather": "gathered and decoded rank by rank",
             "lowrank": "summed as low-rank factors in dense allreduces"}
#: The models that read the code, so the only ones that take ``--embeddings``.
CODE_MODELS = ("ncc", "boost", "neighbours", "bag", "ngram")
#: Flags that only some tasks or models read: dest -> (flag, tasks, models that read it (None: all), default).
#: They are parsed with default None, so a flag the run would ignore is refused instead (_check_specific_flags).
SPECIFIC_FLAGS = {
    "embeddings": ("--embeddings", TASKS, CODE_MODELS, "published"),
    "split": ("--split", ("devmap",), None, "stratified"),
    "per_class": ("--per-class", ("classifyapp",), None, None),
    "classes": ("--classes", ("classifyapp",), None, None),
    "work_dir": ("--work-dir", ("classifyapp",), None, "data-unpacked/poj104"),
    "epochs": ("--epochs", TASKS, ("ncc",), 50),
    "batch_size": ("--batch-size", TASKS, ("ncc",), 64),
    "max_length": ("--max-length", TASKS, ("ncc",), None),
    "optimizer": ("--optimizer", TASKS, ("ncc",), "adam"),
    "recalibrate_bn": ("--recalibrate-bn", TASKS, ("ncc",), False),
    "checkpoint_dir": ("--checkpoint-dir", TASKS, ("ncc",), None),
    "resume": ("--resume", TASKS, ("ncc",), False),
}


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register ``task`` and ``predict`` on the main parser's subcommands."""
    p = commands.add_parser("task", help="run a downstream task's protocol (classifyapp, devmap, threadcoarsening)")
    p.add_argument("task", choices=TASKS)
    p.add_argument("--platform", action="append",
                   help="devmap: amd, nvidia; threadcoarsening: Cypress, Tahiti, Fermi, Kepler (any case, repeatable "
                        "or comma-separated; default all)")
    p.add_argument("--model", help="devmap: static, grewe, launch, oracle, ncc, boost (ours, default); "
                                   "threadcoarsening: static, constant, oracle, magni, ncc, neighbours (ours, "
                                   "default); classifyapp: ncc, bag (ours), ngram (ours, default: 97.13 %% on POJ-104)")
    p.add_argument("--embeddings", help="'published' (default), 'ours' or an embeddings folder; for the models "
                                        "that read the code (" + ", ".join(CODE_MODELS) + ")")
    p.add_argument("--seeds", type=at_least(1), default=3, help="number of seeds (0, 1, …; default 3)")
    p.add_argument("--first-seed", type=at_least(0), default=0,
                   help="start the seeds here, to add seeds to an earlier run (default 0)")
    p.add_argument("--epochs", type=at_least(1), help="ncc training epochs (default 50, as published)")
    p.add_argument("--batch-size", type=at_least(1), help="ncc: training batch size (default 64)")
    p.add_argument("--max-length", type=at_least(1),
                   help="ncc: statements kept per sequence, the last ones (default: classifyapp 512, others 1024)")
    p.add_argument("--optimizer",
                   help="ncc: adam (default, as published) or sgd:LR, SGD with momentum 0.9 (with top-k and error "
                        "feedback it keeps dense accuracy where Adam does not: docs/distributed.md)")
    p.add_argument("--recalibrate-bn", action="store_true",
                   help="ncc: set BatchNorm's moving statistics from the training data before each validation "
                        "and at the end of training (they lag the changing weights): +22 pp on POJ-104 in 6 epochs, "
                        "-0.05 mean speedup on thread coarsening; see docs/RESULTS.md")
    p.add_argument("--split", choices=("stratified", "grouped"),
                   help="devmap folds: the published stratified 10-fold (default), or 10 folds grouped by kernel")
    p.add_argument("--per-class", type=at_least(1), help="classifyapp: programs per class (default all 500)")
    p.add_argument("--classes", type=at_least(1), help="classifyapp: only the first N classes (default 104)")
    p.add_argument("--work-dir",
                   help="classifyapp: where POJ-104 is unpacked and compiled (default data-unpacked/poj104)")
    p.add_argument("--distributed", action="store_true",
                   help="ncc: data-parallel over the ranks of this MPI job (launch with mpiexec/srun)")
    p.add_argument("--compression",
                   help="with --distributed: none, fp16, topk:D, topk_fast:D, randomk:D, qsgd:BITS, terngrad, "
                        "topk_q4:D, powersgd:RANK (default none)")
    p.add_argument("--algorithm",
                   help="with --distributed, for sparse payloads: dense, allgather, ssar_rd, ssar_split, dsar "
                        "(default ssar_rd)")
    p.add_argument("--no-error-feedback", dest="error_feedback", action="store_false",
                   help="with --distributed: sparsifiers drop what they do not send (default: keep it and add it "
                        "to the next gradient)")
    p.add_argument("--simulate-link", metavar="GBPS", type=at_least(0, float, strict=True),
                   help="with --distributed: every message first waits for its time on a link of GBPS Gb/s "
                        "(20 us per message), to see how training would go on a slower network")
    p.add_argument("--checkpoint-dir", help="ncc: save the training state of every fold here after each epoch")
    p.add_argument("--resume", action="store_true",
                   help="ncc: continue each fold from its checkpoint in --checkpoint-dir (bit-identical to an "
                        "uninterrupted run with the same seed)")
    p.add_argument("--save-models", action="store_true",
                   help="also save each seed's trained model in -o for `inst2vec predict`: classifyapp ncc "
                        "(.keras), bag and ngram (.npz); devmap ncc (.keras) and boost (.npz), threadcoarsening "
                        "ncc (.keras) and neighbours (.npz), each trained on all rows")
    p.add_argument("--data-root", help="data sets folder (default $INST2VEC_DATA or ../shared/data)")
    p.add_argument("-j", "--jobs", type=at_least(0), default=0,
                   help="processes for compiling and embedding (0: all cores)")
    p.add_argument("-o", "--output", required=True, type=output_folder,
                   help="results folder (one JSON per task, platform, model and embeddings, with the arguments "
                        "that made it; a rerun replaces it, a run of other arguments is refused)")
    p.set_defaults(run=run_task)

    p = commands.add_parser("predict", help="apply a model saved by `inst2vec task --save-models` to IR or source "
                                            "files; prints FILE, class and score: the probability (ncc, boost), "
                                            "the linear SVM's score (bag, ngram) or the neighbours' mean speedup "
                                            "over factor 1 (neighbours); devmap models also need --aux")
    p.add_argument("model", help="a .keras (ncc) or .npz (bag, ngram, boost, neighbours) file written by "
                                 "`inst2vec task --save-models`")
    p.add_argument("files", nargs="+", metavar="FILE_OR_DIR",
                   help=IR_INPUTS_HELP.replace(" (compiled with clang-14 -O0)", "") + ": sources are compiled "
                        "as the model's training IR was: for classifyapp as POJ-104's programs (ncc's header in "
                        "front, C++11, -O0), for devmap and threadcoarsening optimised (-O2 -fno-slp-vectorize, no "
                        "noundef)")
    p.add_argument("--aux", action="append", default=[], metavar="NAME=VALUE",
                   help="an input of the model besides the IR, the same for every file (devmap ncc and boost: "
                        "--aux transfer=BYTES --aux wgsize=N)")
    p.add_argument("--data-root", help="data sets folder (for models trained with the published embeddings)")
    add_source_flags(p)
    p.set_defaults(run=run_predict)


def _embeddings(name: str, data_root):
    import inst2vec

    return inst2vec.load(name, data_root)


def run_task(args: argparse.Namespace) -> int:
    """Run every requested platform; write one JSON result each and print a summary line."""
    from inst2vec.data import data_root as resolve
    from inst2vec.embeddings import OURS, PUBLISHED
    from tasks.learners import TrainingSettings, check_optimizer

    root = resolve(args.data_root)
    model = args.model or DEFAULT_MODEL[args.task]
    _check_task_flags(args, model)
    _check_specific_flags(args, model)
    _check_distributed_flags(args, model)
    check_optimizer(args.optimizer)
    if model == "ncc":  # a Keras backend that is not installed is refused now, not after hours of compiling
        from tasks.ncc import import_keras

        import_keras()
    settings = TrainingSettings(epochs=args.epochs, batch_size=args.batch_size,
                                max_length=args.max_length or DEFAULT_MAX_LENGTH[args.task],
                                compression=args.compression if args.distributed else None,
                                algorithm=args.algorithm, error_feedback=args.error_feedback,
                                checkpoint_dir=args.checkpoint_dir, resume=args.resume, optimizer=args.optimizer,
                                simulated_link_gbps=args.simulate_link, recalibrate_batch_norm=args.recalibrate_bn)
    if args.save_models and (args.task, model) not in SAVED_MODELS:
        raise Inst2vecError(f"--save-models cannot save {args.task} {model} models; it saves "
                            + ", ".join(f"{t} {m}" for t, m in sorted(SAVED_MODELS)))
    if args.resume and not args.checkpoint_dir:
        raise Inst2vecError("--resume needs --checkpoint-dir (where the checkpoints are)")
    if args.checkpoint_dir:
        _refuse_to_overwrite_checkpoints(Path(args.checkpoint_dir), args.resume)
        Path(args.checkpoint_dir).mkdir(parents=True, exist_ok=True)
    rank = 0
    if args.distributed:
        from mpi4py import MPI

        rank = MPI.COMM_WORLD.Get_rank()
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    embeddings = _embeddings(args.embeddings, root) if model in CODE_MODELS else None
    # Results and saved models name a folder by its absolute path, so `predict` finds it from anywhere.
    name = "none" if embeddings is None else args.embeddings if args.embeddings in (OURS, PUBLISHED) else \
        str(Path(args.embeddings).resolve())
    arguments = _result_arguments(args, model, name, settings)
    _check_earlier_results(args, arguments)
    report = functools.partial(_report, args, rank, arguments)
    if args.task == "classifyapp":
        from tasks import classifyapp

        # Under MPI, rank 0 compiles; the other ranks wait, then index what it built.
        if rank == 0:
            data = classifyapp.compile_poj104(root, args.work_dir, args.per_class, args.classes, jobs=args.jobs)
        if args.distributed:
            MPI.COMM_WORLD.Barrier()
        if rank != 0:
            data = classifyapp.compile_poj104(root, args.work_dir, args.per_class, args.classes, build=False)
        report(classifyapp.run(data, model, embeddings, name, seeds, settings, jobs=args.jobs,
                                       save_dir=args.output if args.save_models else None))
    elif args.task == "devmap":
        from tasks import datasets, devmap

        for platform in _platforms(args):
            data = datasets.load_devmap(platform, root)
            report(devmap.run(data, model, embeddings, name, seeds, settings, split=args.split,
                                      jobs=args.jobs))
            if args.save_models:
                devmap.save_full_model(data, embeddings, name, settings, args.output, model)
    else:
        from tasks import datasets, threadcoarsening

        for platform in _platforms(args):
            data = datasets.load_threadcoarsening(platform, root)
            report(threadcoarsening.run(data, model, embeddings, name, seeds, settings, jobs=args.jobs))
            if args.save_models:
                threadcoarsening.save_full_model(data, embeddings, name, settings, args.output, model)
    return 0


def _task_platforms(task: str) -> tuple[str, ...]:
    """The platforms of ``task``'s data set (none for classifyapp)."""
    from tasks import datasets

    return {"classifyapp": (), "devmap": datasets.DEVMAP_PLATFORMS,
            "threadcoarsening": datasets.COARSENING_PLATFORMS}[task]


def _platforms(args) -> list[str | None]:
    """The platforms this run writes a result for (``None``: the task has no platforms)."""
    return list(args.platform or _task_platforms(args.task) or [None])


def _result_arguments(args, model: str, embeddings: str, settings) -> dict[str, Any]:
    """What decides a result besides the task and the platform its file name carries, as its ``arguments`` record:
    the model, the embeddings, the seeds, the arguments of the task (``split``; ``per_class``, ``classes``), the
    neural model's training settings, and how distributed training exchanged gradients."""
    arguments = {"model": model, "embeddings": embeddings, "first_seed": args.first_seed, "seeds": args.seeds,
                 **({"split": args.split} if args.task == "devmap" else {}),
                 **({"per_class": args.per_class, "classes": args.classes} if args.task == "classifyapp" else {}),
                 **settings.protocol(model)}
    if args.distributed:
        from mpi4py import MPI

        from train.compression import FEEDBACK_REDUCTIONS, parse_compression

        reduction = parse_compression(args.compression).reduction  # what the algorithm and the feedback apply to
        arguments["distributed"] = {
            "ranks": MPI.COMM_WORLD.Get_size(), "compression": args.compression,
            "algorithm": args.algorithm if reduction == "sparse" else None,
            "error_feedback": args.error_feedback if reduction in FEEDBACK_REDUCTIONS else None,
            "simulated_link_gbps": args.simulate_link}
    return arguments


def _check_earlier_results(args, arguments: dict[str, Any]) -> None:
    """Refuse, before any work, to replace a result of other arguments (the same arguments replace it: a rerun);
    a result written before results recorded their arguments is replaced."""
    from tasks.results import result_path

    for platform in _platforms(args):
        path = result_path(args.output, args.task, platform, arguments["model"], arguments["embeddings"])
        try:
            earlier = json.loads(path.read_text(encoding="utf-8")).get("arguments")
        except (OSError, ValueError, AttributeError):  # none there, or no result of ours
            continue
        if isinstance(earlier, dict) and earlier != arguments:
            changed = ", ".join(f"{key} {earlier.get(key)!r} there, {value!r} here" for key, value in
                                arguments.items() if earlier.get(key) != value)
            raise Inst2vecError(f"{path} holds the result of a run with other arguments ({changed}); give this "
                                f"run another -o folder, or delete that file to replace it")


def _check_task_flags(args, model: str) -> None:
    """Refuse unknown models and platforms, and POJ-104 selections larger than POJ-104, before any data is read or
    compiled (numbers below their minimum are refused by argparse); spell ``args.platform`` as the data sets do."""
    from tasks import classifyapp, datasets, devmap, threadcoarsening

    models = {"classifyapp": classifyapp.MODELS, "devmap": devmap.MODELS,
              "threadcoarsening": threadcoarsening.MODELS}[args.task]
    platforms = _task_platforms(args.task)
    if model not in models:
        raise Inst2vecError(f"unknown {args.task} model {model!r}; choose from {', '.join(models)}")
    chosen = []
    for platform in (name.strip() for value in args.platform or () for name in value.split(",")):
        if not platforms:
            raise Inst2vecError(f"{args.task} has no platforms (--platform is for devmap and threadcoarsening)")
        name = datasets.platform_name(args.task, platform, platforms)
        if name not in chosen:
            chosen.append(name)
    args.platform = chosen or None  # the data sets' spelling (any case accepted), each platform once
    for flag, value, most, what in (("--classes", args.classes, 104, "classes"),
                                    ("--per-class", args.per_class, 500, "programs per class")):
        if value is not None and value > most:  # POJ-104's size: more would copy a duplicate selection
            raise Inst2vecError(f"{flag}: POJ-104 has {most} {what}, not {value}")


def _check_specific_flags(args, model: str) -> None:
    """Refuse a flag that the chosen task or model would ignore (``threadcoarsening --split grouped`` ran the one
    protocol it has), then give the flags left unset their defaults."""
    for dest, (flag, tasks, models, default) in SPECIFIC_FLAGS.items():
        value = getattr(args, dest)
        if value is not None and value is not False:
            if args.task not in tasks:
                raise Inst2vecError(f"{flag} is for {' and '.join(tasks)}; {args.task} does not use it")
            if models is not None and model not in models:
                readers = "the neural model (--model ncc)" if models == ("ncc",) else \
                    "the models that read the code (" + ", ".join(models) + ")"
                raise Inst2vecError(f"{flag} is for {readers}; {args.task} {model} does not use it")
        elif value is None:
            setattr(args, dest, default)


def _refuse_to_overwrite_checkpoints(folder: Path, resume: bool) -> None:
    """Refuse a run that would start over in a folder of checkpoints without ``--resume``: it replaced them epoch
    by epoch, and the earlier run could no longer be resumed. (Checked before any rank trains: no rank of this
    run can have written one yet.)"""
    from tasks.learners import is_checkpoint

    if resume or not folder.is_dir():
        return
    found = sorted(path.name for path in folder.iterdir() if is_checkpoint(path.name))
    if found:
        raise Inst2vecError(f"--checkpoint-dir {folder} holds checkpoints of an earlier run ({', '.join(found[:3])}"
                            f"{', …' if len(found) > 3 else ''}); add --resume to go on with it, or give another "
                            "folder (a run without --resume would replace them)")


def _check_distributed_flags(args, model: str) -> None:
    """Refuse flags of distributed training without ``--distributed``, and values they cannot take, before any
    data is read (the compressor and the algorithm were parsed only when training began); then give
    ``--compression`` and ``--algorithm`` their defaults if left out."""
    from train.collectives import ALGORITHMS
    from train.compression import FEEDBACK_REDUCTIONS, parse_compression

    given = [flag for flag, is_set in (("--compression", args.compression is not None),
                                       ("--algorithm", args.algorithm is not None),
                                       ("--no-error-feedback", not args.error_feedback),
                                       ("--simulate-link", args.simulate_link is not None)) if is_set]
    if given and not args.distributed:
        raise Inst2vecError(f"{', '.join(given)} {'set' if len(given) > 1 else 'sets'} how MPI ranks exchange "
                            "gradients: it needs --distributed")
    algorithm_given = args.algorithm is not None
    args.compression = "none" if args.compression is None else args.compression
    args.algorithm = "ssar_rd" if args.algorithm is None else args.algorithm
    if args.distributed and model != "ncc":
        raise Inst2vecError(f"--distributed trains the neural model (--model ncc), not {model!r}")
    try:
        reduction = parse_compression(args.compression).reduction
    except ValueError as err:
        raise Inst2vecError(f"--compression: {err}") from None
    if args.algorithm not in ALGORITHMS:
        raise Inst2vecError(f"--algorithm: unknown allreduce algorithm {args.algorithm!r}; choose from "
                            f"{', '.join(ALGORITHMS)}")
    if algorithm_given and reduction != "sparse":
        raise Inst2vecError(f"--algorithm {args.algorithm} sums sparse payloads (topk, topk_fast, randomk); "
                            f"--compression {args.compression} is {SUMMED_AS[reduction]}")
    if not args.error_feedback and reduction not in FEEDBACK_REDUCTIONS:
        raise Inst2vecError(f"--no-error-feedback: --compression {args.compression} keeps no error feedback "
                            "(top-k, random-k and PowerSGD do)")


def _report(args, rank: int, arguments: dict[str, Any], result: dict) -> None:
    """Write and print one result at once (rank 0 only), so a long run keeps what it has finished; it records the
    ``arguments`` that decided it (:func:`_result_arguments`)."""
    if rank != 0:  # every rank computed the same results; rank 0 writes them
        return
    from tasks.results import write_result

    result["arguments"] = arguments
    if "distributed" in arguments:
        result["protocol"]["distributed"] = arguments["distributed"]
    path = write_result(result, args.output)
    speedup = f"  speedup {result['speedup_mean']:.3f} ± {result['speedup_std']:.3f}" \
        if "speedup_mean" in result else ""
    run = " ".join(part for part in (result["task"], result["platform"], result["model"]) if part)
    print(f"{run} ({result['embeddings']}): "
          f"accuracy {100 * result['accuracy_mean']:.2f} ± {100 * result['accuracy_std']:.2f} %{speedup}"
          f"  [{len(result['seeds'])} seed{'s' if len(result['seeds']) != 1 else ''}, "
          f"{result['wall_seconds']:.0f} s] -> {path}", flush=True)


def run_predict(args: argparse.Namespace) -> int:
    """Print each file's predicted class and score (one line each); unreadable files are reported and skipped."""
    predict_ir, meta = load_predictor(args.model, args.aux, args.data_root)
    files, missing = collect_ir_files(args.files, note_unread_sources=True)
    if not files and not missing:
        raise no_ir_files_error(args.files)
    for result in missing:
        print(f"error: {result.error}", file=sys.stderr)
    failed = len(missing)
    compile_source = compiler_of_training_ir(meta.get("task"))
    for path in files:
        try:
            label, score = predict_file(predict_ir, compile_source, path)
        except (Inst2vecError, OSError) as err:
            print(f"error: {err}", file=sys.stderr)
            failed += 1
            continue
        print(f"{path}\t{meta['labels'][label]}\t{score:.3f}")
    if failed:
        print(skipped_summary(failed, len(files) + len(missing)), file=sys.stderr)
    return 1 if failed else 0


#: A loaded model: an IR file's path -> (label number, score).
Predictor = Callable[[str], tuple[int, float]]


def load_predictor(model: str | Path, aux: list[str], data_root: str | None = None) -> tuple[Predictor, dict]:
    """A model saved by ``inst2vec task --save-models`` as ``IR path -> (label number, score)``, and its
    description (``labels`` names the label numbers); ``aux`` holds its ``NAME=VALUE`` inputs besides the IR.

    Raises:
        Inst2vecError: not such a model, a damaged one, wrong ``aux``, or its embeddings cannot be loaded.
    """
    model_path = Path(model)
    meta_path = Path(str(model_path) + ".json")
    if not model_path.is_file() or not meta_path.is_file():
        swapped = "; the model comes first: inst2vec predict MODEL FILE.ll…" if model_path.suffix == ".ll" else ""
        raise Inst2vecError(f"{model_path}: not a model saved by `inst2vec task --save-models` "
                            f"(needs {model_path.name} and {meta_path.name}{swapped})")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except ValueError as err:
        raise Inst2vecError(f"{meta_path}: not valid JSON: {err}") from err
    _check_description(meta_path, meta)
    kind = meta.get("kind", "ncc" if model_path.suffix == ".keras" else None)
    if not isinstance(kind, str) or kind not in PREDICTORS:  # a hand-edited {} was a TypeError
        raise Inst2vecError(f"{meta_path}: unknown model kind {kind!r} (expected a .keras ncc model or kind "
                            + ", ".join(repr(k) for k in PREDICTORS if k != "ncc") + ")")
    arrays = _load_array_model(model_path, kind)
    aux_values = _aux_values(model_path, meta, aux)
    try:
        embeddings = _embeddings(meta["embeddings"], data_root)
    except Inst2vecError as err:
        raise Inst2vecError(f"{model_path}: the embeddings it was trained with cannot be loaded: {err}") from err
    return PREDICTORS[kind](model_path, meta, arrays, embeddings, aux_values), meta


def compiler_of_training_ir(task: str | None) -> Callable[[str], bytes]:
    """``source path -> IR bytes`` as the IR a model of ``task`` was trained on was made (classifyapp: POJ-104's
    recipe; devmap and threadcoarsening: optimised kernels), else as the batch commands compile."""
    from ir_corpus.compile import KERNEL_VARIANT, compile_file, compile_poj104_program

    if task == "classifyapp":
        return compile_poj104_program
    if task in ("devmap", "threadcoarsening"):
        return functools.partial(compile_file, variant=KERNEL_VARIANT)
    return compile_file


def predict_file(predict_ir: Predictor, compile_source: Callable[[str], bytes], path: str) -> tuple[int, float]:
    """``predict_ir(path)``; a C, C++ or OpenCL file is first compiled with ``compile_source`` (to IR bytes)."""
    from ir_corpus.sources import is_source_file

    if not is_source_file(path):
        return predict_ir(path)
    ir = compile_source(path)
    with tempfile.TemporaryDirectory(prefix="inst2vec-predict-") as tmp:
        ir_path = Path(tmp) / f"{Path(path).name}.ll"
        ir_path.write_bytes(ir)
        try:
            return predict_ir(str(ir_path))
        except NoStatementsError:
            raise NoStatementsError(path) from None  # the source, not its IR's temporary file


class NoStatementsError(Inst2vecError):
    """A file that defines no function: a model's prediction from no statements would mean nothing."""

    def __init__(self, path: str):
        super().__init__(f"{path}: no statements to predict from (it defines no function)")


def _encoded(path: str, embeddings, ngrams: bool = False):
    """The file's :class:`~tasks.encoding.EncodedFiles` (one row), or :class:`NoStatementsError`."""
    from tasks.encoding import encode_files

    encoded = encode_files([path], embeddings, progress=False, ngrams=ngrams)
    if len(encoded.sequences[0]) == 0:
        raise NoStatementsError(path)
    return encoded


def _check_description(meta_path: Path, meta) -> None:
    """Refuse a model description whose fields ``predict`` reads have the wrong types (a damaged or hand-made
    file): ``embeddings`` a name, ``labels`` two or more names, ``aux_inputs`` names, ``max_length`` a count."""
    if not isinstance(meta, dict) or "embeddings" not in meta or "labels" not in meta:
        raise Inst2vecError(f"{meta_path}: not the description of a saved model (needs embeddings and labels)")
    names = lambda value: isinstance(value, list) and all(isinstance(v, str) for v in value)  # noqa: E731
    problems = [f"{key} must be {what}" for key, what, fine in (
        ("embeddings", "a name or path", isinstance(meta["embeddings"], str)),
        ("labels", "a list of two or more names", names(meta["labels"]) and len(meta["labels"]) >= 2),
        ("aux_inputs", "a list of names", names(meta.get("aux_inputs") or [])),
        ("max_length", "a whole number >= 1", type(meta.get("max_length", 1)) is int and meta.get("max_length", 1) > 0),
    ) if not fine]
    if problems:
        raise Inst2vecError(f"{meta_path}: " + "; ".join(problems))


def _load_array_model(model_path: Path, kind: str):
    """The saved arrays of a ``linear``, ``boost`` or ``neighbours`` model (None for ``ncc``: Keras loads it), read
    before asking for the model's inputs, so that a model saved in an earlier format of its kind is refused first
    (a boost model saved before 2026-12-06 took other inputs)."""
    if kind == "ncc":
        return None
    from tasks.linear_model import LinearModel
    from tasks.threadcoarsening import NeighboursModel
    from tasks.tree_model import BoostedTrees

    return {cls.KIND: cls for cls in (LinearModel, BoostedTrees, NeighboursModel)}[kind].load(model_path)


def _aux_values(model_path: Path, meta: dict, given: list[str]) -> np.ndarray | None:
    """The model's inputs besides the IR from ``--aux NAME=VALUE`` flags, (1, inputs) in the order of the model's
    ``aux_inputs``; None if it has none."""
    names = meta.get("aux_inputs") or []
    values = {}
    for item in given:
        name, _, value = item.partition("=")
        if name not in names:
            takes = " ".join(f"--aux {n}=VALUE" for n in names) or "no --aux inputs"
            raise Inst2vecError(f"--aux {item}: {model_path.name} takes {takes}")
        if name in values:
            raise Inst2vecError(f"--aux {item}: {name} is given twice; give each aux input once")
        try:
            values[name] = float(value)
        except ValueError:
            raise Inst2vecError(f"--aux {item}: {value!r} is not a number") from None
        if not 0 <= values[name] < float("inf"):
            raise Inst2vecError(f"--aux {item}: must be a finite number >= 0")
    missing = [n for n in names if n not in values]
    if missing:
        raise Inst2vecError(f"{model_path.name} also needs " + " ".join(f"--aux {n}=VALUE" for n in missing)
                            + " (the same for every file)")
    return np.array([[values[n] for n in names]]) if names else None


def _ncc_predictor(model_path: Path, meta: dict, model: None, embeddings, aux: np.ndarray | None):
    """``path -> (label number, probability)`` with a saved Keras ncc model (``aux``: its aux inputs)."""
    from tasks import ncc

    if aux is not None:  # scaled as the training rows were
        try:
            mean, std = (np.asarray(meta[k], dtype=float).reshape(aux.shape[1])
                         for k in ("aux_log_mean", "aux_log_std"))
        except (KeyError, TypeError, ValueError):
            raise Inst2vecError(f"{model_path.name}.json: aux_log_mean and aux_log_std must list one number per "
                                "aux input") from None
        aux = (np.log1p(aux) - mean) / std
    if "max_length" not in meta:
        raise Inst2vecError(f"{model_path.name}.json: an ncc model's description needs max_length")
    model = _load_keras_model(model_path)
    classes = {int(output.shape[-1]) for output in model.outputs}
    if classes != {len(meta["labels"])}:
        raise Inst2vecError(f"{model_path}: the model has {', '.join(map(str, sorted(classes)))} outputs per row, but "
                            f"{model_path.name}.json names {len(meta['labels'])} labels")
    vectors = np.asarray(embeddings.normalized, dtype=np.float32)

    def predict(path: str) -> tuple[int, float]:
        sequence = _encoded(path, embeddings).sequences[0]
        probabilities = ncc.predict_proba(model, [sequence], vectors, embeddings.vocabulary.unknown_index, aux,
                                          max_length=meta["max_length"])[0]
        return int(np.argmax(probabilities)), float(probabilities.max())
    return predict


def _load_keras_model(model_path: Path):
    """``keras.models.load_model`` (safe mode: no code from the file runs), with a damaged file an error naming it.
    Not compiled: predicting needs no optimizer, and a model trained with ``--distributed`` names one of
    :func:`train.DistributedOptimizer`'s classes, which exist only while training ("Could not locate class")."""
    import zipfile

    from tasks.ncc import import_keras

    keras = import_keras()
    if not zipfile.is_zipfile(model_path):
        raise Inst2vecError(f"{model_path}: not a Keras model (a .keras file is a zip archive)")
    try:
        return keras.models.load_model(model_path, compile=False)
    except Exception as err:  # Keras raises many kinds (ValueError, KeyError, OSError, zipfile errors …)
        raise Inst2vecError(f"{model_path}: cannot read the Keras model: {first_line(err)}") from err


def _linear_predictor(model_path: Path, meta: dict, model, embeddings, aux: None):
    """``path -> (label number, SVM score)`` with a saved ``bag`` or ``ngram`` model."""
    from tasks.classifyapp import file_tokens

    if meta.get("model") not in ("bag", "ngram"):
        raise Inst2vecError(f"{model_path.name}.json: a linear model is a 'bag' or 'ngram' model, not "
                            f"{meta.get('model')!r}")

    def predict(path: str) -> tuple[int, float]:
        encoded = _encoded(path, embeddings, ngrams=meta["model"] == "ngram")
        scores = model.decision(model.features(file_tokens(encoded, meta["model"]), encoded.pooled()))[0]
        best = int(np.argmax(scores))
        return int(model.classes[best]), float(scores[best])
    return predict


def _boost_predictor(model_path: Path, meta: dict, model, embeddings, aux: np.ndarray):
    """``path -> (label number, probability)`` with a saved devmap ``boost`` model (``aux``: the kernel's launch,
    transfer bytes and work-group size)."""
    from tasks.devmap import AUX_INPUTS, boost_matrix, launch_features

    if meta.get("aux_inputs") != AUX_INPUTS:
        raise Inst2vecError(f"{model_path.name}.json: a boost model takes the aux inputs {AUX_INPUTS}, not "
                            f"{meta.get('aux_inputs')}")
    _check_pooled_width(model_path, meta, int(model.inputs.max()) - launch_features(aux).shape[1], embeddings)

    def predict(path: str) -> tuple[int, float]:
        pooled = _encoded(path, embeddings).pooled()
        probabilities = model.predict_proba(boost_matrix(aux, pooled))[0]
        best = int(np.argmax(probabilities))
        return int(model.classes[best]), float(probabilities[best])
    return predict


def _neighbours_predictor(model_path: Path, meta: dict, model, embeddings, aux: None):
    """``path -> (factor number, speedup)`` with a saved threadcoarsening ``neighbours`` model; the speedup over
    factor 1 is the geometric mean of the nearest training kernels' at the predicted factor."""
    _check_pooled_width(model_path, meta, model.vectors.shape[1], embeddings)

    def predict(path: str) -> tuple[int, float]:
        factors, log_speedups = model.predict(_encoded(path, embeddings).pooled())
        return int(factors[0]), float(np.exp(log_speedups[0]))
    return predict


def _check_pooled_width(model_path: Path, meta: dict, width: int, embeddings) -> None:
    """Refuse a model whose program vectors are not those of ``embeddings`` ([flow, mean]: twice their width)."""
    if width != 2 * embeddings.dim:
        raise Inst2vecError(f"{model_path}: takes program vectors of {width} numbers, but the embeddings it names "
                            f"({meta['embeddings']}: {embeddings.dim} per statement) give {2 * embeddings.dim}; "
                            "were they trained again since?")


#: ``kind`` of a saved model -> ``(model path, its metadata, its loaded arrays or None, embeddings, aux inputs) ->
#: (path -> (label, score))``.
PREDICTORS = {"ncc": _ncc_predictor, "linear": _linear_predictor, "boost": _boost_predictor,
              "neighbours": _neighbours_predictor}
