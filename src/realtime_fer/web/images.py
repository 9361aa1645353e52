"""Uploaded image bytes to a BGR frame, refusing anything broken or oversized before decoding.

OpenCV decodes a truncated JPEG into a partly grey picture without complaint, and allocates
whatever a header claims (a few hundred bytes can announce gigapixels), so each upload is checked
first: the format is sniffed from its magic bytes, its dimensions are read from the header and
capped, and the file must be complete (a JPEG's end-of-image marker after its scan data, a PNG's
IEND chunk, a WebP's full RIFF length).

Two kinds of upload cost far more to decode than their size suggests, and both are refused before
decoding: a progressive JPEG whose scans are repeated (each scan is another pass over every
coefficient: 1,000 copies of a 40-byte scan make a 190 KB file that takes ~20 s of CPU), and a
few kilobytes that claim tens of megapixels (a bomb for memory, and no photo compresses that well).
"""

import re
import struct
from typing import NamedTuple

import cv2
import numpy as np

FORMATS = ("JPEG", "PNG", "WebP")
# No photo of a face is a hundred times wider than tall; such strips also break the detector's
# downscaling (a 3000x4 image shrinks to zero rows), so they are refused up front.
MAX_ASPECT = 100
# Encoders write up to ~10 scans for a progressive colour JPEG (libjpeg's script: 10; grey: 6),
# and a baseline one has one scan per component at most; each scan costs a pass over the image.
MAX_JPEG_SCANS = 64
# Above this many pixels an upload must carry at least one byte per MAX_PIXELS_PER_BYTE pixels:
# a flat grey 25-megapixel picture is ~150 KB as a progressive JPEG (170 pixels a byte), a camera
# photo is nearer 10; 24 KB claiming 5000x5000 (1,000 a byte) is a memory bomb with nothing to see.
BOMB_MIN_PIXELS = 2**22
MAX_PIXELS_PER_BYTE = 256
# a marker after entropy-coded data: FF followed by anything but a stuffed 00, a restart marker
# (D0-D7) or another fill FF
_JPEG_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")


class ImageError(ValueError):
    """An upload that cannot be used; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def sniff(data: bytes) -> str | None:
    """The format's name from its magic bytes, or ``None`` when it is none of :data:`FORMATS`."""
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    return None


class Header(NamedTuple):
    kind: str
    width: int
    height: int


def header_size(data: bytes) -> Header:
    """``(format, width, height)`` from the header, after checking that the file is complete."""
    if not data:
        raise ImageError("empty body: no image was sent")
    kind = sniff(data)
    if kind is None:
        raise ImageError(f"not an image: expected {', '.join(FORMATS)} data")
    try:
        width, height = {"JPEG": _jpeg_size, "PNG": _png_size, "WebP": _webp_size}[kind](data)
    except (struct.error, IndexError):  # a header cut short
        raise ImageError(f"truncated {kind}: the header is incomplete") from None
    if width <= 0 or height <= 0:
        raise ImageError(f"invalid {kind}: the header says {width}x{height} pixels")
    return Header(kind, width, height)


def check(data: bytes, max_pixels: int) -> Header:
    """The header of an upload that is safe to decode, or :class:`ImageError` saying why not.

    Cheap (no pixel is decoded): a refused upload costs its slot for a moment only.
    """
    kind, width, height = header = header_size(data)
    pixels = width * height
    if pixels > max_pixels:
        raise ImageError(
            f"image too large: {width}x{height} pixels, the limit is {max_pixels:,} pixels", 413
        )
    if max(width, height) > MAX_ASPECT * min(width, height):
        raise ImageError(f"implausible shape: {width}x{height} pixels (more than {MAX_ASPECT}:1)")
    if pixels > BOMB_MIN_PIXELS and pixels > MAX_PIXELS_PER_BYTE * len(data):
        raise ImageError(
            f"implausible {kind}: {width}x{height} pixels from {len(data):,} bytes (at most "
            f"{MAX_PIXELS_PER_BYTE} pixels a byte above {BOMB_MIN_PIXELS:,} pixels)", 413
        )
    return header


