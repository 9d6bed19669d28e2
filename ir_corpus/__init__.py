"""Build LLVM IR corpora from C, C++ and OpenCL sources with clang-14 (``inst2vec corpus build``)."""
from ir_corpus.build import BuildReport, NoSourcesError, build_corpus
from ir_corpus.compile import DEFAULT_VARIANTS, Variant, compile_source
from ir_corpus.manifest import Manifest, corpus_table, format_table
from ir_corpus.sources import Source, find_sources

__all__ = ["BuildReport", "NoSourcesError", "build_corpus", "DEFAULT_VARIANTS", "Variant", "compile_source",
           "Manifest", "corpus_table", "format_table", "Source", "find_sources"]
