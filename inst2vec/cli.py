"""The ``inst2vec`` command: statements, flow graphs, vocabularies, embeddings and downstream tasks from LLVM IR.

Each subcommand parses its arguments, calls library functions and writes the result. Batch
commands go on past bad files, report them on stderr and exit with status 1 if any failed.
"""
from __future__ import annotations

import argparse
import contextlib
import difflib
import functools
import json
import logging
import os
import re
import signal
import sys
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from inst2vec import __version__
from inst2vec.arguments import (IR_INPUTS_HELP, add_source_flags, at_least, graph_path, json_path, npz_path,
                                output_file, output_folder, plot_file, source_flags_exported)
from inst2vec.batch import (FileResult, MirroredOutputs, collect_ir_files, no_ir_files_error, run_batch,
                            skipped_summary)
from inst2vec.errors import ENDING_SIGNALS, DataNotFoundError, Inst2vecError, NothingReadError, Terminated
from inst2vec.io import atomic_path, atomic_write, folder_made, is_standard_output, remove_temporary_files

log = logging.getLogger("inst2vec")
SAMPLES = Path(__file__).parent / "samples"
#: ``embed`` says how to leave the statement vectors out when they take this many bytes (a corpus's: gigabytes).
LARGE_STATEMENT_VECTORS = 1 << 30


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``inst2vec`` console script; returns the exit status."""
    _print_file_names_as_their_bytes()
    parser = _parser()
    args = parser.parse_args(argv)
    if getattr(args, "distributed", None) is False and (ranks := _launcher_size()) > 1:
        parser.error(f"this is one of {ranks} MPI ranks, but without --distributed every rank runs the whole "
                     f"{args.task} task and writes the same results: add --distributed (--model ncc) to train one "
                     "model on all ranks, or run it without mpiexec")
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s: %(message)s")
    if not args.verbose:
        logging.getLogger("tensorflow").addFilter(_not_expected_retracing)
        # TensorFlow's C++ information lines (its CPU instructions, a memory setting, absl's start) on every run
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    try:
        status = _run(args)
    except Exception:  # a bug: the traceback, then (in an MPI job) the other ranks ended with this one
        if _mpi_world_of_several_ranks() is not None:
            traceback.print_exc()
            _abort_mpi_job(1)
        raise
    if status >= 2:
        _abort_mpi_job(status)
    return status


def _print_file_names_as_their_bytes() -> None:
    """Let standard output print a file name that is no UTF-8 as its bytes: Python holds them as lone surrogates,
    which a strict stream (the default in a UTF-8 locale such as en_US.UTF-8) refused with a traceback."""
    if getattr(sys.stdout, "errors", None) == "strict" and hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="surrogateescape")


def _terminate(signum, frame) -> None:
    for ending in ENDING_SIGNALS:  # once: another would cut the clean-up short
        signal.signal(ending, signal.SIG_IGN)
    raise Terminated(signum)


@contextlib.contextmanager
def _ending_signals_raise() -> Iterator[None]:
    """:data:`~inst2vec.errors.ENDING_SIGNALS` raise :class:`~inst2vec.errors.Terminated` in this process for the
    block (its pool workers keep their default action: :func:`~inst2vec.batch.default_ending_signals`)."""
    try:
        previous = {signum: signal.signal(signum, _terminate) for signum in ENDING_SIGNALS}
    except ValueError:  # not the main thread (a caller's): the signals keep their handlers
        yield
        return
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _run(args: argparse.Namespace) -> int:
    """Run the chosen command; its errors printed as one line and turned into an exit status."""
    try:
        with _ending_signals_raise(), source_flags_exported(args):
            return args.run(args)
    except Inst2vecError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:  # Ctrl-C: outputs are written atomically, so no half-written file is left
        print("interrupted", file=sys.stderr)
        return 130
    except Terminated as ended:
        print(f"terminated ({signal.Signals(ended.signum).name})", file=sys.stderr)
        return 128 + ended.signum
    except OSError as err:  # e.g. no permission or no space left for an output: no traceback
        print(f"error: {err}", file=sys.stderr)
        return 2


def _mpi_world_of_several_ranks():
    """``MPI.COMM_WORLD`` if this process is one of several ranks of a started MPI job, else None (mpi4py is only
    looked at if the command imported it)."""
    mpi = sys.modules.get("mpi4py.MPI")
    if mpi is None or not mpi.Is_initialized() or mpi.Is_finalized() or mpi.COMM_WORLD.Get_size() < 2:
        return None
    return mpi.COMM_WORLD


def _abort_mpi_job(status: int) -> None:
    """End every rank of this MPI job, if there is one: a rank that failed (rank 0 compiling POJ-104, say) left
    the others waiting for it in their next collective for ever, since its exit waits for them too."""
    world = _mpi_world_of_several_ranks()
    if world is not None:
        sys.stdout.flush()
        sys.stderr.flush()
        world.Abort(status)


def _not_expected_retracing(record: logging.LogRecord) -> bool:
    """False for TensorFlow's warning that functions were traced again: the tasks build a model per fold and
    batch sequences in a few padded lengths, so each run retraces by design (shown with --verbose)."""
    return "triggered tf.function retracing" not in record.getMessage()


class _Parser(argparse.ArgumentParser):
    """A command's files may come after its flags too (``statements a.ll -o out.txt b.ll``); unknown arguments
    are refused by the (sub)command that read them, with its usage and the flag of that command closest to each
    (argparse refused them with the top-level usage only). Flags are spelt out: argparse took any unambiguous
    start of one (``--emb``), which a later flag with the same start would have turned into an error in scripts
    that worked before; the refusal names the flag meant."""

    _has_commands = False
    _intermixing = False

    def __init__(self, *args, allow_abbrev: bool = False, **kwargs):
        super().__init__(*args, allow_abbrev=allow_abbrev, **kwargs)

    def add_subparsers(self, **kwargs):
        self._has_commands = True
        return super().add_subparsers(**kwargs)

    def parse_known_args(self, args=None, namespace=None):
        if not self._has_commands and not self._intermixing:  # a command: read its arguments intermixed
            self._intermixing = True
            try:
                namespace, unknown = self.parse_known_intermixed_args(args, namespace)
            finally:
                self._intermixing = False
        else:  # the top level, or a pass of the intermixed reading (which leaves the files for the next pass)
            namespace, unknown = super().parse_known_args(args, namespace)
            if self._intermixing:
                return namespace, unknown
        if unknown:
            self.error(f"unrecognized arguments: {' '.join(map(self._hint, unknown))}")
        return namespace, unknown

    def error(self, message: str):
        """Print the usage and ``message`` and exit with status 2. Under ``mpiexec`` or ``srun`` the first rank
        prints, as every rank got the same arguments (each printed the same usage and message); the others exit
        with status 2 too, quietly and a few seconds later, so that the launcher does not end the job before the
        first has printed (it ends them at once when the first has exited)."""
        if _launcher_rank() not in (None, 0):
            time.sleep(RANK_ERROR_DELAY)
            self.exit(2)
        super().error(message)

    def _hint(self, arg: str) -> str:
        """``arg``, followed by the flag it was probably meant to be."""
        if arg in ("-v", "--verbose"):
            return f"{arg} (it goes before the command: inst2vec {arg} {self.prog.split(' ', 1)[-1]} …)"
        if not arg.startswith("-"):
            return arg
        flags = [flag for action in self._actions for flag in action.option_strings]
        name = arg.split("=")[0]
        started = [flag for flag in flags if flag.startswith(name)] if name.startswith("--") else []
        close = started if len(started) == 1 else difflib.get_close_matches(name, flags, n=1, cutoff=0.7)
        return f"{arg} (did you mean {close[0]}?)" if close else arg


#: Seconds the other ranks wait before exiting on an argument error, so that the first rank's message is printed.
RANK_ERROR_DELAY = 5.0


def _launcher_rank() -> int | None:
    """This process's rank as Open MPI, MPICH/PMIx or Slurm's launcher set it, read before MPI starts; None when
    no launcher started it."""
    for variable in ("OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"):
        if os.environ.get(variable, "").isdigit():
            return int(os.environ[variable])
    return None


def _launcher_size() -> int:
    """The number of ranks Open MPI's or MPICH's launcher started (1 without one). Slurm's variables are not read:
    a batch script's own process sees the job's task count too."""
    for variable in ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE"):
        if os.environ.get(variable, "").isdigit():
            return int(os.environ[variable])
    return 1


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="inst2vec", description=__doc__.split("\n")[0].replace("``", ""))
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    p = commands.add_parser("statements", help="print the inst2vec statements of IR (.ll / .bc) or source files")
    _add_inputs(p)
    p.add_argument("--format", choices=("text", "jsonl"),
                   help="text: one statement per line ('\\n' inside a statement shown as '\\\\n'), "
                        "files separated by '; file' lines; jsonl: one JSON object per file (default: jsonl for "
                        "-o NAME.jsonl, else text)")
    p.add_argument("-o", "--output", type=output_file,
                   help="write here instead of standard output; gzip-compressed when the name ends in .gz "
                        "(s.txt.gz, s.jsonl.gz)")
    p.set_defaults(run=_statements)

    p = commands.add_parser("xfg", help="build the contextual flow graphs of IR (.ll / .bc) or source files")
    _add_inputs(p)
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("-o", "--output", type=graph_path,
                       help="the graph of one input file: out.graphml or out.json (node-link); .gz after either: "
                            "gzip-compressed (a C++ file's graph can be gigabytes of text)")
    where.add_argument("--output-dir", type=output_folder,
                       help="one graph per input file, named as the file (below this folder as below its input "
                            "folder)")
    p.add_argument("--format", choices=("graphml", "json", "graphml.gz", "json.gz"),
                   help="the graphs' format with --output-dir (default graphml; json: node-link; .gz: "
                        "gzip-compressed)")
    p.add_argument("--verify", action="store_true", help="also check the IR with LLVM (llvmlite)")
    p.set_defaults(run=_xfg)

    vocab = commands.add_parser("vocab", help="statement vocabularies").add_subparsers(
        title="vocab commands", required=True, metavar="COMMAND")
    p = vocab.add_parser("build", help="count statements over .ll files and write a vocabulary")
    _add_inputs(p)
    p.add_argument("-o", "--output", required=True, type=json_path,
                   help="vocabulary JSON file (.json, or .json.gz compressed)")
    p.add_argument("--cutoff", type=at_least(0), default=0, help="statements seen at most this often become !UNK")
    p.set_defaults(run=_vocab_build)

    p = commands.add_parser("pairs", help="XFG context pairs of .ll files, as vocabulary indices (.npz)")
    _add_inputs(p)
    p.add_argument("-o", "--output", required=True, type=npz_path, help="pairs.npz (arrays target, context)")
    p.add_argument("--vocab", help="vocabulary JSON whose rows the pairs are (default: built from the inputs, "
                                    "cutoff 0: the one `inst2vec vocab build INPUTS -o V.json` writes)")
    p.add_argument("--width", type=at_least(1), default=2, help="context width in dual-graph hops (default 2)")
    p.add_argument("--subsample", type=at_least(0, float), default=1e-7,
                   help="subsampling threshold t (default 1e-7, the original's; 0 keeps every pair)")
    p.add_argument("--seed", type=at_least(0), default=0, help="random seed of the subsampling")
    p.set_defaults(run=_pairs)

    p = commands.add_parser("train-embeddings", help="skip-gram (gensim) on the XFG context pairs of a corpus")
    _add_inputs(p)
    p.add_argument("-o", "--output", required=True, type=output_folder,
                   help="folder for vocabulary.json.gz, embeddings.npy, embeddings.w2v.txt.gz (word2vec text, for "
                        "gensim), training.json")
    p.add_argument("--cutoff", type=at_least(0), default=0, help="statements seen at most this often become !UNK")
    p.add_argument("--width", type=at_least(1), default=2, help="context width in dual-graph hops (default 2)")
    p.add_argument("--subsample", type=at_least(0, float), default=1e-7,
                   help="pair subsampling threshold (0: keep all)")
    p.add_argument("--dim", type=at_least(1), default=200, help="embedding size (default 200)")
    p.add_argument("--epochs", type=at_least(1), default=5, help="passes over the pairs (default 5)")
    p.add_argument("--negative", type=at_least(1), default=15, help="negative samples per pair (default 15)")
    p.add_argument("--seed", type=at_least(0), default=0,
                   help="seed of the subsampling, the pairs' order and gensim (default 0; with -j 1 a run "
                        "repeats exactly, with more jobs gensim's threads make runs differ a little)")
    p.set_defaults(run=_train_embeddings)

    p = commands.add_parser("evaluate-embeddings", help="analogy and semantic-distance tests of embeddings")
    p.add_argument("embeddings", help="'ours', 'published' or an embeddings folder (vocabulary.json or "
                   "vocabulary.json.gz, embeddings.npy)")
    p.add_argument("--questions", help="analogy questions TSV, or 'generated' for questions made from the "
                                      "embeddings' own vocabulary (default: the published set, "
                                      "DATA_ROOT/../anchors/ncc/derived/analogy_questions_published_vocab.tsv)")
    p.add_argument("--data-root", help="data sets folder (default $INST2VEC_DATA or ../shared/data)")
    p.add_argument("--json", action="store_true", help='print {"analogy": ..., "semantic_distance": ...}')
    p.add_argument("--common-with", metavar="EMB",
                   help="only questions whose statements are in this other embeddings' vocabulary too, so two "
                        "embeddings are compared on the same questions")
    p.add_argument("--plot", type=plot_file,
                   help="also draw a t-SNE map coloured by statement family into this .png, .svg or .pdf file")
    p.set_defaults(run=_evaluate_embeddings)

    p = commands.add_parser("embed", help="embed IR or source files: statement, function and file vectors (.npz)")
    _add_inputs(p)
    p.add_argument("-o", "--output", required=True, type=npz_path, help="out.npz")
    p.add_argument("--no-statement-vectors", dest="statement_vectors", action="store_false",
                   help="leave out the vector of every statement (4 x dim bytes each; the embeddings' rows of "
                        "'indices' are the same vectors)")
    p.add_argument("--embeddings", default="ours",
                   help="'ours' (default: shipped with the package), 'published' or an embeddings folder")
    p.add_argument("--data-root", help="data sets folder (default $INST2VEC_DATA or ../shared/data)")
    p.set_defaults(run=_embed)

    pretrained = commands.add_parser("pretrained", help="the published inst2vec embeddings").add_subparsers(
        title="pretrained commands", required=True, metavar="COMMAND")
    p = pretrained.add_parser("fetch", help="download compiler_gym==0.2.5 from PyPI, check and convert its "
                                            "inst2vec pickles to vocabulary.json + embeddings.npy")
    p.add_argument("-o", "--output", required=True, type=output_folder,
                   help="folder to write (e.g. DATA_ROOT/inst2vec-published)")
    p.add_argument("--wheel", help="use this already downloaded wheel instead of pip")
    p.add_argument("--data-root", help="also compare with the copies in DATA_ROOT/inst2vec-published")
    p.set_defaults(run=_pretrained_fetch)

    p = commands.add_parser("lookup", help="the vector of a statement, or its nearest neighbours")
    p.add_argument("statement", help="an inst2vec statement, e.g. '<%%ID> = add i32 <%%ID>, <INT>', or a line of "
                                     "LLVM IR, e.g. '%%5 = add i32 %%3, 1'")
    p.add_argument("--embeddings", default="ours",
                   help="'ours' (default: shipped with the package), 'published' or an embeddings folder")
    p.add_argument("--data-root", help="data sets folder (default $INST2VEC_DATA or ../shared/data)")
    p.add_argument("-k", "--neighbours", type=at_least(1),
                   help="print the k nearest statements instead (refused for a statement not in the vocabulary, "
                        "which is shown the statements spelled most like it)")
    p.set_defaults(run=_lookup)

    corpus = commands.add_parser("corpus", help="build LLVM IR corpora with clang-14").add_subparsers(
        title="corpus commands", required=True, metavar="COMMAND")
    p = corpus.add_parser("build", help="compile C/C++/OpenCL sources (folders or .tar.gz) to IR, resumably")
    p.add_argument("sources", nargs="*", metavar="SOURCE",
                   help="folders, .tar.gz archives or single source files, one suite each (default: every "
                        "archive in DATA_ROOT/ir-corpus-sources)")
    p.add_argument("-o", "--output", required=True, type=output_folder,
                   help="corpus folder (ir/, manifest.jsonl, sources/)")
    p.add_argument("--variants", default=None,
                   help="comma-separated: an optimisation level with optional -f options, e.g. "
                        "O0,O1,O2,O3,O3-ffast-math (default O0,O2); an option with -f inside its name after a "
                        "space: 'O2 -fno-omit-frame-pointer'")
    p.add_argument("-j", "--jobs", type=at_least(0), default=0, help="worker processes (default 0: all cores)")
    p.add_argument("--timeout", type=at_least(0, float, strict=True), default=60.0,
                   help="seconds clang may take per file (default 60)")
    p.add_argument("--limit", type=at_least(1), help="at most this many sources per suite")
    p.add_argument("--prune", action="store_true",
                   help="drop the records and IR of sources and variants not in this build (kept by default: "
                        "several builds may fill one corpus); nothing is pruned if an input cannot be read")
    p.add_argument("--small", action="store_true",
                   help="the small default corpus: the seven GPGPU suites and PolyBench/C, variant O2 "
                        "(unless --variants says otherwise)")
    p.add_argument("--data-root", help="data sets folder (default $INST2VEC_DATA or ../shared/data)")
    p.add_argument("--no-progress", dest="progress", action="store_false", default=None, help="no progress bar")
    add_source_flags(p)
    p.set_defaults(run=_corpus_build)
    p = corpus.add_parser("stats", help="print the per-suite table of a built corpus")
    p.add_argument("corpus", help="corpus folder")
    p.add_argument("--json", action="store_true", help="one JSON object per suite")
    p.set_defaults(run=_corpus_stats)

    p = commands.add_parser("demo", help="normalise, graph and embed the bundled IR sample and print a summary")
    p.add_argument("--file", default=str(SAMPLES / "sample.ll"), help="IR file (default: the bundled sample)")
    p.set_defaults(run=_demo)

    from tasks.cli import add_commands as add_task_commands  # task, predict

    add_task_commands(commands)
    return parser


def _add_inputs(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+", metavar="FILE_OR_DIR", help=IR_INPUTS_HELP)
    p.add_argument("-j", "--jobs", type=at_least(0), default=1, help="worker processes (0: all cores; default 1)")
    p.add_argument("--no-progress", dest="progress", action="store_false", default=None,
                   help="no progress bar (default: shown on a terminal for several files)")
    add_source_flags(p)


def _each(args, function, description: str, failures: list[FileResult], output: str | None = None,
          found: tuple[list[str], list[FileResult]] | None = None) -> Iterator[FileResult]:
    """Yield ``function``'s successful results over the inputs as they come; collect and finally
    print the failures (on stderr, with a ``skipped N of M`` line). An ``output`` file that is one of the
    inputs is refused before anything is read. ``found``: the inputs' :func:`_found_files`, when the caller
    has them already."""
    files, missing = found or _found_files(args.inputs)
    if output:
        _refuse_an_input_as_output(output, files)
    failures.extend(missing)
    n_done = 0
    for result in run_batch(function, files, args.jobs, args.progress, description):
        if result.ok:
            n_done += 1
            yield result
        else:
            failures.append(result)
    if not n_done and not failures:
        raise no_ir_files_error(args.inputs)
    if not n_done:
        _print_errors([result.error for result in failures])
        raise _nothing_read(len(failures))
    _report_skipped([result.error for result in failures], len(files) + len(missing))


def _found_files(inputs: list[str]) -> tuple[list[str], list[FileResult]]:
    """The IR files in ``inputs`` and the failures of those missing, as :func:`collect_ir_files` finds them,
    noting the folders whose sources are left unread."""
    return collect_ir_files(inputs, note_unread_sources=True)


def _refuse_an_input_as_output(output: str, files: list[str]) -> None:
    """Raise if ``output`` is (or links to) one of ``files``: writing it would replace an input that was read."""
    try:
        written = os.stat(output)
    except OSError:  # not there yet (or unreadable: writing it will say why)
        return
    for path in files:
        try:
            same = os.path.samestat(os.stat(path), written)
        except OSError:  # unreadable: reading it will say why
            continue
        if same:
            raise Inst2vecError(f"-o {output}: is the input file {path}; writing there would replace it. "
                                "Name another output")


def _input_files(inputs: list[str]) -> tuple[list[str], list[str]]:
    """The IR files among ``inputs`` and the errors of those that cannot be read; if none can, print the errors
    and raise."""
    files, missing = _found_files(inputs)
    errors = [result.error for result in missing]
    if not files:
        _print_errors(errors)
        raise no_ir_files_error(inputs)
    return files, errors


def _print_errors(errors: list[str]) -> None:
    for error in errors:
        print(f"error: {error}", file=sys.stderr)


def _report_skipped(errors: list[str], n_inputs: int) -> None:
    """Print the errors of the input files a batch command skipped, then ``skipped N of M file(s); K done``."""
    _print_errors(errors)
    if errors:
        print(skipped_summary(len(errors), n_inputs), file=sys.stderr)


def _nothing_read(n_files: int) -> Inst2vecError:
    """The error of a batch command none of whose input files could be read: it writes no output."""
    return Inst2vecError(f"none of the {n_files} input file(s) could be read; nothing written")


def _batch(args, function, description: str) -> tuple[list[FileResult], int]:
    """All successful results of ``function`` over the inputs, and the number of failed files."""
    failures: list[FileResult] = []
    done = list(_each(args, function, description, failures))
    return done, len(failures)


def _statements(args) -> int:
    from inst2vec.statements import StatementCache, file_statements

    compress = bool(args.output) and args.output.lower().endswith(".gz")
    name = args.output[:-3] if compress else args.output  # the name's format: "s.jsonl" of "s.jsonl.gz"
    if args.format is None:
        if name and name.lower().endswith(".json"):  # text went there, and no JSON reads JSON lines
            raise Inst2vecError(f"-o {args.output}: statements are written as text or as JSON lines (one object per "
                                "file): name the output .jsonl, or give --format")
        args.format = "jsonl" if name and name.endswith(".jsonl") else "text"
    failures: list[FileResult] = []
    results = _each(args, functools.partial(file_statements, cache=StatementCache()), "statements", failures,
                    output=args.output)
    with atomic_write(args.output, compress=compress) if args.output else contextlib.nullcontext(sys.stdout) as out:
        for result in results:  # written as they come: a large batch is never held in memory
            # ... nor a file's statements joined: inlined C++ types can make them gigabytes
            if args.format == "jsonl":
                out.writelines(json.JSONEncoder().iterencode({"file": result.path, "statements": result.value,
                                                              "n_statements": len(result.value)}))
                out.write("\n")
            else:
                out.write(f"; file {result.path}\n")
                out.writelines(s.replace("\n", "\\n") + "\n" for s in result.value)
    return 1 if failures else 0


def _xfg(args) -> int:
    from inst2vec.xfg import save_file_xfg

    if args.output:
        if len(args.inputs) != 1 or Path(args.inputs[0]).is_dir():
            raise Inst2vecError("-o writes the graph of one file; for several files or a folder use --output-dir")
        if args.format:
            raise Inst2vecError("--format goes with --output-dir; with -o the name's suffix gives the format")
        _, missing = collect_ir_files(args.inputs)
        if missing:  # as the other commands say it (it was "[Errno 2] No such file or directory: 'x.ll'")
            raise Inst2vecError(missing[0].error)
        try:
            summary = save_file_xfg(args.inputs[0], args.output, args.verify)
        except ValueError as err:
            raise Inst2vecError(str(err)) from err
        print(json.dumps({"file": args.inputs[0], "output": args.output, **summary}))
        return 0
    found = _found_files(args.inputs)  # once: the outputs, the work and the clean-up after a failure share it
    outputs = MirroredOutputs.of(args.inputs, found[0], args.output_dir, "." + (args.format or "graphml"))
    failures: list[FileResult] = []
    save = functools.partial(_save_xfg, outputs=outputs, verify=args.verify)
    try:
        results = _each(args, save, "graphs", failures, found=found)
        with contextlib.closing(results):  # closed: the workers have ended
            for result in results:  # one line per graph as it is written
                print(json.dumps({"file": result.path, "output": outputs(result.path), **result.value}), flush=True)
    except BaseException:  # Ctrl-C, a signal, a lost worker: a worker ended at once leaves its temporary file
        remove_temporary_files(map(outputs, found[0]))
        raise
    return 1 if failures else 0


def _save_xfg(path: str, outputs: MirroredOutputs, verify: bool) -> dict:
    from inst2vec.xfg import save_file_xfg

    return save_file_xfg(path, outputs(path), verify)


def _vocab_build(args) -> int:
    from inst2vec.statements import StatementCache, count_file_statements
    from inst2vec.vocabulary import Vocabulary

    if args.cutoff < 0:
        raise Inst2vecError(f"--cutoff must be >= 0. Received: --cutoff {args.cutoff}")
    counts: Counter = Counter()
    failures: list[FileResult] = []
    n_done = 0
    for result in _each(args, functools.partial(count_file_statements, cache=StatementCache()), "counting",
                        failures):  # counted as they come: every file's counts at once took GBs on large corpora
        counts.update(result.value)
        n_done += 1
    vocabulary = Vocabulary.build(counts, args.cutoff)
    vocabulary.save(args.output)
    n_failed = len(failures)
    print(json.dumps({"output": args.output, "files": n_done, "skipped": n_failed,
                      "statements": sum(counts.values()), "distinct": len(counts), "vocabulary": len(vocabulary),
                      "cutoff": args.cutoff}), file=sys.stderr if is_standard_output(args.output) else sys.stdout)
    return 1 if n_failed else 0


def _pairs(args) -> int:
    from inst2vec.pairs import corpus_pairs
    from inst2vec.statements import count_corpus_statements
    from inst2vec.vocabulary import Vocabulary

    files, errors = _input_files(args.inputs)
    n_inputs = len(files) + len(errors)
    if args.vocab:
        vocabulary = Vocabulary.load(args.vocab)
    else:
        counts, files, count_errors = count_corpus_statements(files, args.jobs, args.progress)
        errors += count_errors
        vocabulary = Vocabulary.build(counts)
    try:
        targets, contexts, _, pair_errors = corpus_pairs(files, vocabulary, args.width, args.subsample, args.seed,
                                                         args.jobs, args.progress)
    except ValueError as err:
        raise Inst2vecError(str(err)) from err
    errors += pair_errors
    if len(pair_errors) == len(files):
        _print_errors(errors)
        raise _nothing_read(len(errors))
    _report_skipped(errors, n_inputs)
    with atomic_write(args.output, "wb") as f:
        np.savez(f, target=targets, context=contexts)
    print(json.dumps({"output": args.output, "files": len(files) - len(pair_errors), "skipped": len(errors),
                      "pairs": len(targets), "vocabulary": len(vocabulary), "width": args.width,
                      "subsample": args.subsample}))
    return 1 if errors else 0


def _train_embeddings(args) -> int:
    import platform

    import gensim

    from inst2vec.embeddings import WORD2VEC_FILE
    from inst2vec.skipgram import embeddings_from_corpus

    files, errors = _input_files(args.inputs)
    n_inputs = len(files) + len(errors)
    try:
        embeddings, report, summary = embeddings_from_corpus(
            files, args.cutoff, args.width, args.subsample, args.seed, args.jobs, args.progress, dim=args.dim,
            epochs=args.epochs, negative=args.negative, workers=args.jobs)
    except NothingReadError as err:
        _print_errors(errors + err.skipped)
        raise _nothing_read(len(errors) + len(err.skipped)) from err
    except ValueError as err:
        _print_errors(errors)
        raise Inst2vecError(str(err)) from err
    record = {**summary, "skipped": errors + summary["skipped"], "dim": args.dim,
              "epochs": args.epochs, "negative": args.negative, "seed": args.seed, "workers": report.workers,
              "seconds": report.seconds,
              "words_per_second": report.words_per_second, "losses": report.losses,
              "versions": {"python": platform.python_version(), "gensim": gensim.__version__,
                           "numpy": np.__version__}}
    output = Path(args.output)
    # The four files replace an earlier run's together: each is written under a temporary name, and the renames
    # come after the last is written (an interrupted run left new embeddings beside the old word2vec file).
    # Vocabulary and word2vec text are compressed: statements inline their struct types, and a C++ corpus's
    # 42 k statements made 390 MB of JSON (3.4 MB compressed) and 593 MB of word2vec text (42 MB).
    with folder_made(output), contextlib.ExitStack() as renames:
        word2vec_tmp = renames.enter_context(atomic_path(output / WORD2VEC_FILE))
        record_tmp = renames.enter_context(atomic_path(output / "training.json"))
        embeddings.save_word2vec(word2vec_tmp)  # for gensim / other word2vec tools
        with open(record_tmp, "w", encoding="utf-8") as f:
            json.dump(record, f, indent=1)
        (output / "embeddings.w2v.txt").unlink(missing_ok=True)  # an earlier version's, uncompressed
        embeddings.save(output, compress_vocabulary=True)
    _report_skipped(record["skipped"], n_inputs)
    print(json.dumps({k: record[k] for k in ("files", "statements", "vocabulary", "pairs_drawn", "seconds",
                                             "words_per_second")}))
    return 1 if record["skipped"] else 0


def _evaluate_embeddings(args) -> int:
    from inst2vec.data import data_root
    from inst2vec.embeddings import load
    from inst2vec.evaluation import (TOP_K, answerable_questions, evaluate_analogies, published_questions_path,
                                     questions_with_statements, read_analogies, semantic_distance)

    root = data_root(args.data_root)
    embeddings = load(args.embeddings, root)
    statements = set(embeddings.vocabulary.statements)
    if args.common_with:
        statements &= set(load(args.common_with, root).vocabulary.statements)
    questions_file = None if args.questions == "generated" else args.questions or published_questions_path(root)
    if args.questions is None and not questions_file.is_file():
        raise DataNotFoundError(f"{questions_file}: the published analogy questions are not there (they sit "
                                "beside the data root). Give --questions FILE, or --questions generated to make "
                                "questions from the embeddings' own vocabulary (docs/embeddings.md says where the "
                                "published ones come from)")
    in_file = None if questions_file is None else read_analogies(questions_file)  # read once: asked of how many
    questions = answerable_questions(statements) if in_file is None else questions_with_statements(in_file, statements)
    analogy = evaluate_analogies(embeddings, questions)
    semantic = semantic_distance(embeddings)
    if args.plot:
        from inst2vec.plots import plot_clusters

        plot_clusters(embeddings, args.plot)
    if args.json:
        print(json.dumps({"analogy": analogy.as_dict(), "semantic_distance": semantic}))
        return 0
    print(f"{args.embeddings}: {embeddings}")
    if analogy.total:
        asked = "" if in_file is None else f"; asked {analogy.total:,} of the file's {len(in_file):,} questions, " \
            "those whose four statements it has"
        print(f"analogies: {analogy.correct} / {analogy.total} = {100 * analogy.score:.2f} % "
              f"(top {TOP_K}, as published{asked})")
    else:  # was "0 / 0 = 0.00 %"
        print("analogies: none of the questions has all four statements in this vocabulary")
    for category, (correct, total) in analogy.by_category.items():
        print(f"  {correct:>5} / {total:<5} {category}")
    mean = semantic["mean"]
    print(f"semantic distance: {100 * mean:.2f} % mean" if mean is not None else "semantic distance: no category")
    for category, score in semantic["by_category"].items():
        print(f"  {category:15s} " + ("empty" if score is None else f"{100 * score:.2f} %"))
    return 0


def _embed(args) -> int:
    from inst2vec.data import data_root
    from inst2vec.embed import embed_file, save_embedded
    from inst2vec.embeddings import load

    embeddings = load(args.embeddings, data_root(args.data_root))
    done, n_failed = _batch(args, functools.partial(embed_file, embeddings=embeddings), "embedding")
    results = [r.value for r in done]
    save_embedded(results, embeddings, args.output, statement_vectors=args.statement_vectors,
                  embeddings_name=args.embeddings)
    for r in results:
        print(f"{r.path}\t{_counted(len(r.indices), 'statement')}\tOOV {100 * r.oov_rate:.1f} %\t"
              f"{_counted(len(r.functions), 'function')}")
    n_statements = sum(len(r.indices) for r in results)
    vector_bytes = 4 * embeddings.dim * n_statements  # float32
    if args.statement_vectors and vector_bytes >= LARGE_STATEMENT_VECTORS:
        print(f"note: {args.output} holds {n_statements:,} statement vectors ({vector_bytes / 1e9:.1f} GB); "
              "--no-statement-vectors leaves them out (they are the embeddings' rows of 'indices', also written)",
              file=sys.stderr)
    return 1 if n_failed else 0


def _counted(n: int, noun: str) -> str:
    """``1 function``, ``2 functions``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _pretrained_fetch(args) -> int:
    from inst2vec.data import data_root
    from inst2vec.pretrained import check_against, fetch_published

    embeddings = fetch_published(args.output, args.wheel)
    report = {"output": args.output, "embeddings": repr(embeddings)}
    if args.data_root or data_root().exists():
        report["same_as_data_root_copies"] = check_against(data_root(args.data_root) / "inst2vec-published")
    print(json.dumps(report))
    return 0


