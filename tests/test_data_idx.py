"""The IDX reader: exact round trips, and a clean DataError for anything that is not a whole IDX file."""
from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from ganlab.data.idx import parse_idx, read_idx
from ganlab.errors import DataError

from conftest import encode_idx

IDX_DTYPES = st.sampled_from([np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
SMALL_ARRAYS = IDX_DTYPES.flatmap(
    lambda dtype: arrays(dtype, st.lists(st.integers(0, 5), min_size=1, max_size=4).map(tuple)))


def header(code: int, *dims: int) -> bytes:
    return bytes([0, 0, code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims)


def test_reads_the_layout_mnist_uses():
    data = header(0x08, 2, 2, 3) + bytes(range(12))
    array = parse_idx(data)
    assert array.shape == (2, 2, 3) and array.dtype == np.uint8
    assert array[1, 1, 2] == 11


def test_reads_big_endian_values():
    array = parse_idx(header(0x0C, 2) + struct.pack(">2i", 1, -70000))
    assert array.tolist() == [1, -70000] and array.dtype == np.int32


@settings(deadline=2000, max_examples=60)
@given(SMALL_ARRAYS, st.booleans())
def test_round_trip_is_exact(array, compress):
    data = encode_idx(array)
    back = parse_idx(gzip.compress(data) if compress else data)
    assert back.shape == array.shape and back.dtype == array.dtype
    np.testing.assert_array_equal(back, array)


@settings(deadline=2000, max_examples=60)
@given(SMALL_ARRAYS.filter(lambda a: a.nbytes > 0), st.data())
def test_any_truncation_is_a_data_error(array, data):
    whole = encode_idx(array)
    cut = data.draw(st.integers(0, len(whole) - 1))
    with pytest.raises(DataError, match="not a valid IDX file"):
        parse_idx(whole[:cut], "f.idx")


@settings(deadline=2000, max_examples=60)
@given(SMALL_ARRAYS, st.data())
def test_any_truncation_of_a_gzip_file_is_a_data_error(array, data):
    whole = gzip.compress(encode_idx(array))
    cut = data.draw(st.integers(2, len(whole) - 1))
    with pytest.raises(DataError, match="not a valid IDX file"):
        parse_idx(whole[:cut], "f.idx.gz")


@settings(deadline=2000, max_examples=60)
@given(SMALL_ARRAYS, st.binary(min_size=1, max_size=20))
def test_extra_bytes_are_a_data_error(array, extra):
    with pytest.raises(DataError, match="holds"):
        parse_idx(encode_idx(array) + extra)


@settings(deadline=2000, max_examples=300)
@given(st.binary(max_size=200))
def test_random_bytes_give_an_error_or_exactly_the_header_shape(data):
    """Random bytes almost never form an IDX file; when they do, the shape is the header's."""
    try:
        array = parse_idx(data)
    except DataError:
        return
    ndim = data[3]
    assert array.shape == struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])


@settings(deadline=2000, max_examples=100)
@given(st.sampled_from([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E]),
       st.lists(st.integers(2**20, 2**32 - 1), min_size=1, max_size=4), st.binary(max_size=64))
def test_a_header_promising_gigabytes_fails_fast_without_allocating(code, dims, body):
    with pytest.raises(DataError, match="promises"):
        parse_idx(header(code, *dims) + body)


@pytest.mark.parametrize("data, why", [
    (b"\x01\x00\x08\x01" + struct.pack(">I", 1) + b"\0", "magic number"),
    (header(0x07, 1) + b"\0", "type code 0x07"),
    (bytes([0, 0, 8, 0]), "zero dimensions"),
    (header(0x08, 4, 4)[:7], "ends inside its header"),
    (header(0x08, 3) + b"\0\0", "promises"),
    (b"\x1f\x8bnot really gzip", "gzip stream is damaged"),
])
def test_each_defect_is_named(data, why):
    with pytest.raises(DataError, match=why):
        parse_idx(data)


def test_read_idx_names_the_file(tmp_path):
    path = tmp_path / "labels.idx1-ubyte"
    path.write_bytes(b"junk")
    with pytest.raises(DataError, match="labels.idx1-ubyte"):
        read_idx(path)
    with pytest.raises(DataError, match="Cannot read"):
        read_idx(tmp_path / "missing")


def test_read_idx_reads_gzip_by_content_not_name(tmp_path):
    path = tmp_path / "images-idx3-ubyte"  # no .gz suffix
    path.write_bytes(gzip.compress(encode_idx(np.ones((2, 3, 3), np.uint8))))
    assert read_idx(path).shape == (2, 3, 3)
