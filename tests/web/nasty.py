"""Hostile uploads, generated: decoding bombs, and mutations of small valid images for fuzzing.

Shared by the regression tests, the property-based fuzz test and ``benchmarks/fuzz_decode.py``.
"""

import struct
import zlib
from collections.abc import Sequence

import cv2
import numpy as np

from realtime_fer import demo

# mutation kinds: (kind, position as a fraction of the length, a byte value)
MUTATIONS = ("flip", "set", "insert", "delete", "truncate", "repeat")


def encode(image: np.ndarray, ext: str, *params: int) -> bytes:
    ok, data = cv2.imencode(ext, image, list(params))
    assert ok, ext
    return data.tobytes()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def grey_png(width: int, height: int, rows: bytes) -> bytes:
    """A well-formed 8-bit grey PNG whose IDAT is ``rows`` (filter byte + pixels per row) deflated."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(rows, 9)) + png_chunk(b"IEND", b"")
    )


def scan_bomb(side: int = 5000, repeats: int = 1000) -> bytes:
    """The issue's CPU bomb: a flat progressive JPEG whose last refinement scan is repeated.

    At 5000x5000 and 1,000 copies it is ~189 KB and took ~21 s of CPU to decode.
    """
    jpeg = encode(np.full((side, side, 3), 128, np.uint8), ".jpg", cv2.IMWRITE_JPEG_PROGRESSIVE, 1)
    end = jpeg.rindex(b"\xff\xd9")
    last_scan = jpeg[jpeg.rindex(b"\xff\xda") : end]
    return jpeg[:end] + last_scan * (repeats - 1) + jpeg[end:]


def pixel_bombs(side: int = 5000) -> dict[str, bytes]:
    """A few kilobytes each that decode to ``side`` x ``side`` pixels (~75 MB of BGR each)."""
    flat = np.full((side, side, 3), 128, np.uint8)
    jpeg = encode(np.zeros((side, side, 3), np.uint8), ".jpg")
    cut = jpeg[: 4096] + b"\xff\xd9"  # libjpeg fills the missing scan data with grey
    return {
        "webp": encode(flat, ".webp"),
        "png": grey_png(side, side, bytes((side + 1) * side)),
        "cut-jpeg": cut,
    }


def seed_images() -> list[bytes]:
    """Small valid uploads of each format (and a progressive JPEG) for mutation."""
    _, face = demo.demo_faces()[6]
    image = cv2.cvtColor(cv2.resize(face, (64, 64)), cv2.COLOR_GRAY2BGR)
    return [
        encode(image, ".jpg"),
        encode(image, ".jpg", cv2.IMWRITE_JPEG_PROGRESSIVE, 1),
        encode(image, ".png"),
        encode(image, ".webp", cv2.IMWRITE_WEBP_QUALITY, 80),  # lossy (VP8)
        encode(image, ".webp", cv2.IMWRITE_WEBP_QUALITY, 101),  # lossless (VP8L)
    ]


def mutate(data: bytes, edits: Sequence[tuple[str, float, int]]) -> bytes:
    """``data`` with each edit applied in turn: a kind from :data:`MUTATIONS`, where (0..1 of the
    length) and a byte value (also the repeat count)."""
    out = bytearray(data)
    for kind, where, value in edits:
        pos = min(int(where * len(out)), max(len(out) - 1, 0))
        if kind == "truncate":
            del out[pos:]
        elif not out:
            out.append(value)
        elif kind == "flip":
            out[pos] ^= 1 << (value % 8)
        elif kind == "set":
            out[pos] = value
        elif kind == "insert":
            out.insert(pos, value)
        elif kind == "delete":
            del out[pos]
        elif kind == "repeat":  # a slice copied in place many times, as the scan bomb does
            piece = out[pos : pos + 64]
            out[pos:pos] = piece * (value % 32)
        else:
            raise ValueError(f"unknown mutation {kind!r}")
    return bytes(out)