def _vocabulary_statement(text: str, embeddings) -> str:
    """``text`` if it is a statement of ``embeddings``, else ``text`` read as a line of LLVM IR when that is one.

    ``%5 = add nsw i32 %3, 1`` is looked up as ``<%ID> = add nsw i32 <%ID>, <INT>``, a define line as a file's
    (``define void @f() #0 {``: its attributes and brace dropped); named struct types stay identifiers, since one
    line does not say what they hold.
    """
    from inst2vec.ir import preprocess
    from inst2vec.statements import is_label, normalize_units

    if text in embeddings:
        return text
    line = text.strip()
    if re.search(r"\n(?! )", line):  # normalising it would give one statement per line
        raise Inst2vecError(f"lookup: {text!r} holds several lines; give one statement or line of IR (the second "
                            "line of an invoke follows a newline and a space, as statements are printed)")
    if "\n" not in line and (is_label(line) or not preprocess(line, check=False)[0].strip()):
        raise Inst2vecError(f"lookup: {line!r} gives no statement: a file's comments, labels, metadata, attributes, "
                            "declarations and type definitions are left out of its statements; give an instruction, "
                            "a global or a define line")
    for normalized in (normalize_units([line])[0], _as_statement(line)):
        if normalized != text and normalized in embeddings:
            print(f"note: looked up as the statement {normalized!r}", file=sys.stderr)
            return normalized
    return text


