"""The decoded-size rule counts bytes (bit depth x channels), not pixels, before anything is decoded."""

import os
import struct

import cv2
import numpy as np
import pytest

from realtime_fer.web import images
from tests.web.nasty import encode, png_chunk

MAX_PIXELS = 25_000_000  # the app's default


def png(width: int, height: int, depth: int, colour: int, size: int) -> bytes:
    """A PNG whose IHDR says ``width`` x ``height`` at ``depth`` bits and ``colour`` type, ``size``
    bytes long (its IDAT is filler: the rule must refuse it from the header alone)."""
    header = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    head = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header)
    tail = png_chunk(b"IEND", b"")
    return head + png_chunk(b"IDAT", os.urandom(size - len(head) - len(tail) - 12)) + tail


def test_a_16_bit_rgba_png_passing_the_pixel_rule_is_refused_for_its_bytes():
    # the file: 194 KB claiming 5000x5000, 129 pixels a byte, 200 MB once decoded
    bomb = png(5000, 5000, 16, 6, 194_000)
    with pytest.raises(images.ImageError, match="5000x5000 pixels from 194,000 bytes") as caught:
        images.check(bomb, MAX_PIXELS)
    assert caught.value.status == 413
    # the same size and pixels in 8-bit colour is within both rules
    assert images.check(png(5000, 5000, 8, 2, 194_000), MAX_PIXELS)[:3] == ("PNG", 5000, 5000)


def test_samples_a_pixel_over_the_cap_are_refused_whatever_the_file_size():
    # 20 MP of 16-bit colour (120 MB decoded) is over the 75 MB of 8-bit BGR at 25 MP
    with pytest.raises(images.ImageError, match="decode to 120,000,000 bytes") as caught:
        images.check(png(5000, 4000, 16, 2, 4_000_000), MAX_PIXELS)
    assert caught.value.status == 413


def test_a_real_16_bit_rgba_png_of_zeros_is_refused_before_decoding(monkeypatch):
    data = encode(np.zeros((2100, 2100, 4), np.uint16), ".png")  # 35 MB decoded from a few KB
    assert images.header_size(data)[3:] == (4, 2)
    monkeypatch.setattr(cv2, "imdecode", lambda *args: pytest.fail("decoded"))
    with pytest.raises(images.ImageError, match="would decode to 35,280,000 bytes"):
        images.decode(data, MAX_PIXELS)


def test_jpeg_and_webp_headers_give_their_samples():
    frame = np.full((64, 48, 3), 99, np.uint8)
    assert images.header_size(encode(frame, ".jpg"))[3:] == (3, 1)
    assert images.header_size(encode(frame[:, :, 0], ".jpg"))[3:] == (1, 1)
    jpeg = bytearray(encode(frame, ".jpg"))
    jpeg[jpeg.index(b"\xff\xc0") + 4] = 12  # a 12-bit JPEG's precision
    assert images.header_size(bytes(jpeg))[3:] == (3, 2)
    lossless_alpha = encode(np.dstack([frame, frame[:, :, :1]]), ".webp", cv2.IMWRITE_WEBP_QUALITY, 101)
    assert images.header_size(lossless_alpha)[1:] == (48, 64, 4, 1)
    assert images.header_size(encode(frame, ".webp"))[3:] == (3, 1)
