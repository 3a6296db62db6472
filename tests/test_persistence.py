"""Weights-only save/load, and the refusal to run code hidden in a weight file."""

import json
import pathlib
import pickle
import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError

from skae import AutoencoderTransformer, VAEGenerator
from skae.persistence import load_model, save_model


@pytest.fixture
def fitted(small_digits, fast_params):
    return AutoencoderTransformer(n_components=3, **fast_params).fit(small_digits[0])


def test_round_trip_reproduces_every_output(fitted, small_digits, tmp_path):
    X = small_digits[0]
    save_model(fitted, tmp_path / "model")
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == ["config.json", "weights.pt"]
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    assert config["class"] == "AutoencoderTransformer" and config["params"]["n_components"] == 3
    loaded = load_model(tmp_path / "model")
    Z = fitted.transform(X)
    assert loaded.transform(X).tobytes() == Z.tobytes()
    assert loaded.inverse_transform(Z).tobytes() == fitted.inverse_transform(Z).tobytes()
    assert loaded.score_samples(X).tobytes() == fitted.score_samples(X).tobytes()
    assert loaded.n_iter_ == fitted.n_iter_ and loaded.loss_curve_ == fitted.loss_curve_
    assert loaded.get_params() == fitted.get_params()


def test_loaded_model_can_keep_training(fitted, small_digits, tmp_path):
    save_model(fitted, tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    loaded.partial_fit(small_digits[0])
    assert loaded.n_iter_ == fitted.n_iter_ + 1


def test_custom_modules_must_be_passed_back(small_digits, fast_params, tmp_path):
    dec = torch.nn.Linear(2, 64)
    est = AutoencoderTransformer(**fast_params, decoder=dec).fit(small_digits[0])
    save_model(est, tmp_path / "m")
    with pytest.raises(ValueError, match="custom decoder; pass it to load_model"):
        load_model(tmp_path / "m")
    loaded = load_model(tmp_path / "m", decoder=dec)
    assert np.array_equal(loaded.transform(small_digits[0]), est.transform(small_digits[0]))


def test_unfitted_or_foreign_objects_are_refused(tmp_path):
    with pytest.raises(NotFittedError, match="not fitted yet"):
        save_model(AutoencoderTransformer(), tmp_path / "m")
    with pytest.raises(TypeError, match="expects a skae estimator"):
        save_model(object(), tmp_path / "m")
    assert not (tmp_path / "m").exists()


class _Payload:
    """Unpickling this object would create a file: proof that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


@pytest.mark.parametrize("writer", ["torch.save", "raw pickle"])
def test_malicious_weight_file_is_rejected_and_never_runs(fitted, tmp_path, writer):
    save_model(fitted, tmp_path / "m")
    marker = tmp_path / "code_ran"
    weights = tmp_path / "m" / "weights.pt"
    if writer == "torch.save":
        torch.save({"state_dict": _Payload(str(marker)), "tensors": {}}, weights)
    else:
        weights.write_bytes(pickle.dumps(_Payload(str(marker))))
    with pytest.raises(ValueError, match="refusing to load"):
        load_model(tmp_path / "m")
    assert not marker.exists()
    # The same file really is a live payload when unpickled without the guard.
    if writer == "raw pickle":
        pickle.loads(weights.read_bytes())
        assert marker.exists()


def test_unknown_class_in_config_is_refused(fitted, tmp_path):
    save_model(fitted, tmp_path / "m")
    cfg = tmp_path / "m" / "config.json"
    data = json.loads(cfg.read_text())
    data["class"] = "os.system"
    cfg.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="Unknown estimator class"):
        load_model(tmp_path / "m")


@pytest.mark.parametrize("cls_name", ["AutoencoderTransformer", "VAEGenerator"])
def test_round_trip_of_convolutional_models(cls_name, small_digits, tmp_path):
    import skae

    X = small_digits[0] / 16.0
    est = getattr(skae, cls_name)(
        n_components=3, input_shape=(1, 8, 8), conv_channels=(4, 8),
        conv_hidden_layer_sizes=(16,), max_iter=2, random_state=0,
    ).fit(X)
    save_model(est, tmp_path / "conv")
    loaded = load_model(tmp_path / "conv")
    assert loaded.get_params() == est.get_params()
    np.testing.assert_array_equal(loaded.transform(X), est.transform(X))
    np.testing.assert_array_equal(loaded.inverse_transform(est.transform(X)),
                                  est.inverse_transform(est.transform(X)))


@pytest.mark.parametrize("make, partial, labelled", [
    (lambda: AutoencoderTransformer(4, hidden_layer_sizes=(8,), max_iter=1), False, False),
    (lambda: AutoencoderTransformer(0.8, hidden_layer_sizes=(8,), max_iter=1), True, False),
    (lambda: VAEGenerator(2, hidden_layer_sizes=(8,), max_iter=1), False, False),
    (lambda: VAEGenerator(2, hidden_layer_sizes=(8,), max_iter=1, conditional=True), True, True),
], ids=["ae", "ae-ordered-partial", "vae", "cvae-partial"])
def test_every_fitted_attribute_is_declared_for_saving(small_digits, make, partial, labelled):
    import pandas as pd

    X, y = small_digits
    X = pd.DataFrame(X, columns=[f"p{i}" for i in range(X.shape[1])])
    est = make()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (est.partial_fit if partial else est.fit)(X, *([y] if labelled else []))
    params = set(est.get_params(deep=False))
    kept = {"net_", "_spec", "_optimizer_state"}  # written as weights and network config
    undeclared = set(vars(est)) - params - kept - set(type(est)._fitted_state)
    assert not undeclared, f"add {sorted(undeclared)} to {type(est).__name__}._fitted_state"
def test_save_model_refuses_to_overwrite_unless_asked(fitted, small_digits, tmp_path):
    first = save_model(fitted, tmp_path / "m")
    before = (first / "weights.pt").read_bytes()
    other = AutoencoderTransformer(n_components=3, hidden_layer_sizes=(8,), max_iter=2,
                                   random_state=1).fit(small_digits[0])
    with pytest.raises(FileExistsError, match="holds a saved model; pass overwrite=True"):
        save_model(other, first)
    assert (first / "weights.pt").read_bytes() == before  # nothing written
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="holds other files"):
        save_model(other, tmp_path / "notes")
    save_model(other, first, overwrite=True)
    assert load_model(first).n_components_ == 3
    (tmp_path / "file").write_text("x")
    with pytest.raises(FileExistsError, match="is a file"):
        save_model(other, tmp_path / "file", overwrite=True)