def _as_statement(line: str) -> str:
    """A line of LLVM IR as its statement, as a file's line would give it: its comment, metadata (``, !tbaa !7``)
    and attribute groups (``#3``) cut, identifiers and immediates abstracted."""
    from inst2vec.ir import preprocess
    from inst2vec.statements import normalize_units

    line = line.strip()
    if "\n" not in line:  # (an invoke's two lines are taken as they are; lines that give none are refused before)
        line = preprocess(line, check=False)[0].strip()
    return normalize_units([line])[0]


def _closest_spellings(statement: str, embeddings, count: int = 3) -> list[str]:
    """Up to ``count`` statements of ``embeddings`` spelled much like ``statement``, a non-blank line (read as its
    statement when it is a line of IR), for a hint after a typo."""
    return difflib.get_close_matches(_as_statement(statement), embeddings.vocabulary.statements, n=count,
                                     cutoff=0.8)


def _lookup(args) -> int:
    from inst2vec.data import data_root
    from inst2vec.embeddings import load
    from inst2vec.statements import normalize_units
    from inst2vec.vocabulary import UNKNOWN

    if not args.statement.strip():
        raise Inst2vecError("lookup: the statement is empty; give a line of IR or an inst2vec statement")
    embeddings = load(args.embeddings, data_root(args.data_root))
    statement = _vocabulary_statement(args.statement.replace("\\n", "\n"), embeddings)
    if statement not in embeddings:
        if os.path.isfile(args.statement):  # it was looked up as a statement: !UNK's vector, with a note
            raise Inst2vecError(f"lookup: {args.statement} is a file; lookup takes one statement or line of IR. A "
                                f"file's vectors: inst2vec embed {args.statement} -o vectors.npz; its statements: "
                                f"inst2vec statements {args.statement}")
        close = _closest_spellings(statement, embeddings)
        hint = f"; closest in spelling: {', '.join(map(repr, close))}" if close else ""
        if args.neighbours:  # they would be !UNK's neighbours, which say nothing about this statement
            normalized = _as_statement(statement)  # shown for a line of IR, not a statement
            is_ir = not re.search(r"<(?:%ID|@ID|INT|FLOAT|STRING)>", statement) and normalized != statement
            read_as = f" (as a statement: {normalized!r})" if is_ir else ""
            raise Inst2vecError(f"lookup: {statement!r}{read_as} is not in the vocabulary{hint} (unknown "
                                f"statements share {UNKNOWN}'s vector: ask for {UNKNOWN!r} to see its neighbours)")
        print(f"note: statement not in the vocabulary; using {UNKNOWN}'s vector{hint}", file=sys.stderr)
    if args.neighbours:
        for neighbour, score in embeddings.most_similar(statement, args.neighbours):
            print(f"{score:.4f}\t{neighbour.replace(chr(10), chr(92) + 'n')}")
    else:
        print(" ".join(f"{x:.6g}" for x in embeddings.vector(statement)))
    return 0


