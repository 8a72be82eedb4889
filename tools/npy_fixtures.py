"""The .npy fixtures of tests/test_io_npy.cpp, written by NumPy; and NumPy reading what Parity writes.

    /work/venvs/tf/bin/python tools/npy_fixtures.py                  # (re)writes tests/data/npy/np_*.npy
    /work/venvs/tf/bin/python tools/npy_fixtures.py --check build-cpu/tests/test_io_npy

Any NumPy >= 1.23 (the files were written by 2.4.6); nothing else. Deterministic: the same bytes every run.

The first form writes, with np.save unless said otherwise:

  WRITTEN (Parity's save_npy must write these same bytes, header and data, from the same values):
    np_f32_2x4.npy        float32 [[0, -0, 1.5, 1e-45 (the smallest denormal)], [inf, -inf, nan, -FLT_MAX]]
    np_f64_5.npy          float64 [0.1, -2.5, nan, 5e-324, DBL_MAX]: a 1-D shape, written '(5,)'
    np_f64_1.npy          float64 [3]: the shape '(1,)'
    np_i32_2x2x2.npy      int32 [[[INT32_MIN, INT32_MAX], [0, -1]], [[1, 2], [3, 4]]]
    np_i64_scalar.npy     int64, 0-d: -(2**63 - 1) (not a float64: read as int64)
    np_u8_3x1.npy         uint8 [[0], [7], [255]]
    np_bool_2x3.npy       bool [[T, F, T], [F, F, T]]
    np_f32_0x4.npy        float32, shape (0, 4): no data
    np_u8_8d.npy          uint8 arange(12) in shape (1, 2, 1, 3, 1, 2, 1, 1): eight dims
    np_u8_widest.npy      uint8, shape (0, 0, 0, 0, 0, 0, 0, 2**63 - 1): the longest shape text NumPy can
                          write; with NumPy's 21 - len(str(shape[0])) spaces of growth room the header just
                          fits 128 bytes (Parity pads differently but to the same length for every shape
                          NumPy allows, which this file pins)

  READ ONLY (other spellings of the format, and what Parity must refuse):
    np_v2_f32_2.npy       float32 [1, 2] as format 2.0 (np.lib.format.write_array(version=(2, 0)))
    np_v3_f32_2.npy       the same as format 3.0
    np_v2_long_header.npy float32 [1, 2, 3] as format 2.0 whose header is 70,068 bytes (> 65,535, so it
                          cannot be 1.0): NumPy's own header wrapper (_wrap_header) around the
                          dict and 70,000 spaces (numpy.lib._format_impl in NumPy 2); np.load reads it given max_header_size
    np_f32_big_endian.npy float32 [1.5, -2] stored big-endian ('>f4'): Parity refuses it by name
    np_i64_big_endian.npy int64 [1, -2] stored big-endian ('>i8')

The second form runs the given test binary's NpyNumPy tests with PARITY_NPY_EXPORT_DIR set, so that it
saves its own file for each WRITTEN fixture, then loads each with np.load and checks its dtype, shape
and every value's bits against the array above. Exit status 1 names what differs.
"""
import argparse
import io
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "data", "npy")

inf, nan = np.inf, np.nan
f32_max, f64_max = np.finfo(np.float32).max, np.finfo(np.float64).max

WRITTEN = {
    "np_f32_2x4.npy": np.array([[0.0, -0.0, 1.5, 1e-45], [inf, -inf, nan, -f32_max]], dtype=np.float32),
    "np_f64_5.npy": np.array([0.1, -2.5, nan, 5e-324, f64_max], dtype=np.float64),
    "np_f64_1.npy": np.array([3.0], dtype=np.float64),
    "np_i32_2x2x2.npy": np.array([[[-(2**31), 2**31 - 1], [0, -1]], [[1, 2], [3, 4]]], dtype=np.int32),
    "np_i64_scalar.npy": np.array(-(2**63 - 1), dtype=np.int64),
    "np_u8_3x1.npy": np.array([[0], [7], [255]], dtype=np.uint8),
    "np_bool_2x3.npy": np.array([[True, False, True], [False, False, True]]),
    "np_f32_0x4.npy": np.zeros((0, 4), dtype=np.float32),
    "np_u8_8d.npy": np.arange(12, dtype=np.uint8).reshape(1, 2, 1, 3, 1, 2, 1, 1),
    "np_u8_widest.npy": np.empty((0, 0, 0, 0, 0, 0, 0, 2**63 - 1), dtype=np.uint8),
}


