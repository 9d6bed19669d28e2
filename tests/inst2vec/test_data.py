"""Where the data root comes from: flag, then $INST2VEC_DATA, then ../shared/data (cwd, then the checkout)."""
import pytest

from inst2vec.data import DEFAULT_DATA_ROOT, ENV_VARIABLE, PROJECT_ROOT, data_path
from inst2vec.data import data_root as resolve_data_root
from inst2vec.errors import DataNotFoundError


def test_flag_then_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VARIABLE, str(tmp_path / "env"))
    assert resolve_data_root(tmp_path / "flag") == tmp_path / "flag"
    assert resolve_data_root() == tmp_path / "env"


def test_default_is_found_from_any_working_directory(tmp_path, monkeypatch, data_root):
    """The command used to look only at ../shared/data from the working directory."""
    monkeypatch.delenv(ENV_VARIABLE, raising=False)
    beside_checkout = (PROJECT_ROOT / DEFAULT_DATA_ROOT).resolve()
    if beside_checkout != data_root:
        pytest.skip(f"the data sets are not beside this checkout ({beside_checkout}) but at {data_root}")
    monkeypatch.chdir(tmp_path)
    assert resolve_data_root() == beside_checkout
    (tmp_path / "work").mkdir()
    (tmp_path / "shared" / "data").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "work")
    assert resolve_data_root() == DEFAULT_DATA_ROOT  # one beside the working directory comes first


def test_missing_data_names_the_path_and_the_origin(tmp_path):
    with pytest.raises(DataNotFoundError, match="devmap/cgo17-amd.csv: not found.*task_devmap.zip"):
        data_path(tmp_path, "devmap", "cgo17-amd.csv")
