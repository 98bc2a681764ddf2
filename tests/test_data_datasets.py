"""The datasets beyond MNIST, each on small fixture files made here: fashion-mnist, idx, folder, npz."""
from __future__ import annotations

import gzip

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from ganlab.data import dataset_names, fashion, load_dataset
from ganlab.data import folder as folder_module
from ganlab.data.arrays import sha256_of
from ganlab.data.sources import IDX_FILES
from ganlab.errors import DataError

from conftest import encode_idx


def write_idx(path, array, compress=False):
    data = encode_idx(array)
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def small_set(n_train=30, n_test=10, shape=(28, 28), classes=10, seed=0):
    rng = np.random.default_rng(seed)
    return {"x_train": rng.integers(0, 256, (n_train, *shape), dtype=np.uint8),
            "y_train": (np.arange(n_train) % classes).astype(np.uint8),
            "x_test": rng.integers(0, 256, (n_test, *shape), dtype=np.uint8),
            "y_test": (np.arange(n_test) % classes).astype(np.uint8)}


def test_every_issue_dataset_is_known():
    assert set(dataset_names()) == {"mnist", "fashion-mnist", "idx", "folder", "npz",
                                    "ring", "grid", "spiral", "moons", "points"}  # issue 14's 2-D data


# --- fashion-mnist ------------------------------------------------------------------------------

@pytest.fixture
def fake_system_dir(tmp_path, monkeypatch):
    """A fake /usr/share/datasets/fashion-mnist holding small gzip IDX files, and an empty cache."""
    arrays = small_set(seed=3)
    folder = tmp_path / "debian"
    folder.mkdir()
    for key, name in IDX_FILES.items():
        write_idx(folder / f"{name}.gz", arrays[key], compress=True)
    monkeypatch.setattr(fashion, "SYSTEM_DIR", folder)
    monkeypatch.setattr(fashion, "SHA256", {k: sha256_of(v) for k, v in arrays.items()})
    monkeypatch.setenv("GANLAB_DATA", str(tmp_path / "cache"))
    monkeypatch.setenv("GANLAB_FASHION_MNIST_MIRRORS", "")
    return arrays


def test_fashion_comes_from_the_debian_folder_with_class_names(fake_system_dir, tmp_path):
    data = load_dataset("fashion-mnist")
    assert data.spec.class_names[0] == "T-shirt/top" and data.spec.class_names[9] == "Ankle boot"
    assert data.spec.image_shape == (1, 28, 28)
    np.testing.assert_array_equal(data.x_test[:, 0], fake_system_dir["x_test"])
    assert (tmp_path / "cache" / "fashion-mnist.npz").exists()


def test_fashion_with_a_wrong_checksum_is_refused_and_not_cached(fake_system_dir, tmp_path,
                                                                monkeypatch):
    monkeypatch.setitem(fashion.SHA256, "y_train", "0" * 64)
    with pytest.raises(DataError, match="Checksum mismatch.*y_train") as e:
        load_dataset("fashion-mnist")
    assert "apt-get install dataset-fashion-mnist" in str(e.value)
    assert not (tmp_path / "cache" / "fashion-mnist.npz").exists()


def test_fashion_from_a_folder_of_uncompressed_idx_files(tmp_path):
    arrays = small_set()
    for key, name in IDX_FILES.items():
        write_idx(tmp_path / name, arrays[key])
    data = load_dataset("fashion-mnist", path=tmp_path)
    assert data.spec.class_names[7] == "Sneaker" and len(data.x_train) == 30


def test_fashion_folder_missing_a_file_names_it(tmp_path):
    arrays = small_set()
    for key, name in list(IDX_FILES.items())[:3]:
        write_idx(tmp_path / name, arrays[key])
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte"):
        load_dataset("fashion-mnist", path=tmp_path)


@pytest.mark.skipif(not fashion.SYSTEM_DIR.is_dir(), reason="Debian's dataset-fashion-mnist is not installed")
def test_real_fashion_mnist_from_the_debian_package():
    data = load_dataset("fashion-mnist")
    assert data.x_train.shape == (60000, 1, 28, 28) and data.x_test.shape == (10000, 1, 28, 28)
    assert np.bincount(data.y_train).tolist() == [6000] * 10


