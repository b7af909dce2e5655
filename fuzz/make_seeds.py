#!/usr/bin/python3
"""make_seeds.py - writes the seed corpora fuzz/corpus/{idx,idx_gz,csv,npy}/.

Run from the repository root (`/usr/bin/python3 fuzz/make_seeds.py`, needs
python3-numpy); deterministic, so rerunning it rewrites the same files.  The
seeds are small valid files of every kind the parsers accept plus one of each
kind of defect they must refuse; the fuzzer mutates from there.  Corpora of
other harnesses (and inputs found by `make fuzz-merge`) are not touched.
"""
import gzip
import io
import os
import struct
import sys

import numpy as np

ROOT = "fuzz/corpus"


def put(harness, name, data):
    d = os.path.join(ROOT, harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def gz(b):
    # mtime 0: the same bytes on every run
    return gzip.compress(b, compresslevel=6, mtime=0)


# ---------------------------------------------------------------- IDX

def idx_images(n, r, c, payload=None, magic=0x803):
    if payload is None:
        payload = bytes((37 * i + 11) % 256 for i in range(n * r * c))
    return struct.pack(">III", magic, n, r) + struct.pack(">I", c) + payload


def idx_labels(labs, magic=0x801, n=None):
    return struct.pack(">II", magic, len(labs) if n is None else n) + bytes(labs)


def idx_input(img, lab, classes=0):
    c = 128 + classes if classes else 0
    return struct.pack("<H", len(img)) + bytes([c]) + img + lab


idx_cases = {
    "small": idx_input(idx_images(3, 2, 2), idx_labels([0, 1, 2])),
    "classes5": idx_input(idx_images(3, 2, 2), idx_labels([0, 4, 2]), classes=5),
    "label-out-of-range": idx_input(idx_images(3, 2, 2), idx_labels([0, 9, 2]), classes=3),
    "labels255": idx_input(idx_images(2, 1, 3), idx_labels([255, 0])),
    "blocks-10k": idx_input(idx_images(100, 10, 10), idx_labels([i % 10 for i in range(100)])),
    "truncated": idx_input(idx_images(3, 2, 2)[:-1], idx_labels([0, 1, 2])),
    "trailing": idx_input(idx_images(3, 2, 2) + b"\x00", idx_labels([0, 1, 2])),
    "count-mismatch": idx_input(idx_images(3, 2, 2), idx_labels([0, 1])),
    "wrong-magic": idx_input(idx_images(3, 2, 2, magic=0x801), idx_labels([0, 1, 2])),
    "float-type": idx_input(idx_images(3, 2, 2, magic=0xD03), idx_labels([0, 1, 2])),
    "zero-rows": idx_input(idx_images(3, 0, 2, payload=b""), idx_labels([0, 1, 2])),
    "huge-16tb": idx_input(idx_images(0x7FFFFFFF, 64, 128, payload=bytes(60)),
                           idx_labels([0] * 10, n=0x7FFFFFFF)),
    "short-header": idx_input(b"\x00\x00\x08\x03\x00\x00\x00\x07\x00\x00", idx_labels([0])),
    "empty": idx_input(b"", b""),
}
for name, data in idx_cases.items():
    put("idx", name, data)
# gzip files as they come: the raw harness sees compressed bytes too
img, lab = idx_images(4, 3, 3), idx_labels([1, 0, 1, 3])
put("idx", "gz-both", idx_input(gz(img), gz(lab)))
put("idx", "gz-images", idx_input(gz(img), lab))
put("idx", "gz-cut", idx_input(gz(img)[:-8], lab))

# fuzz_idx_gz: a control byte, then the same format (the harness compresses)
for name, data in idx_cases.items():
    if name in ("small", "blocks-10k", "truncated", "trailing", "huge-16tb", "labels255"):
        put("idx_gz", name, b"\x03" + data)
put("idx_gz", "images-only", b"\x01" + idx_cases["small"])
put("idx_gz", "labels-only", b"\x02" + idx_cases["classes5"])
put("idx_gz", "cut-trailer", b"\x07" + idx_cases["small"])
put("idx_gz", "flip-crc", b"\xfb" + idx_cases["small"])
put("idx_gz", "flip-data", b"\x8b" + idx_cases["blocks-10k"])
put("idx_gz", "raw", b"\x00" + idx_cases["small"])

# ---------------------------------------------------------------- CSV

csv_cases = {
    "header": "x1,x2,label\n1.5,-2,0\n0.25,3e2,1\n",
    "no-header": "1,2,0\n3,4,1\n5,6,2\n",
    "comments-crlf": "# a comment\r\n\r\n  x , y ,label\r\n1,2,0\r\n   # indented\r\n3,4,1",
    "spaces-tabs": " 1 ,\t2\t, 0 \n-0.0 , 1E2 , 1\n",
    "numbers": "0x1p3,1e-45,-1.5e+10,0\ninf,2,1\n",
    "nan": "1,nan,0\n",
    "huge-float": "1,1e39,0\n",
    "mixed-first-row": "1.5,2..5,0\n3,4,1\n",
    "typo-label": "1,2,O\n3,4,1\n",
    "field-count": "1,2,0\n3,4\n",
    "one-field": "7\n8\n",
    "negative-label": "1,2,-1\n",
    "label-float": "1,2,1.5\n",
    "label-too-large": "1,2,99999999999999999999\n",
    "label-cap": "0.5,0\n1,9999\n",
    "label-over-cap": "0.5,0\n1,4000000\n",
    "only-header": "a,b,c\n",
    "empty-fields": ",,\n1,,0\n",
    "nul": "1,2,0\n1,2\x00,0\n",
    "long-line": ",".join(str(i % 97) + ".5" for i in range(300)) + ",3\n",
}
for name, text in csv_cases.items():
    put("csv", name, text.encode("latin-1"))

# ---------------------------------------------------------------- NPY

def npy(a, version=None, fortran=False):
    b = io.BytesIO()
    if fortran:
        a = np.asfortranarray(a)
    if version is None:
        np.save(b, a)
    else:
        np.lib.format.write_array(b, a, version=version)
    return b.getvalue()


rng = np.random.default_rng(1)
f = rng.standard_normal((4, 3)).astype("<f4")
npy_cases = {
    "f4-2d": npy(f),
    "f8-2d": npy(f.astype("<f8")),
    "f4-fortran": npy(rng.standard_normal((3, 2, 4)).astype("<f4"), fortran=True),
    "f8-fortran": npy(rng.standard_normal((5, 3)), fortran=True),
    "f4-0d": npy(np.float32(2.5)),
    "f4-empty": npy(np.zeros((0, 5), "<f4")),
    "f4-zero-cols": npy(np.zeros((7, 0), "<f4")),
    "f4-4d": npy(rng.standard_normal((2, 1, 3, 3)).astype("<f4")),
    "f4-nan-inf": npy(np.array([np.nan, np.inf, -np.inf, -0.0], "<f4")),
    "i4-labels": npy(np.array([0, 1, 2, 1], "<i4")),
    "i8-labels": npy(np.array([0, 1, 2**40], "<i8")),
    "u1-labels": npy(np.array([0, 255, 3], "|u1")),
    "i1-labels": npy(np.array([0, -1, 3], "|i1")),
    "i2-labels-col": npy(np.array([[0], [1], [2]], "<i2")),
    "u2": npy(np.array([1, 65535], "<u2")),
    "u4": npy(np.array([1, 2**32 - 1], "<u4")),
    "v2": npy(f, version=(2, 0)),
    "v3": npy(f, version=(3, 0)),
    "big-endian": npy(f.astype(">f4")),
    "bool": npy(np.array([True, False])),
    "f2": npy(np.array([1, 2], "<f2")),
    "structured": npy(np.zeros(2, dtype=[("a", "<f4"), ("b", "<i4")])),
    "two-arrays": npy(f) + npy(np.array([1, 2, 3], "<i4")),
    "trailing": npy(f) + b"\x00\x01\x02",
    "truncated": npy(f)[:-3],
}
hdr = npy(np.zeros((2, 3), "<f4"))[:128]
# hand-written headers: python 2 longs, double quotes, a bare (3), huge shapes
def handmade(d, data=b"", version=1):
    d = d.encode()
    pre = 10 if version == 1 else 12
    total = pre + len(d) + 1
    pad = (64 - total % 64) % 64
    h = d + b" " * pad + b"\n"
    lenf = struct.pack("<H", len(h)) if version == 1 else struct.pack("<I", len(h))
    return b"\x93NUMPY" + bytes([version, 0]) + lenf + h + data


npy_cases["py2-long"] = handmade("{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 1L), }",
                                 struct.pack("<2f", 1, 2))
npy_cases["double-quotes"] = handmade('{"descr": "<i4", "fortran_order": False, "shape": (3), }',
                                      struct.pack("<3i", 1, 2, 3))
npy_cases["huge-16tb"] = handmade(
    "{'descr':'<f4','fortran_order':False,'shape':(100000000,40000)}")
npy_cases["overflow"] = handmade(
    "{'descr':'<f8','fortran_order':False,'shape':(4294967296,4294967296)}")
npy_cases["nine-dims"] = handmade(
    "{'descr':'<f4','fortran_order':False,'shape':(1,1,1,1,1,1,1,1,1)}", b"\0" * 4)
npy_cases["zero-big"] = handmade(
    "{'descr':'<f4','fortran_order':True,'shape':(0,9223372036854775807)}")
npy_cases["dup-key"] = handmade("{'descr':'<f4','descr':'<f4','shape':()}", b"\0" * 4)
npy_cases["header-long"] = b"\x93NUMPY\x02\x00\x00\x00\x20\x00" + hdr[10:]
for name, data in npy_cases.items():
    put("npy", name, data)
print("seeds written to", ROOT, file=sys.stderr)
