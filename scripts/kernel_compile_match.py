"""How close clang-14's IR of a kernel's OpenCL source comes to the IR the devmap and thread-coarsening models are
trained on (ncc's, from Apple clang of LLVM 5/6), per compilation: what ``inst2vec predict`` should compile with.

Compilations: -O0, -O2, -O3, the pieces of ``KERNEL_VARIANT`` and it, then it with each option of ``TRIED`` added.
For every kernel whose source (``kernels_cl/NAME.cl``) and training IR (``kernels_ir/NAME.ll``) share a name and
whose source compiles on its own, it compares the two multisets of inst2vec statements: shared statements over
all (multiset Jaccard, 1 = the same statements), and the share of our statements that the published vocabulary
does not know. Prints one JSON line per data set and compilation, then the training IR's own unknown share.

Given MODELS, a folder of models saved by ``inst2vec task devmap --save-models`` and ``inst2vec task
threadcoarsening --save-models`` (boost and neighbours, published embeddings), it also prints, per model and
compilation, for how many kernels the prediction from the source is the one from the training IR (devmap models
with one launch for every kernel: transfer 65536 bytes, work-group size 256).

Usage::

    python scripts/kernel_compile_match.py [DATA_ROOT [MODELS]]
"""
import json
import sys
from collections import Counter
from pathlib import Path

import inst2vec
from inst2vec.data import data_root
from inst2vec.errors import Inst2vecError
from inst2vec.ir import decode_ir
from inst2vec.statements import file_statements, text_statements
from ir_corpus.compile import KERNEL_VARIANT, Variant, compile_file
from script_help import exit_with_usage_on_help
from tasks.cli import load_predictor, predict_file

#: Other clang options tried on top of KERNEL_VARIANT (later options win: -O3, -Os, -O1 replace its -O2).
TRIED = ["-target x86_64-apple-macosx10.13.0", "-fno-vectorize", "-O3", "-ffp-contract=off", "-fno-unroll-loops",
         "-cl-fast-relaxed-math", "-Os", "-O1"]
COMPILATIONS = [Variant.parse("O0"), Variant.parse("O2"), Variant.parse("O3"),
                Variant("O2-no-noundef", ("-O2", "-Xclang", "-disable-noundef-analysis")),
                Variant("O2-no-slp", ("-O2", "-fno-slp-vectorize")), KERNEL_VARIANT,
                *(Variant(f"kernel {extra}", (*KERNEL_VARIANT.flags, *extra.split())) for extra in TRIED)]


def kernel_pairs(folder: Path) -> list[tuple[Path, Path]]:
    """(source, training IR) of the kernels that have both."""
    return [(source, folder / "kernels_ir" / f"{source.stem}.ll") for source in sorted(folder.glob("kernels_cl/*.cl"))
            if (folder / "kernels_ir" / f"{source.stem}.ll").is_file()]


def compare_predictions(models: Path, root: Path) -> None:
    """For each saved boost and neighbours model: kernels whose source gets its training IR's prediction."""
    launch = ["transfer=65536", "wgsize=256"]
    for model in sorted(models.glob("devmap-*-boost-published.npz")) + sorted(
            models.glob("threadcoarsening-*-neighbours-published.npz")):
        task = model.name.split("-")[0]
        predict_ir, _ = load_predictor(model, launch if task == "devmap" else [], str(root))
        for variant in (Variant.parse("O0"), KERNEL_VARIANT):
            same = compiled = 0
            for source, ir in kernel_pairs(root / task):
                try:
                    from_source = predict_file(predict_ir, lambda path: compile_file(path, variant), str(source))
                except Inst2vecError:
                    continue
                compiled += 1
                same += from_source[0] == predict_ir(str(ir))[0]
            print(json.dumps({"model": model.name, "flags": " ".join(variant.flags), "kernels": compiled,
                              "same_prediction": same}), flush=True)


def main() -> None:
    exit_with_usage_on_help(__doc__)
    root = data_root(sys.argv[1] if len(sys.argv) > 1 else None)
    if len(sys.argv) > 2:
        compare_predictions(Path(sys.argv[2]), root)
    known = set(inst2vec.load("published", root).vocabulary.statements)
    for task in ("threadcoarsening", "devmap"):
        pairs = kernel_pairs(root / task)
        for variant in COMPILATIONS:
            shared, unknown, failed = [], [], 0
            for source, ir in pairs:
                try:
                    ours = Counter(text_statements(decode_ir(compile_file(source, variant)), source))
                except Inst2vecError:
                    failed += 1  # needs defines or headers it does not have: left out
                    continue
                theirs = Counter(file_statements(ir))
                shared.append(sum((ours & theirs).values()) / sum((ours | theirs).values()))
                unknown.append(sum(n for s, n in ours.items() if s not in known) / sum(ours.values()))
            print(json.dumps({"task": task, "flags": " ".join(variant.flags), "kernels": len(shared),
                              "not_compiled": failed, "shared_statements": round(sum(shared) / len(shared), 3),
                              "unknown_statements": round(sum(unknown) / len(unknown), 3)}), flush=True)
        trained = [file_statements(ir) for _, ir in pairs]
        print(json.dumps({"task": task, "flags": "training IR", "kernels": len(trained),
                          "unknown_statements": round(sum(sum(s not in known for s in f) / len(f) for f in trained)
                                                      / len(trained), 3)}), flush=True)


if __name__ == "__main__":
    main()
