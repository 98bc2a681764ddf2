"""The evaluation classifiers: their shapes, their shipped weights and records, and their training script."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ganlab.classifier import (
    FEATURE_DIM,
    JUDGE,
    SECOND_OPINION,
    EvalCNN,
    LeNet,
    checkpoint_of,
    load_classifier,
    record_path,
    weights_path,
)
from ganlab.data import to_unit_range
from ganlab.errors import CheckpointError

from conftest import load_script, random_dataset


def load_training_script():
    return load_script("train_classifier")


@settings(max_examples=15, deadline=timedelta(seconds=5))
@given(channels=st.sampled_from([1, 3]), height=st.integers(4, 32), width=st.integers(4, 32),
       num_classes=st.integers(1, 20), batch=st.integers(1, 4))
@example(channels=1, height=4, width=4, num_classes=1, batch=1)  # the bounds, tried every time
@example(channels=3, height=32, width=32, num_classes=20, batch=4)
@example(channels=1, height=4, width=32, num_classes=2, batch=1)
def test_features_and_logits_have_the_right_shapes_for_any_image_shape(channels, height, width, num_classes, batch):
    model = EvalCNN((channels, height, width), num_classes).eval()
    features, logits = model.features_and_logits(torch.rand(batch, channels, height, width) * 2 - 1)
    assert features.shape == (batch, FEATURE_DIM)
    assert logits.shape == (batch, num_classes + 1)  # the classes, then junk
    without_junk = EvalCNN((channels, height, width), num_classes, junk_class=False).eval()
    assert without_junk(torch.zeros(1, channels, height, width)).shape == (1, num_classes)


@settings(max_examples=10, deadline=timedelta(seconds=5))
@given(channels=st.sampled_from([1, 3]), height=st.integers(16, 40), width=st.integers(16, 40),
       num_classes=st.integers(1, 20))
@example(channels=1, height=16, width=16, num_classes=1)  # the bounds, tried every time
@example(channels=3, height=40, width=40, num_classes=20)
@example(channels=1, height=16, width=40, num_classes=10)
def test_lenet_has_the_same_outputs_for_any_image_of_16_pixels_or_more(channels, height, width, num_classes):
    model = LeNet((channels, height, width), num_classes).eval()
    features, logits = model.features_and_logits(torch.rand(2, channels, height, width) * 2 - 1)
    assert features.shape == (2, FEATURE_DIM) and logits.shape == (2, num_classes + 1)


def test_lenet_refuses_images_too_small_for_its_convolutions():
    with pytest.raises(ValueError, match="at least 16x16"):
        LeNet((1, 12, 28), 10)


SHIPPED = pytest.mark.parametrize("dataset, architecture, required_accuracy", [
    ("mnist", JUDGE, 0.99), ("mnist", SECOND_OPINION, 0.99),
    ("fashion-mnist", JUDGE, 0.90), ("fashion-mnist", SECOND_OPINION, 0.88),
])


@SHIPPED
def test_shipped_weights_are_small_and_load_without_pickled_code(dataset, architecture, required_accuracy):
    path = weights_path(dataset, architecture=architecture)
    assert path.stat().st_size < 1_100_000
    checkpoint = torch.load(path, weights_only=True)
    assert checkpoint["image_shape"] == (1, 28, 28) and checkpoint["num_classes"] == 10
    assert checkpoint["architecture"] == architecture and checkpoint["junk_class"] is True
    assert load_classifier(dataset, architecture=architecture).junk_class


@SHIPPED
def test_shipped_record_says_how_the_weights_were_made(dataset, architecture, required_accuracy):
    record = json.loads(record_path(dataset, architecture=architecture).read_text())
    command = f"python scripts/train_classifier.py --dataset {dataset}"
    if architecture != JUDGE:
        command += f" --architecture {architecture}"
    assert record["command"].startswith(command)
    assert record["test_accuracy"] >= required_accuracy
    assert record["train_split_only"] and record["junk_class"]
    assert {"seed", "epochs", "junk_share"} <= set(record["settings"])
    assert {"date", "torch_version", "test_recognised_and_correct", "test_junk_recognised"} <= set(record)


@pytest.mark.parametrize("architecture", [JUDGE, SECOND_OPINION])
def test_shipped_mnist_classifiers_recognise_held_out_digits(mnist, architecture):
    from ganlab.metrics import predictions, recognised

    classifier = load_classifier("mnist", architecture=architecture)
    images = to_unit_range(torch.from_numpy(mnist.x_test[:3000]))
    with torch.no_grad():
        predicted, confidence = predictions(classifier(images), classifier.num_classes)
    right = (predicted == torch.from_numpy(mnist.y_test[:3000])) & recognised(confidence)
    # On the whole test split: 99.40 % (cnn) and 99.20 % (lenet), as the weights' records say; the
    # first 3 000 digits are a little harder (98.97 % for cnn).
    assert right.double().mean().item() >= 0.985


def test_missing_weights_say_how_to_train_them(tmp_path):
    with pytest.raises(CheckpointError, match="python scripts/train_classifier.py --dataset folder"):
        load_classifier("folder", weights_dir=tmp_path)


def test_corrupt_weights_are_a_checkpoint_error(tmp_path):
    weights_path("mnist", tmp_path).write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="could not be read"):
        load_classifier("mnist", weights_dir=tmp_path)


@pytest.mark.parametrize("build, architecture", [(EvalCNN, JUDGE), (LeNet, SECOND_OPINION)])
def test_a_saved_checkpoint_rebuilds_the_same_classifier(tmp_path, build, architecture):
    model = build((1, 16, 16), 3).eval()
    torch.save(checkpoint_of(model), weights_path("tiny", tmp_path, architecture))
    loaded = load_classifier("tiny", weights_dir=tmp_path, architecture=architecture)
    images = torch.rand(5, 1, 16, 16) * 2 - 1
    assert not loaded.training and type(loaded) is build
    assert torch.equal(loaded(images), model(images))


def test_a_checkpoint_from_before_the_junk_class_loads_without_it(tmp_path):
    model = EvalCNN((1, 8, 8), 3, junk_class=False).eval()
    old = checkpoint_of(model)
    del old["architecture"], old["junk_class"]  # what the first training script wrote
    torch.save(old, weights_path("old", tmp_path))
    loaded = load_classifier("old", weights_dir=tmp_path)
    assert not loaded.junk_class and loaded(torch.zeros(2, 1, 8, 8)).shape == (2, 3)


def test_missing_second_opinion_says_how_to_train_it(tmp_path):
    with pytest.raises(CheckpointError, match="--dataset mnist --architecture lenet"):
        load_classifier("mnist", weights_dir=tmp_path, architecture=SECOND_OPINION)


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


def test_a_training_batch_is_real_images_then_junk_labelled_as_the_extra_class():
    script = load_training_script()
    data = random_dataset((1, 16, 16), 4, n=64)
    images, labels = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)
    args = script.parse_args(["--junk-share", "0.25"])
    batch, batch_labels = script.training_batch(images, labels, torch.arange(32), args, torch.Generator(), 4)
    assert batch.shape == (40, 1, 16, 16)
    assert torch.equal(batch_labels[:32], labels[:32]) and (batch_labels[32:] == 4).all()
    args = script.parse_args(["--junk-share", "0"])
    assert len(script.training_batch(images, labels, torch.arange(32), args, torch.Generator(), 4)[0]) == 32


@pytest.mark.parametrize("architecture", [JUDGE, SECOND_OPINION])
def test_training_script_writes_loadable_weights_and_a_record(tmp_path, monkeypatch, architecture):
    script = load_training_script()
    monkeypatch.setattr(script, "load_dataset", lambda name: random_dataset((1, 16, 16), 4, n=64))
    script.main(["--dataset", "random", "--architecture", architecture, "--epochs", "1", "--batch-size", "32",
                 "--out-dir", str(tmp_path)])
    record = json.loads(record_path("random", tmp_path, architecture).read_text())
    assert 0 <= record["test_accuracy"] <= 1 and record["settings"]["seed"] == 0
    assert record["architecture"] == architecture and record["junk_class"]
    assert set(record["test_junk_recognised"]) == {"uniform", "gaussian", "speckle", "blur", "shuffle", "overlay"}
    classifier = load_classifier("random", weights_dir=tmp_path, architecture=architecture)
    assert classifier.num_classes == 4 and classifier.junk_class