# --- idx ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("compress", [False, True])
def test_idx_pair_loads_with_a_held_out_test_split(tmp_path, compress, capsys):
    arrays = small_set(n_train=50, shape=(8, 8), classes=4)
    images = write_idx(tmp_path / "images.idx3-ubyte.gz", arrays["x_train"], compress)
    labels = write_idx(tmp_path / "labels.idx1-ubyte.gz", arrays["y_train"], compress)
    data = load_dataset("idx", path=images, labels=labels)
    assert data.spec.image_shape == (1, 8, 8) and data.spec.num_classes == 4
    assert len(data.x_train) == 45 and len(data.x_test) == 5
    assert "holding out 5 of 50" in capsys.readouterr().err
    together = np.concatenate([data.x_train, data.x_test])[:, 0]
    assert sorted(x.tobytes() for x in together) == sorted(x.tobytes() for x in arrays["x_train"])


def test_idx_labels_that_do_not_match_the_images_are_refused(tmp_path):
    images = write_idx(tmp_path / "i", small_set()["x_train"])
    labels = write_idx(tmp_path / "l", np.zeros(29, np.uint8))
    with pytest.raises(DataError, match="30 images but 29 labels"):
        load_dataset("idx", path=images, labels=labels)


def test_idx_needs_both_files(tmp_path):
    with pytest.raises(DataError, match="--labels"):
        load_dataset("idx", path=tmp_path / "images")


def test_idx_truncated_file_names_the_file(tmp_path):
    images = write_idx(tmp_path / "images.gz", small_set()["x_train"], compress=True)
    images.write_bytes(images.read_bytes()[:-100])
    labels = write_idx(tmp_path / "labels", small_set()["y_train"])
    with pytest.raises(DataError, match=f"{images} is not a valid IDX file"):
        load_dataset("idx", path=images, labels=labels)


@settings(deadline=3000, max_examples=40)
@given(st.integers(1, 12), st.integers(1, 6), st.integers(1, 6), st.sampled_from([1, 3]),
       st.integers(1, 5))
def test_idx_any_image_shape_becomes_nchw(tmp_path_factory, n, h, w, c, classes):
    folder = tmp_path_factory.mktemp("idx")
    x = np.arange(n * h * w * c, dtype=np.uint8).reshape((n, h, w, c) if c == 3 else (n, h, w))
    y = (np.arange(n) % classes).astype(np.uint8)
    data = load_dataset("idx", path=write_idx(folder / "x", x), labels=write_idx(folder / "y", y))
    assert data.spec.image_shape == (c, h, w)
    assert data.x_train.shape[1:] == (c, h, w) and len(data.x_train) + len(data.x_test) == n
    assert data.x_train.flags.c_contiguous and data.y_train.dtype == np.int64


# --- folder -------------------------------------------------------------------------------------

def make_folder(root, classes=("cat", "dog"), per_class=5, size=(12, 10), mode="L", suffix=".png"):
    rng = np.random.default_rng(0)
    for name in classes:
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            shape = (size[1], size[0]) if mode == "L" else (size[1], size[0], 3)
            Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(
                root / name / f"{i}{suffix}")
    return root


def test_folder_of_gray_pngs(tmp_path):
    make_folder(tmp_path / "pets")
    (tmp_path / "pets" / "cat" / "notes.txt").write_text("ignored")
    data = load_dataset("folder", path=tmp_path / "pets")
    assert data.spec.class_names == ("cat", "dog") and data.spec.image_shape == (1, 10, 12)
    assert len(data.x_train) + len(data.x_test) == 10


def test_folder_of_rgb_jpegs_resized(tmp_path):
    make_folder(tmp_path / "pets", mode="RGB", suffix=".jpg", size=(40, 30))
    data = load_dataset("folder", path=tmp_path / "pets", image_size=32)
    assert data.spec.image_shape == (3, 32, 32) and data.x_train.dtype == np.uint8


def test_folder_with_train_and_test_subfolders_keeps_that_split(tmp_path):
    make_folder(tmp_path / "pets" / "train", per_class=4)
    make_folder(tmp_path / "pets" / "test", per_class=2)
    data = load_dataset("folder", path=tmp_path / "pets")
    assert len(data.x_train) == 8 and len(data.x_test) == 4
    assert data.y_test.tolist() == [0, 0, 1, 1]


