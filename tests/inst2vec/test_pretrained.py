"""pretrained fetch: the wheel's pickles are checked by sha256 and converted; tampering is refused."""
import zipfile

import numpy as np
import pytest

from inst2vec.embeddings import load
from inst2vec.errors import VocabularyError
from inst2vec.pretrained import INSIDE, check_against, fetch_published


def _wheel(tmp_path, data_root, tamper=False):
    wheel = tmp_path / "compiler_gym-0.2.5-py3-none-manylinux2014_x86_64.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name in ("dictionary.pickle", "embeddings.pickle"):
            data = (data_root / "inst2vec-published" / name).read_bytes()
            if tamper and name == "embeddings.pickle":
                data = data[:1000] + bytes([data[1000] ^ 1]) + data[1001:]  # one bit of one weight
            archive.writestr(INSIDE + name, data)
    return wheel


def test_fetch_converts_the_checked_pickles(tmp_path, data_root):
    embeddings = fetch_published(tmp_path / "out", _wheel(tmp_path, data_root))
    published = load("published", data_root)
    assert embeddings.vocabulary.statements == published.vocabulary.statements
    assert np.array_equal(load(tmp_path / "out").matrix, published.matrix)
    assert check_against(data_root / "inst2vec-published") == {"dictionary.pickle": True, "embeddings.pickle": True}


def test_tampered_wheel_is_refused(tmp_path, data_root):
    with pytest.raises(VocabularyError, match="embeddings.pickle: sha256"):
        fetch_published(tmp_path / "out", _wheel(tmp_path, data_root, tamper=True))
    assert not (tmp_path / "out").exists()