def decode(data: bytes, max_pixels: int) -> np.ndarray:
    """A uint8 BGR frame from JPEG/PNG/WebP bytes, or :class:`ImageError` saying what is wrong."""
    return decode_checked(data, check(data, max_pixels))


def decode_checked(data: bytes, header: Header) -> np.ndarray:
    """Decode an upload whose ``header`` :func:`check` has passed."""
    try:
        frame = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    except cv2.error:  # e.g. OpenCV's own pixel limit, or a corrupt stream it refuses
        frame = None
    if frame is None or frame.size == 0:
        raise ImageError(f"corrupt {header.kind}: it could not be decoded")
    return frame


def _jpeg_size(data: bytes) -> tuple[int, int]:
    """Walk every segment and scan up to the end-of-image marker (FFD9), counting the scans.

    Entropy-coded data never holds a marker (an FF byte there is stuffed as FF00, or starts a
    restart marker), so the next marker after a scan is found by a search, and segments such as an
    EXIF thumbnail are skipped by their length. Reaching FFD9 means the file was not cut short;
    bytes after it are tolerated, as decoders do.
    """
    size = None
    scans = 0
    pos = 2
    while True:
        if pos + 2 > len(data):
            raise ImageError("truncated JPEG: it ends before the image data")
        if data[pos] != 0xFF:
            raise ImageError("corrupt JPEG: a segment marker is missing")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # markers without a length
            pos += 2
            continue
        if marker == 0xD9:
            if scans == 0:
                raise ImageError("corrupt JPEG: it ends before any image data")
            return size
        if pos + 4 > len(data):
            raise ImageError("truncated JPEG: it ends before the image data")
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        end = pos + 2 + length
        if length < 2 or end > len(data):
            raise ImageError("truncated JPEG: a header segment is cut short")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # start of frame
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            size = (width, height)
        if marker == 0xDA:  # start of scan: its entropy-coded data runs to the next marker
            if size is None:
                raise ImageError("corrupt JPEG: no frame header before the image data")
            scans += 1
            if scans > MAX_JPEG_SCANS:
                raise ImageError(f"refused JPEG: more than {MAX_JPEG_SCANS} scans (a decoding bomb?)", 413)
            found = _JPEG_MARKER.search(data, end)
            if found is None:
                raise ImageError("truncated JPEG: the end-of-image marker is missing")
            end = found.start()
        pos = end


def _png_size(data: bytes) -> tuple[int, int]:
    """IHDR's size; every chunk's length must fit, up to the IEND chunk."""
    if data[12:16] != b"IHDR":
        raise ImageError("corrupt PNG: the first chunk is not IHDR")
    width, height = struct.unpack(">II", data[16:24])
    pos = 8
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        pos += 12 + length  # length, type, data, CRC
        if pos > len(data):
            break
        if kind == b"IEND":
            return width, height
    raise ImageError("truncated PNG: the IEND chunk is missing")


def _webp_size(data: bytes) -> tuple[int, int]:
    """The canvas size of a lossy (VP8), lossless (VP8L) or extended (VP8X) WebP."""
    (riff_size,) = struct.unpack("<I", data[4:8])
    if 8 + riff_size > len(data):
        raise ImageError("truncated WebP: shorter than its RIFF header says")
    chunk = data[12:16]
    if chunk == b"VP8 ":
        if data[23:26] != b"\x9d\x01\x2a":
            raise ImageError("corrupt WebP: bad VP8 frame header")
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L":
        if data[20] != 0x2F:
            raise ImageError("corrupt WebP: bad VP8L signature")
        (bits,) = struct.unpack("<I", data[21:25])
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return width, height
    raise ImageError(f"corrupt WebP: unknown chunk {chunk!r}")