def test_folder_with_mixed_sizes_asks_for_image_size(tmp_path):
    make_folder(tmp_path / "pets")
    Image.new("L", (20, 20)).save(tmp_path / "pets" / "dog" / "big.png")
    with pytest.raises(DataError, match="different sizes.*--image-size"):
        load_dataset("folder", path=tmp_path / "pets")
    assert load_dataset("folder", path=tmp_path / "pets", image_size=28).x_train.shape[1:] == (1, 28, 28)


def test_folder_with_an_empty_class_names_it(tmp_path):
    make_folder(tmp_path / "pets")
    (tmp_path / "pets" / "bird").mkdir()
    with pytest.raises(DataError, match="bird holds no PNG or JPEG"):
        load_dataset("folder", path=tmp_path / "pets")


def test_folder_without_class_folders(tmp_path):
    with pytest.raises(DataError, match="has no sub-folders"):
        load_dataset("folder", path=tmp_path)


def test_folder_with_a_broken_image_names_it(tmp_path):
    make_folder(tmp_path / "pets")
    (tmp_path / "pets" / "cat" / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(DataError, match="broken.png"):
        load_dataset("folder", path=tmp_path / "pets")


def test_a_folder_is_decoded_once_then_read_from_the_cache_until_an_image_changes(tmp_path, monkeypatch,
                                                                                   decoded_folders):
    make_folder(tmp_path / "pets")
    first = load_dataset("folder", path=tmp_path / "pets")
    decoded = []
    read_all = folder_module._read_all
    monkeypatch.setattr(folder_module, "_read_all", lambda *args: decoded.append(1) or read_all(*args))
    again = load_dataset("folder", path=tmp_path / "pets")
    assert decoded == [] and np.array_equal(first.x_train, again.x_train)
    assert np.array_equal(first.y_train, again.y_train)
    Image.new("L", (12, 10), 255).save(tmp_path / "pets" / "dog" / "0.png")  # one image replaced
    changed = load_dataset("folder", path=tmp_path / "pets")
    assert decoded == [1] and not np.array_equal(np.sort(first.x_train, axis=0), np.sort(changed.x_train, axis=0))
    assert len(list(decoded_folders.glob("folder-*.npy"))) >= 2


def test_folder_rejects_an_unsupported_size(tmp_path):
    make_folder(tmp_path / "pets")
    with pytest.raises(DataError, match="28, 32, 64"):
        load_dataset("folder", path=tmp_path / "pets", image_size=30)


# --- npz ----------------------------------------------------------------------------------------

def test_npz_with_test_split_and_class_names(tmp_path):
    arrays = small_set(shape=(16, 16, 3), classes=3)
    np.savez(tmp_path / "d.npz", **arrays, class_names=np.array(["a", "b", "c"]))
    data = load_dataset("npz", path=tmp_path / "d.npz")
    assert data.spec.image_shape == (3, 16, 16) and data.spec.class_names == ("a", "b", "c")
    np.testing.assert_array_equal(data.x_train.transpose(0, 2, 3, 1), arrays["x_train"])


def test_npz_without_test_split_holds_some_out(tmp_path):
    arrays = small_set(n_train=40)
    np.savez(tmp_path / "d.npz", x_train=arrays["x_train"], y_train=arrays["y_train"])
    data = load_dataset("npz", path=tmp_path / "d.npz", test_fraction=0.25)
    assert len(data.x_train) == 30 and len(data.x_test) == 10


def test_npz_labels_out_of_range_of_class_names(tmp_path):
    arrays = small_set(classes=5)
    np.savez(tmp_path / "d.npz", **arrays, class_names=np.array(["a", "b"]))
    with pytest.raises(DataError, match="labels from 0 to 4.*2 classes"):
        load_dataset("npz", path=tmp_path / "d.npz")


def test_npz_train_and_test_of_different_shapes(tmp_path):
    arrays = small_set()
    arrays["x_test"] = arrays["x_test"][:, :20, :20]
    np.savez(tmp_path / "d.npz", **arrays)
    with pytest.raises(DataError, match="both splits must have one shape"):
        load_dataset("npz", path=tmp_path / "d.npz")


def test_npz_needs_a_path():
    with pytest.raises(DataError, match="--data"):
        load_dataset("npz")
