"""Checkpoint files: named states round-trip exactly; a missing state is a clear error, not a silent reset."""
import numpy as np
import pytest

from inst2vec.errors import Inst2vecError
from train.checkpoint import restore, save_checkpoint


class State:
    def __init__(self, value=None):
        self.value = value

    def state_dict(self) -> dict:
        return {"array": np.asarray(self.value), "nested": {"count": 3, "rate": -np.inf}}

    def load_state_dict(self, state: dict) -> None:
        assert state["nested"] == {"count": 3, "rate": -np.inf}
        self.value = state["array"]


@pytest.fixture(scope="module")
def model():
    import keras

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.ones((4, 3)), np.zeros((4, 2)), epochs=1, verbose=0)  # optimizer slots exist
    return model


def test_named_states_round_trip(model, tmp_path):
    path = tmp_path / "run.npz"
    saved = State(np.arange(5.0) / 7)
    save_checkpoint(path, model, 3, states={"curves": saved})
    weights = [w.copy() for w in model.get_weights()]
    model.set_weights([np.zeros_like(w) for w in weights])
    loaded = State()
    assert restore(path, model, states={"curves": loaded}) == 3
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), weights))
    assert np.array_equal(loaded.value, saved.value)


def test_a_state_the_checkpoint_lacks_is_an_error(model, tmp_path):
    path = tmp_path / "old.npz"
    save_checkpoint(path, model, 1, states={"curves": State(np.zeros(2))})
    with pytest.raises(Inst2vecError, match=r"old\.npz: the checkpoint holds no compressor state"):
        restore(path, model, states={"curves": State(), "compressor": State()})


def test_a_damaged_or_foreign_checkpoint_is_an_error_naming_it(model, tmp_path):
    """--resume over a truncated file or another model's checkpoint was a traceback (BadZipFile, ValueError)."""
    whole = tmp_path / "whole.npz"
    save_checkpoint(whole, model, 1)
    cut = tmp_path / "cut.npz"
    cut.write_bytes(whole.read_bytes()[:200])
    other = tmp_path / "other.npz"
    np.savez(other, header=np.frombuffer(b'{"epoch": 1}', dtype=np.uint8), **{"weight/0": np.zeros((9, 9))})
    for path in (cut, other, tmp_path / "missing.npz"):
        with pytest.raises(Inst2vecError, match=rf"{path.name}: not a checkpoint of this model .*delete it"):
            restore(path, model)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"\x80\x04" + bytes(300))  # numpy took it for a pickle and suggested loading it unsafely
    with pytest.raises(Inst2vecError, match=r"junk\.npz: not a checkpoint of this model \(ValueError: not a NumPy "
                                            r"\.npz archive\); delete it"):
        restore(junk, model)


def test_resuming_with_other_settings_is_refused_naming_them(model, tmp_path):
    """A resumed run with another compressor, batch size, rank count or embeddings went on silently from weights
    and residuals trained otherwise. More epochs are not a difference (the record does not hold them)."""
    path = tmp_path / "run.npz"
    saved = {"batch_size": 64, "compression": "topk:0.01", "ranks": 4}
    save_checkpoint(path, model, 3, settings=saved)
    assert restore(path, model, settings=dict(saved)) == 3
    with pytest.raises(Inst2vecError, match=r"run\.npz: written by a run with other settings \(compression "
                                            r"'topk:0.01' there, 'qsgd:4' now, ranks 4 there, 2 now\); resume with "
                                            r"the same ones, or delete the checkpoints"):
        restore(path, model, settings=saved | {"compression": "qsgd:4", "ranks": 2})
    save_checkpoint(path, model, 3)  # as versions before the record wrote them
    with pytest.raises(Inst2vecError, match=r"does not record the settings it was trained with"):
        restore(path, model, settings=saved)
