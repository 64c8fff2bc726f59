"""07's held-out denoiser: the grader scores DATA (a spec of built-in torch layers and the training
settings), never a pickle: what it cannot rebuild from torch's own classes is refused, and the
code a saved file carries never runs."""

from __future__ import annotations

import pickle

import pytest
import torch
from torch import nn

from dlcourse.grader import heldout
from dlcourse.instructor import mnist_denoise
from dlcourse.testkit import denoise as D

TINY = [["Flatten", {"start_dim": 1, "end_dim": -1}],
        ["Linear", {"in_features": 784, "out_features": 8, "bias": True}],
        ["Linear", {"in_features": 8, "out_features": 784, "bias": True}], ["Sigmoid", {}],
        ["Unflatten", {"dim": 1, "unflattened_size": [1, 28, 28]}]]
QUICK = {"lr": 1e-3, "batch_size": 1024, "num_epochs": 1}


class _Payload:
    """A pickle that would run code when loaded: it would create `marker`."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _save(path, spec, settings=QUICK, **extra):
    torch.save({"format": 1, "spec": spec, "settings": settings, **extra}, path)
    return path


def test_the_spec_of_a_model_rebuilds_the_same_network():
    model = nn.Sequential(nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.LeakyReLU(0.2), nn.Dropout(0.1),
                                        nn.Linear(64, 16)),
                          nn.Linear(16, 784), nn.Sigmoid(), nn.Unflatten(1, (1, 28, 28)))
    spec = D.denoiser_spec(model)
    net, settings = D.validate_submission(spec, QUICK)
    net.load_state_dict(model.state_dict())
    x = torch.rand(3, 1, 28, 28)
    model.eval()
    torch.testing.assert_close(net(x), model(x))
    assert D.bottleneck_size(net) == 16 and settings == QUICK
    assert D.bottleneck_size(D.rebuild(D.lectures_baseline_spec())) == D.LATENT_DIM


@pytest.mark.parametrize("model, words", [
    (nn.Linear(784, 784), "not an nn.Sequential"),
    (nn.Sequential(nn.Flatten(), nn.Conv1d(1, 1, 3)), "layer 1"),
    (nn.Sequential(nn.Flatten(), type("Mine", (nn.Linear,), {})(784, 784)), "layer 1"),
])
def test_a_layer_the_grader_cannot_rebuild_is_refused_by_position_never_by_its_name(model, words):
    with pytest.raises(D.SpecError, match=words) as err:
        D.denoiser_spec(model)
    assert "Mine" not in str(err.value) and "nn.Sequential(...) of these built-in layers" in str(err.value)


@pytest.mark.parametrize("spec, words", [
    ([["system", {"command": "touch /tmp/x"}]], "not one of the built-in layers"),
    ([["Linear", {"in_features": 784, "out_features": 10**6, "bias": True}]], "out_features"),
    ([["Linear", {"in_features": 784, "out_features": 8, "bias": True, "device": "cuda"}]], "exactly the arguments"),
    ([["Flatten", {"start_dim": 1, "end_dim": -1}], ["Linear", {"in_features": 784, "out_features": 784, "bias": True}],
      ["Sigmoid", {}], ["Unflatten", {"dim": 1, "unflattened_size": [1, 28, 28]}]], "bottleneck"),
    ("Sequential", "list of 1 to 64 layers"),
])
def test_a_spec_outside_the_rules_is_refused(spec, words):
    with pytest.raises(D.SpecError, match=words):
        D.validate_submission(spec, QUICK)


@pytest.mark.parametrize("settings, words", [
    ({"lr": 1e-3, "batch_size": 64, "num_epochs": 21}, "num_epochs"),
    ({"lr": 1e-3, "batch_size": 64}, "exactly the keys"),
    ({"lr": "1e-3", "batch_size": 64, "num_epochs": 5}, "must be a number"),
    ({"lr": 1e-3, "batch_size": 64.5, "num_epochs": 5}, "whole number"),
])
def test_settings_outside_the_budget_are_refused(settings, words):
    with pytest.raises(D.SpecError, match=words):
        D.check_settings(settings)


def test_the_training_budget_counts_parameters_times_epochs():
    wide = [["Flatten", {"start_dim": 1, "end_dim": -1}],
            ["Linear", {"in_features": 784, "out_features": 600, "bias": True}],
            ["Linear", {"in_features": 600, "out_features": 32, "bias": True}],
            ["Linear", {"in_features": 32, "out_features": 600, "bias": True}],
            ["Linear", {"in_features": 600, "out_features": 784, "bias": True}], ["Sigmoid", {}],
            ["Unflatten", {"dim": 1, "unflattened_size": [1, 28, 28]}]]
    D.validate_submission(wide, {"lr": 1e-3, "batch_size": 64, "num_epochs": 10})
    with pytest.raises(D.SpecError, match="training budget"):
        D.validate_submission(wide, {"lr": 1e-3, "batch_size": 64, "num_epochs": 11})


def test_the_scorer_never_unpickles_code_and_scores_each_file_on_its_own(tmp_path):
    """Through the grader's own path (one child of the judge server): a pickle that carries code,
    a whole pickled module, a spec naming another class, and a file with more than data each get
    their own error and run nothing; a good spec gets its score."""
    marker = tmp_path / "code-ran"
    (tmp_path / "payload.pt").write_bytes(pickle.dumps({"format": 1, "spec": _Payload(marker), "settings": QUICK}))
    torch.save(nn.Sequential(nn.Flatten(), nn.Linear(784, 8)), tmp_path / "module.pt")
    _save(tmp_path / "named.pt", [["os.system", {}]])
    _save(tmp_path / "extra.pt", TINY, notes="more than a spec")
    _save(tmp_path / "good.pt", TINY)
    cwd = tmp_path / "scoring"
    cwd.mkdir()
    for name in ("payload", "module", "named", "extra"):
        scores = heldout.score_all({"mnist_denoiser": tmp_path / f"{name}.pt"}, cwd)
        score, error = scores["mnist_denoiser"]
        assert score is None and error, name
        assert heldout.verdict("mnist_denoiser", score, error).kind == "HeldoutError"
    assert not marker.exists()
    score, error = heldout.score_all({"mnist_denoiser": tmp_path / "good.pt"}, cwd)["mnist_denoiser"]
    assert error == "" and isinstance(score, float) and score < heldout.TASKS["mnist_denoiser"].threshold  # 5 steps


def test_the_submission_the_test_saves_is_read_back_as_data(tmp_path):
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 8), nn.Linear(8, 784), nn.Sigmoid(),
                          nn.Unflatten(1, (1, 28, 28)))
    D.DenoiserSubmission(model, {"lr": 2e-3, "batch_size": 64, "num_epochs": 3}).save(tmp_path / "s.pt")
    spec, settings = mnist_denoise.read_submission(tmp_path / "s.pt")
    assert spec == TINY and settings == {"lr": 2e-3, "batch_size": 64, "num_epochs": 3}
