"""The evaluation classifier: its shapes, its shipped weights and their record, and its training script."""
from __future__ import annotations

import importlib.util
import json
from datetime import timedelta
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ganlab.classifier import (
    FEATURE_DIM,
    EvalCNN,
    checkpoint_of,
    load_classifier,
    record_path,
    weights_path,
)
from ganlab.data import to_unit_range
from ganlab.errors import CheckpointError

from conftest import random_dataset

SCRIPT = Path(__file__).parents[1] / "scripts" / "train_classifier.py"


def load_training_script():
    spec = importlib.util.spec_from_file_location("train_classifier", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@settings(max_examples=15, deadline=timedelta(seconds=5))
@given(channels=st.sampled_from([1, 3]), height=st.integers(4, 32), width=st.integers(4, 32),
       num_classes=st.integers(1, 20), batch=st.integers(1, 4))
def test_features_and_logits_have_the_right_shapes_for_any_image_shape(channels, height, width, num_classes, batch):
    model = EvalCNN((channels, height, width), num_classes).eval()
    features, logits = model.features_and_logits(torch.rand(batch, channels, height, width) * 2 - 1)
    assert features.shape == (batch, FEATURE_DIM)
    assert logits.shape == (batch, num_classes)


SHIPPED = pytest.mark.parametrize("dataset, required_accuracy", [("mnist", 0.99), ("fashion-mnist", 0.90)])


@SHIPPED
def test_shipped_weights_are_small_and_load_without_pickled_code(dataset, required_accuracy):
    path = weights_path(dataset)
    assert path.stat().st_size < 2_000_000
    checkpoint = torch.load(path, weights_only=True)
    assert checkpoint["image_shape"] == (1, 28, 28) and checkpoint["num_classes"] == 10


@SHIPPED
def test_shipped_record_says_how_the_weights_were_made(dataset, required_accuracy):
    record = json.loads(record_path(dataset).read_text())
    assert record["command"].startswith(f"python scripts/train_classifier.py --dataset {dataset}")
    assert record["test_accuracy"] >= required_accuracy
    assert {"seed", "epochs"} <= set(record["settings"])
    assert {"date", "torch_version", "train_split_only"} <= set(record)


def test_shipped_mnist_classifier_recognises_held_out_digits(mnist):
    classifier = load_classifier("mnist")
    images = to_unit_range(torch.from_numpy(mnist.x_test[:3000]))
    with torch.no_grad():
        predicted = classifier(images).argmax(1)
    accuracy = (predicted == torch.from_numpy(mnist.y_test[:3000])).double().mean().item()
    assert accuracy >= 0.99


def test_missing_weights_say_how_to_train_them(tmp_path):
    with pytest.raises(CheckpointError, match="python scripts/train_classifier.py --dataset folder"):
        load_classifier("folder", weights_dir=tmp_path)


def test_corrupt_weights_are_a_checkpoint_error(tmp_path):
    weights_path("mnist", tmp_path).write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="could not be read"):
        load_classifier("mnist", weights_dir=tmp_path)


def test_a_saved_checkpoint_rebuilds_the_same_classifier(tmp_path):
    model = EvalCNN((1, 8, 8), 3).eval()
    torch.save(checkpoint_of(model), weights_path("tiny", tmp_path))
    loaded = load_classifier("tiny", weights_dir=tmp_path)
    images = torch.rand(5, 1, 8, 8) * 2 - 1
    assert not loaded.training
    assert torch.equal(loaded(images), model(images))


def test_random_shift_moves_a_pixel_by_at_most_the_shift():
    script = load_training_script()
    images = torch.full((64, 1, 9, 9), -1.0)
    images[:, 0, 4, 4] = 1.0
    shifted = script.random_shift(images, 2, torch.Generator().manual_seed(0))
    bright = (shifted == 1.0).nonzero()[:, 2:]  # (row, col) of each image's bright pixel
    assert len(bright) == 64  # one per image: translated, not duplicated or lost
    assert ((bright - 4).abs() <= 2).all()
    assert len({tuple(p) for p in bright.tolist()}) > 1  # images move independently
    assert torch.equal(script.random_shift(images, 0, torch.Generator()), images)


def test_training_script_writes_loadable_weights_and_a_record(tmp_path, monkeypatch):
    script = load_training_script()
    monkeypatch.setattr(script, "load_dataset", lambda name: random_dataset((1, 12, 12), 4, n=64))
    script.main(["--dataset", "random", "--epochs", "1", "--batch-size", "32", "--out-dir", str(tmp_path)])
    record = json.loads(record_path("random", tmp_path).read_text())
    assert 0 <= record["test_accuracy"] <= 1 and record["settings"]["seed"] == 0
    assert load_classifier("random", weights_dir=tmp_path).num_classes == 4