def version_file(array, version):
    f = io.BytesIO()
    np.lib.format.write_array(f, array, version=version)
    return f.getvalue()


def long_header_file(array):
    d = np.lib.format.header_data_from_array_1_0(array)
    header = "{" + "".join(f"'{k}': {v!r}, " for k, v in sorted(d.items())) + "}" + " " * 70000
    try:  # NumPy 2 keeps the implementation in a private module
        from numpy.lib._format_impl import _wrap_header
    except ImportError:
        from numpy.lib.format import _wrap_header
    return _wrap_header(header, (2, 0)) + array.tobytes()


def read_only():
    two = np.array([1, 2], dtype=np.float32)
    return {
        "np_v2_f32_2.npy": version_file(two, (2, 0)),
        "np_v3_f32_2.npy": version_file(two, (3, 0)),
        "np_v2_long_header.npy": long_header_file(np.array([1, 2, 3], dtype=np.float32)),
        "np_f32_big_endian.npy": saved(np.array([1.5, -2], dtype=">f4")),
        "np_i64_big_endian.npy": saved(np.array([1, -2], dtype=">i8")),
    }


def saved(array):
    f = io.BytesIO()
    np.save(f, array)
    return f.getvalue()


def same(a, b):
    """Same dtype, shape and bytes (NaN payloads included)."""
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def write():
    os.makedirs(OUT, exist_ok=True)
    files = {name: saved(array) for name, array in WRITTEN.items()}
    files.update(read_only())
    for name, data in files.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    # Each file reads back as written (the long header needs NumPy's limit raised).
    for name, array in WRITTEN.items():
        assert same(np.load(os.path.join(OUT, name)), array), name
    long = np.load(os.path.join(OUT, "np_v2_long_header.npy"), max_header_size=10**6)
    assert same(long, np.array([1, 2, 3], dtype=np.float32))
    print(f"wrote {len(files)} files to {os.path.normpath(OUT)}")


def check(binary):
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, PARITY_NPY_EXPORT_DIR=tmp)
        run = subprocess.run([binary, "--gtest_filter=NpyNumPy.*"], env=env, capture_output=True, text=True)
        if run.returncode != 0:
            print(run.stdout[-4000:], run.stderr[-4000:])
            failures.append(f"{binary} failed (exit {run.returncode})")
        for name, want in WRITTEN.items():
            path = os.path.join(tmp, name)
            if not os.path.exists(path):
                failures.append(f"{name}: Parity wrote no file")
                continue
            got = np.load(path)  # NumPy's own reader, its default limits
            if not same(got, want):
                failures.append(f"{name}: NumPy reads {got.dtype} {got.shape} {got.ravel()[:8]}, "
                                f"expected {want.dtype} {want.shape} {want.ravel()[:8]}")
            with open(path, "rb") as f, open(os.path.join(OUT, name), "rb") as g:
                if f.read() != g.read():
                    failures.append(f"{name}: Parity's bytes differ from NumPy's")
    for failure in failures:
        print("FAIL", failure)
    if failures:
        return 1
    print(f"NumPy {np.__version__} read all {len(WRITTEN)} files Parity wrote, every value and byte as NumPy's")
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", metavar="TEST_IO_NPY", help="the test_io_npy binary whose files NumPy loads")
    args = parser.parse_args()
    if args.check:
        return check(args.check)
    write()
    return 0


if __name__ == "__main__":
    sys.exit(main())
