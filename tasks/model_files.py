"""Saved models made of arrays only: ``MODEL.npz`` beside ``MODEL.npz.json`` (no pickles, so loading never runs code).

The ``.json`` file holds what ``inst2vec predict`` needs to know besides the arrays: the task, the labels, the
embeddings the model was trained with, its ``kind`` (``linear``, ``boost``, ``neighbours``), the ``version`` of
that kind's format (none: 1) and its inputs.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np

from inst2vec.errors import Inst2vecError
from inst2vec.io import atomic_write, load_numpy


class ArrayModel:
    """Save and load for a dataclass of arrays with a ``metadata`` dict: ``ARRAYS`` names the fields saved in the
    ``.npz``; ``KIND`` and ``VERSION`` are written to (and required in) the ``.json``. A kind whose arrays change
    meaning takes the next ``VERSION``, so files of the earlier format are refused with a message, not misread."""

    KIND: ClassVar[str]
    ARRAYS: ClassVar[tuple[str, ...]]
    VERSION: ClassVar[int] = 1
    metadata: dict[str, Any]

    def save(self, path: str | os.PathLike) -> None:
        """Write ``path`` (``.npz``, the arrays) and ``path + '.json'`` (:attr:`metadata` and ``kind``), each whole
        or not at all."""
        with atomic_write(path, "wb") as f:
            np.savez_compressed(f, **{name: getattr(self, name) for name in self.ARRAYS})
        with atomic_write(str(path) + ".json") as f:
            json.dump({**self.metadata, "kind": self.KIND, "version": self.VERSION}, f, indent=1)

    @classmethod
    def check_format(cls, path: str | os.PathLike, metadata: dict[str, Any]) -> None:
        """Refuse ``path`` unless its description ``metadata`` names this kind in this format version."""
        if metadata.get("kind") != cls.KIND:
            raise Inst2vecError(f"{path}: not a {cls.KIND} model ({Path(path).name}.json says kind "
                                f"{metadata.get('kind')!r})")
        version = metadata.get("version", 1)
        if version != cls.VERSION:
            raise Inst2vecError(f"{path}: a {cls.KIND} model in format {version!r}, which this version of the toolkit "
                                f"does not read (it reads format {cls.VERSION}); save the model again with "
                                f"`inst2vec task … --save-models`")

    @classmethod
    def load(cls, path: str | os.PathLike) -> Self:
        """Read a model written by :meth:`save` (``allow_pickle=False``: data never runs code).

        Raises:
            Inst2vecError: a file is missing or unreadable, or holds another kind of model.
        """
        path = Path(path)
        try:
            metadata = json.loads(Path(str(path) + ".json").read_text(encoding="utf-8"))
            cls.check_format(path, metadata if isinstance(metadata, dict) else {})
            stored = load_numpy(path, archive=True)
            missing = [name for name in cls.ARRAYS if name not in stored]
            if missing:
                raise Inst2vecError(f"{path}: not a {cls.KIND} model (no {', '.join(missing)})")
            arrays = {name: stored[name] for name in cls.ARRAYS}
        except (OSError, ValueError) as err:
            raise Inst2vecError(f"{path}: cannot read the {cls.KIND} model: {err}") from err
        model = cls(**arrays, metadata=metadata)
        problem = model.problem()
        labels = metadata.get("labels")
        if problem is None and isinstance(labels, list):
            numbers = np.asarray(model.label_numbers())
            if not (np.issubdtype(numbers.dtype, np.integer) and ((numbers >= 0) & (numbers < len(labels))).all()):
                problem = (f"it predicts label numbers {numbers.tolist()[:8]}, but its description names "
                           f"{len(labels)} labels")
        if problem is not None:
            raise Inst2vecError(f"{path}: a damaged {cls.KIND} model: {problem}")
        return model

    def problem(self) -> str | None:
        """What makes these arrays no model of this kind (a damaged or hand-made file); None if nothing does."""
        return None

    def label_numbers(self) -> np.ndarray:
        """The label numbers (indices into the description's ``labels``) this model can predict."""
        raise NotImplementedError