def _corpus_build(args) -> int:
    from inst2vec.data import data_path, data_root
    from ir_corpus import NoSourcesError, Variant, build_corpus, format_table

    spec = args.variants if args.variants is not None else ("O2" if args.small else "O0,O2")
    try:
        variants = [Variant.parse(v) for v in spec.split(",") if v.strip()]
    except ValueError as err:
        raise Inst2vecError(f"--variants: {err}") from err
    if not variants:
        raise Inst2vecError(f"--variants: {spec!r} names no variant; give optimisation levels, e.g. O0,O2")
    sources = args.sources
    if not sources:
        archives = sorted(data_path(data_root(args.data_root), "ir-corpus-sources").glob("*.tar.gz"))
        small = [a for a in archives if a.name.startswith(("gpgpu-", "polybench-c-"))]
        sources = [str(a) for a in (small if args.small else archives)]
    try:
        report = build_corpus(sources, args.output, variants, args.jobs, args.timeout, args.progress,
                              limit=args.limit, prune=args.prune)
    except NoSourcesError as err:
        _print_errors(err.errors)
        _note_leftovers(args.output, err.leftovers)
        raise
    for error in report.input_errors:
        print(f"error: {error}", file=sys.stderr)
    _note_leftovers(args.output, report.leftovers)
    if args.prune and report.input_errors:
        print("note: --prune pruned nothing: not every input could be read whole (above), and the records of its "
              "sources would have gone", file=sys.stderr)
    elif args.prune:
        archives = (f", {_counted(report.pruned_archives, 'unpacked archive')} from {Path(args.output) / 'sources'}"
                    if report.pruned_archives else "")
        print(f"pruned {_counted(report.pruned, 'record')} of sources or variants not in this build; "
              f"{_counted(report.pruned_files, 'file')} removed from {Path(args.output) / 'ir'}{archives}",
              file=sys.stderr)
    print(format_table(report.table))
    rates = (f"; {report.compiled / max(report.wall_seconds, 1e-9):.1f} files/s, "
             f"{report.ir_lines / max(report.wall_seconds, 1e-9):,.0f} IR lines/s; our own per-file work "
             f"{100 * report.overhead:.1f} % of clang's time") if report.compiled else ""
    print(f"{report.compiled} compilations now, {report.reused} reused from an earlier run; "
          f"{report.wall_seconds:.1f} s wall{rates}", flush=True)
    _print_failures(report.failures, Path(args.output) / "manifest.jsonl")
    return 1 if report.input_errors else 0


