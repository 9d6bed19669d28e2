"""Saved models made of arrays only: ``MODEL.npz`` beside ``MODEL.npz.json`` (no pickles, so loading never runs code).

The ``.json`` file holds what ``inst2vec predict`` needs to know besides the arrays: the task, the labels, the
embeddings the model was trained with, its ``kind`` (``linear``, ``boost``, ``neighbours``) and its inputs.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from inst2vec.errors import Inst2vecError
from inst2vec.io import atomic_write, load_numpy


class ArrayModel:
    """Save and load for a dataclass of arrays with a ``metadata`` dict: ``ARRAYS`` names the fields saved in the
    ``.npz``, ``KIND`` is written to (and required in) the ``.json``."""

    KIND: ClassVar[str]
    ARRAYS: ClassVar[tuple[str, ...]]
    metadata: dict[str, Any]

    def save(self, path: str | os.PathLike) -> None:
        """Write ``path`` (``.npz``, the arrays) and ``path + '.json'`` (:attr:`metadata` and ``kind``), each whole
        or not at all."""
        with atomic_write(path, "wb") as f:
            np.savez_compressed(f, **{name: getattr(self, name) for name in self.ARRAYS})
        with atomic_write(str(path) + ".json") as f:
            json.dump({**self.metadata, "kind": self.KIND}, f, indent=1)

    @classmethod
    def load(cls, path: str | os.PathLike):
        """Read a model written by :meth:`save` (``allow_pickle=False``: data never runs code).

        Raises:
            Inst2vecError: a file is missing or unreadable, or holds another kind of model.
        """
        path = Path(path)
        try:
            metadata = json.loads(Path(str(path) + ".json").read_text(encoding="utf-8"))
            if not isinstance(metadata, dict) or metadata.get("kind") != cls.KIND:
                found = metadata.get("kind") if isinstance(metadata, dict) else None
                raise Inst2vecError(f"{path}: not a {cls.KIND} model ({path.name}.json says kind {found!r})")
            with load_numpy(path, archive=True) as stored:
                missing = [name for name in cls.ARRAYS if name not in stored.files]
                if missing:
                    raise Inst2vecError(f"{path}: not a {cls.KIND} model (no {', '.join(missing)})")
                arrays = {name: stored[name] for name in cls.ARRAYS}
        except (OSError, ValueError) as err:
            raise Inst2vecError(f"{path}: cannot read the {cls.KIND} model: {err}") from err
        return cls(**arrays, metadata=metadata)
