"""Uploaded image bytes to a BGR frame, refusing anything broken or oversized before decoding.

OpenCV decodes a truncated JPEG into a partly grey picture without complaint, and allocates
whatever a header claims (a few hundred bytes can announce gigapixels), so each upload is checked
first: the format is sniffed from its magic bytes, its dimensions are read from the header and
capped, and the file must be complete (a JPEG's end-of-image marker after its scan data, a PNG's
IEND chunk, a WebP's full RIFF length).
"""

import struct

import cv2
import numpy as np

FORMATS = ("JPEG", "PNG", "WebP")
# No photo of a face is a hundred times wider than tall; such strips also break the detector's
# downscaling (a 3000x4 image shrinks to zero rows), so they are refused up front.
MAX_ASPECT = 100


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


def header_size(data: bytes) -> tuple[str, int, int]:
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
    return kind, width, height


def decode(data: bytes, max_pixels: int) -> np.ndarray:
    """A uint8 BGR frame from JPEG/PNG/WebP bytes, or :class:`ImageError` saying what is wrong."""
    kind, width, height = header_size(data)
    if width * height > max_pixels:
        raise ImageError(
            f"image too large: {width}x{height} pixels, the limit is {max_pixels:,} pixels", 413
        )
    if max(width, height) > MAX_ASPECT * min(width, height):
        raise ImageError(f"implausible shape: {width}x{height} pixels (more than {MAX_ASPECT}:1)")
    try:
        frame = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    except cv2.error:  # e.g. OpenCV's own pixel limit, or a corrupt stream it refuses
        frame = None
    if frame is None or frame.size == 0:
        raise ImageError(f"corrupt {kind}: it could not be decoded")
    return frame


def _jpeg_size(data: bytes) -> tuple[int, int]:
    """Walk the segments up to the first scan; the EOI marker (FFD9) must follow the scan data.

    Entropy-coded data never contains FFD9 (an FF byte there is stuffed as FF00), and segments
    such as an EXIF thumbnail are skipped by their length, so finding FFD9 after the scan means
    the file was not cut short. Bytes after EOI are tolerated, as decoders do.
    """
    size = None
    pos = 2
    while True:
        if pos + 4 > len(data):
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
            raise ImageError("corrupt JPEG: it ends before any image data")
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        end = pos + 2 + length
        if length < 2 or end > len(data):
            raise ImageError("truncated JPEG: a header segment is cut short")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # start of frame
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            size = (width, height)
        if marker == 0xDA:  # start of scan: the header is over
            if size is None:
                raise ImageError("corrupt JPEG: no frame header before the image data")
            if data.find(b"\xff\xd9", end) < 0:
                raise ImageError("truncated JPEG: the end-of-image marker is missing")
            return size
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