def _note_leftovers(corpus: str, removed: int) -> None:
    """Say how many files and folders a killed build had left in the corpus folder, if any, removed now."""
    if removed:
        print(f"note: removed what a killed build had left in {corpus}: {removed} temporary file(s) and folder(s)",
              file=sys.stderr)


def _print_failures(failures: list[dict], manifest: Path, shown: int = 10) -> None:
    """Name the sources clang could not compile (the first ``shown``), with clang's first error."""
    if not failures:
        return
    print(f"failed: {len(failures)} compilation(s) of {len({(r['suite'], r['source']) for r in failures})} "
          f"source(s); each has status \"failed\" and clang's error in {manifest}", file=sys.stderr)
    for record in failures[:shown]:
        line = f":{record['error_line']}" if record.get("error_line") else ""
        print(f"  {record['suite']}/{record['source']}{line} ({record['variant']}): {record['error']}",
              file=sys.stderr)
    if len(failures) > shown:
        print(f"  … and {len(failures) - shown} more", file=sys.stderr)


def _corpus_stats(args) -> int:
    from ir_corpus import Manifest, corpus_table, format_table

    if not Manifest(args.corpus).path.exists():
        raise Inst2vecError(f"{args.corpus}: no manifest.jsonl here; build the corpus with `inst2vec corpus build`")
    unreadable: list[str] = []
    table = corpus_table(args.corpus, unreadable=unreadable)
    print("\n".join(json.dumps(row) for row in table) if args.json else format_table(table))
    if unreadable:  # its other figures come from the manifest
        _print_errors(unreadable)
        print(f"the distinct statements leave out {_counted(len(unreadable), 'IR file')} named above; "
              f"`inst2vec corpus build` with the same sources and -o {args.corpus} compiles them again",
              file=sys.stderr)
        return 1
    return 0


