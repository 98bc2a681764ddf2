"""Downloads against a local HTTP server on 127.0.0.1: success, checksum mismatch, retry, and the
MNIST acquisition path (a good file is loaded and cached; a corrupted one is refused, nothing cached)."""
from __future__ import annotations

import gzip
import hashlib
import io
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from ganlab.data import download, load_dataset, mnist
from ganlab.data.arrays import sha256_of
from ganlab.data.sources import IDX_FILES
from ganlab.errors import DataError

from conftest import encode_idx


class Server:
    """Serves ``files`` (URL path -> bytes); ``failures[path] = n`` answers 503 the first n times."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.failures: dict[str, int] = {}
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                if server.failures.get(self.path, 0) > 0:
                    server.failures[self.path] -= 1
                    self.send_error(503)
                elif self.path in server.files:
                    body = server.files[self.path]
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                else:
                    self.send_error(404)

            def log_message(self, *args):  # keep the test output quiet
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setattr(download, "BACKOFF_S", 0.01)
    s = Server()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """Small fake MNIST whose checksums stand in for the real ones; an empty cache; no pip."""
    rng = np.random.default_rng(1)
    arrays = {"x_train": rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
              "y_train": rng.integers(0, 10, 20).astype(np.uint8),
              "x_test": rng.integers(0, 256, (7, 28, 28), dtype=np.uint8),
              "y_test": rng.integers(0, 10, 7).astype(np.uint8)}
    monkeypatch.setattr(mnist, "SHA256", {k: sha256_of(v) for k, v in arrays.items()})
    monkeypatch.setenv("GANLAB_DATA", str(tmp_path / "cache"))
    monkeypatch.setenv("GANLAB_NO_PIP_FALLBACK", "1")
    return arrays


def npz_bytes(arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


# --- fetch ---------------------------------------------------------------------------------------

def test_fetch_returns_the_bytes_and_checks_sha256(server):
    server.files["/f.bin"] = b"hello" * 1000
    assert download.fetch(f"{server.url}/f.bin", hashlib.sha256(b"hello" * 1000).hexdigest()) \
        == b"hello" * 1000


def test_fetch_checksum_mismatch_is_a_data_error(server):
    server.files["/f.bin"] = b"tampered"
    with pytest.raises(DataError, match="checksum mismatch") as e:
        download.fetch(f"{server.url}/f.bin", hashlib.sha256(b"original").hexdigest())
    assert e.value.checksum


def test_fetch_retries_a_server_error_then_succeeds(server):
    server.files["/f.bin"] = b"data"
    server.failures["/f.bin"] = 2
    assert download.fetch(f"{server.url}/f.bin", retries=3) == b"data"
    assert server.requests == ["/f.bin"] * 3


def test_fetch_gives_up_after_the_retries(server):
    server.failures["/f.bin"] = 10
    with pytest.raises(DataError, match="HTTP 503.*after 3 attempts"):
        download.fetch(f"{server.url}/f.bin", retries=2)


def test_fetch_does_not_retry_not_found(server):
    with pytest.raises(DataError, match="HTTP 404"):
        download.fetch(f"{server.url}/missing")
    assert server.requests == ["/missing"]


def test_fetch_reports_progress_for_large_files(server, monkeypatch, capsys):
    monkeypatch.setattr(download, "PROGRESS_MIN_BYTES", 1000)
    server.files["/big"] = bytes(5000)
    download.fetch(f"{server.url}/big")
    assert "downloaded" in capsys.readouterr().err


# --- MNIST from the mirrors ----------------------------------------------------------------------

def test_good_npz_from_a_mirror_is_loaded_and_cached(server, fake, tmp_path, monkeypatch):
    server.files["/mnist.npz"] = npz_bytes(fake)
    monkeypatch.setenv("GANLAB_MNIST_MIRRORS", f"{server.url}/mnist.npz")
    data = load_dataset("mnist")
    np.testing.assert_array_equal(data.x_train[:, 0], fake["x_train"])
    assert (tmp_path / "cache" / "mnist.npz").exists()
    load_dataset("mnist")  # the second load comes from the cache
    assert server.requests == ["/mnist.npz"]


def test_good_idx_files_from_a_mirror_are_loaded(server, fake, monkeypatch):
    for key, name in IDX_FILES.items():
        server.files[f"/mnist/{name}.gz"] = gzip.compress(encode_idx(fake[key]))
    monkeypatch.setenv("GANLAB_MNIST_MIRRORS", f"{server.url}/missing.npz, {server.url}/mnist/")
    data = load_dataset("mnist")
    np.testing.assert_array_equal(data.y_test, fake["y_test"])


def test_corrupted_file_is_a_checksum_error_and_nothing_is_cached(server, fake, tmp_path,
                                                                   monkeypatch):
    corrupted = dict(fake, x_train=fake["x_train"].copy())
    corrupted["x_train"][3, 14, 14] ^= 0x40
    server.files["/mnist.npz"] = npz_bytes(corrupted)
    monkeypatch.setenv("GANLAB_MNIST_MIRRORS", f"{server.url}/mnist.npz")
    with pytest.raises(DataError, match="Checksum mismatch.*x_train"):
        load_dataset("mnist")
    cache = tmp_path / "cache"
    assert not cache.exists() or list(cache.iterdir()) == []


def test_next_mirror_is_tried_after_a_bad_one(server, fake, monkeypatch):
    server.files["/bad.npz"] = b"garbage"
    server.files["/good.npz"] = npz_bytes(fake)
    monkeypatch.setenv("GANLAB_MNIST_MIRRORS", f"{server.url}/bad.npz {server.url}/good.npz")
    assert len(load_dataset("mnist").x_train) == 20


def test_fashion_mnist_from_a_mirror_retries_a_server_error(server, tmp_path, monkeypatch):
    from ganlab.data import fashion

    rng = np.random.default_rng(2)
    arrays = {"x_train": rng.integers(0, 256, (10, 28, 28), dtype=np.uint8),
              "y_train": np.arange(10, dtype=np.uint8),
              "x_test": rng.integers(0, 256, (4, 28, 28), dtype=np.uint8),
              "y_test": np.arange(4, dtype=np.uint8)}
    for key, name in IDX_FILES.items():
        server.files[f"/fashion/{name}.gz"] = gzip.compress(encode_idx(arrays[key]))
    server.failures["/fashion/train-images-idx3-ubyte.gz"] = 1
    monkeypatch.setattr(fashion, "SYSTEM_DIR", tmp_path / "not-installed")
    monkeypatch.setattr(fashion, "SHA256", {k: sha256_of(v) for k, v in arrays.items()})
    monkeypatch.setenv("GANLAB_DATA", str(tmp_path / "cache"))
    monkeypatch.setenv("GANLAB_FASHION_MNIST_MIRRORS", f"{server.url}/fashion/")
    data = load_dataset("fashion-mnist")
    assert data.spec.class_names[8] == "Bag"
    assert server.requests.count("/fashion/train-images-idx3-ubyte.gz") == 2
    assert (tmp_path / "cache" / "fashion-mnist.npz").exists()
