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
What a decoder allocates is counted in bytes, not pixels: width x height x channels x bytes a
sample, as the header says (a 16-bit RGBA PNG decodes to 8 bytes a pixel, and OpenCV converts to
BGR only after decoding all of it), at least the 3 bytes a pixel of the BGR frame made from it.
TIFF is not accepted at all.
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
# Above this many decoded bytes an upload must carry at least one byte per MAX_DECODED_PER_BYTE
# decoded: a flat grey 25-megapixel picture is ~150 KB as a progressive JPEG (170 pixels, 510
# decoded bytes, a byte), a camera photo is nearer 10 pixels; 24 KB claiming 5000x5000 (1,000
# pixels a byte) is a memory bomb with nothing to see, and so is 194 KB of 16-bit RGBA at that size.
BOMB_MIN_BYTES = 3 * 2**22  # 4 megapixels of 8-bit BGR
MAX_DECODED_PER_BYTE = 3 * 256  # 256 pixels of 8-bit BGR
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
    channels: int = 3  # samples a pixel, as stored (grey 1, grey+alpha 2, colour 3, with alpha 4)
    sample_bytes: int = 1  # 2 for 16-bit PNG and 12-bit JPEG

    @property
    def decoded_bytes(self) -> int:
        """What decoding it allocates: its own samples, and at least a BGR frame of 8-bit ones."""
        return self.width * self.height * max(3, self.channels) * self.sample_bytes


def header_size(data: bytes) -> Header:
    """The format, size and samples from the header, after checking that the file is complete."""
    if not data:
        raise ImageError("empty body: no image was sent")
    kind = sniff(data)
    if kind is None:
        raise ImageError(f"not an image: expected {', '.join(FORMATS)} data")
    try:
        width, height, channels, sample_bytes = {
            "JPEG": _jpeg_size, "PNG": _png_size, "WebP": _webp_size
        }[kind](data)
    except (struct.error, IndexError):  # a header cut short
        raise ImageError(f"truncated {kind}: the header is incomplete") from None
    if width <= 0 or height <= 0:
        raise ImageError(f"invalid {kind}: the header says {width}x{height} pixels")
    return Header(kind, width, height, channels, sample_bytes)


def check(data: bytes, max_pixels: int) -> Header:
    """The header of an upload that is safe to decode, or :class:`ImageError` saying why not.

    Cheap (no pixel is decoded), so a raw upload is checked before it waits for a decoding slot.
    """
    header = header_size(data)
    kind, width, height = header[:3]
    decoded = header.decoded_bytes
    pixels = width * height
    if pixels > max_pixels:
        raise ImageError(
            f"image too large: {width}x{height} pixels, the limit is {max_pixels:,} pixels", 413
        )
    if max(width, height) > MAX_ASPECT * min(width, height):
        raise ImageError(f"implausible shape: {width}x{height} pixels (more than {MAX_ASPECT}:1)")
    if decoded > BOMB_MIN_BYTES and decoded > MAX_DECODED_PER_BYTE * len(data):
        raise ImageError(
            f"implausible {kind}: {width}x{height} pixels from {len(data):,} bytes would decode to "
            f"{decoded:,} bytes (at most {MAX_DECODED_PER_BYTE} a byte above {BOMB_MIN_BYTES:,})", 413
        )
    if decoded > 3 * max_pixels:
        raise ImageError(
            f"image too large: {width}x{height} pixels of {header.channels} {8 * header.sample_bytes}-bit "
            f"channels decode to {decoded:,} bytes, the limit is {3 * max_pixels:,} (8-bit BGR at "
            f"{max_pixels:,} pixels)", 413
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


def _jpeg_size(data: bytes) -> tuple[int, int, int, int]:
    """Walk every segment and scan up to the end-of-image marker (FFD9), counting the scans.

    Entropy-coded data never holds a marker (an FF byte there is stuffed as FF00, or starts a
    restart marker), so the next marker after a scan is found by a search, and segments such as an
    EXIF thumbnail are skipped by their length. Reaching FFD9 means the file was not cut short;
    bytes after it are tolerated, as decoders do.
    """
    size: tuple[int, int, int, int] | None = None
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
            if scans == 0 or size is None:  # a scan needs a frame header before it
                raise ImageError("corrupt JPEG: it ends before any image data")
            return size
        if pos + 4 > len(data):
            raise ImageError("truncated JPEG: it ends before the image data")
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        end = pos + 2 + length
        if length < 2 or end > len(data):
            raise ImageError("truncated JPEG: a header segment is cut short")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # start of frame
            precision, height, width, components = struct.unpack(">BHHB", data[pos + 4 : pos + 10])
            size = (width, height, components, 2 if precision > 8 else 1)
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


# a PNG's colour type to its samples a pixel (a palette expands to colour)
_PNG_CHANNELS = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}


def _png_size(data: bytes) -> tuple[int, int, int, int]:
    """IHDR's size and samples; every chunk's length must fit, up to the IEND chunk."""
    if data[12:16] != b"IHDR":
        raise ImageError("corrupt PNG: the first chunk is not IHDR")
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    if colour not in _PNG_CHANNELS or depth not in (1, 2, 4, 8, 16):
        raise ImageError(f"corrupt PNG: colour type {colour} at bit depth {depth}")
    samples = (width, height, _PNG_CHANNELS[colour], 2 if depth == 16 else 1)
    pos = 8
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        pos += 12 + length  # length, type, data, CRC
        if pos > len(data):
            break
        if kind == b"IEND":
            return samples
    raise ImageError("truncated PNG: the IEND chunk is missing")


def _webp_size(data: bytes) -> tuple[int, int, int, int]:
    """The canvas size of a lossy (VP8), lossless (VP8L) or extended (VP8X) WebP, and its samples
    (8-bit always; 4 where it may hold alpha)."""
    (riff_size,) = struct.unpack("<I", data[4:8])
    if 8 + riff_size > len(data):
        raise ImageError("truncated WebP: shorter than its RIFF header says")
    chunk = data[12:16]
    if chunk == b"VP8 ":
        if data[23:26] != b"\x9d\x01\x2a":
            raise ImageError("corrupt WebP: bad VP8 frame header")
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF, 3, 1
    if chunk == b"VP8L":
        if data[20] != 0x2F:
            raise ImageError("corrupt WebP: bad VP8L signature")
        (bits,) = struct.unpack("<I", data[21:25])
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, 4 if bits >> 28 & 1 else 3, 1
    if chunk == b"VP8X":
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return width, height, 4 if data[20] & 0x10 else 3, 1
    raise ImageError(f"corrupt WebP: unknown chunk {chunk!r}")