def _demo(args) -> int:
    from inst2vec.ir import read_module
    from inst2vec.pairs import context_pairs
    from inst2vec.statements import module_statements
    from inst2vec.xfg import build_xfg, xfg_summary

    module = read_module(args.file)
    statements = module_statements(module)
    graph = build_xfg(module)
    pairs = context_pairs(graph)
    print(f"{args.file}: {len(module.functions)} functions, {len(statements)} statements "
          f"({len(set(statements))} distinct)")
    for statement in statements[:8]:
        print("   ", statement.replace("\n", "\\n"))
    summary = xfg_summary(graph)
    print(f"XFG: {summary['nodes']} nodes {summary['nodes_by_kind']}, {summary['edges']} edges "
          f"{summary['edges_by_flow']}, weakly connected: {summary['weakly_connected']}")
    print(f"context pairs (width 2): {sum(pairs.values())} occurrences, {len(pairs)} distinct")
    from inst2vec.embeddings import load

    embeddings = load()
    rows = embeddings.vocabulary.indices(statements)
    unknown = embeddings.vocabulary.unknown_index
    file_vector = embeddings.matrix[rows].mean(axis=0)
    first_floats = " ".join(f"{x:.3f}" for x in file_vector[:4])
    print(f"embeddings (ours, shipped): {embeddings}; {sum(r == unknown for r in rows)} of {len(rows)} statements "
          f"unknown; file vector of {len(file_vector)} floats: {first_floats} ...")
    query = next(s for s, r in zip(statements, rows) if r != unknown and s.startswith("<%ID> ="))
    print(f"nearest to {query!r}:")
    for statement, score in embeddings.most_similar(query, k=3):
        print(f"    {score:.2f}  {statement}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
