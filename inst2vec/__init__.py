"""inst2vec toolkit: LLVM IR statements, contextual flow graphs and statement embeddings.

Start with ``file_statements(path)``, ``read_module(path)`` / ``build_xfg(module)`` and
``load("published")``; the ``inst2vec`` command covers the same from a shell.
"""
from inst2vec.embeddings import Embeddings, load
from inst2vec.errors import DataNotFoundError, Inst2vecError, IRParseError, VocabularyError
from inst2vec.ir import IRModule, parse_module, read_module
from inst2vec.statements import StatementCache, file_statements, normalize_units, text_statements
from inst2vec.vocabulary import Vocabulary
from inst2vec.xfg import build_xfg

__version__ = "0.1.0"
__all__ = ["Embeddings", "load", "DataNotFoundError", "Inst2vecError", "IRParseError", "VocabularyError",
           "IRModule", "parse_module", "read_module", "StatementCache", "file_statements", "normalize_units",
           "text_statements", "Vocabulary", "build_xfg"]
