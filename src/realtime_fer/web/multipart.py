"""The ``image`` file of a multipart/form-data body, read from memory, with its work bounded.

Werkzeug's form parser drops a part whose headers are not UTF-8 (a filename in Latin-1 from an old
client or a script, say), and a valid upload then looks absent. Here part headers are read as
Latin-1, which cannot fail, and only the field's name matters.

Parsing costs per part, not per byte: 8 MiB of empty parts (164,478 of them) took 8.9 s of CPU.
So the body's boundaries are counted first (one pass in C, milliseconds for the largest body) and a
form of more than :data:`MAX_PARTS` parts, or a part whose headers exceed
:data:`MAX_PART_HEADER_BYTES`, is refused before a single part is parsed.
"""

from werkzeug.datastructures import Headers
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.sansio.multipart import Data, Epilogue, File, MultipartDecoder, NeedData

MAX_PARTS = 16  # a form holding an image and a few fields never needs more
MAX_PART_HEADER_BYTES = 8 * 2**10  # a part's Content-Disposition and Content-Type, with room to spare


class FormError(ValueError):
    """A form too costly to parse; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 413):
        super().__init__(message)
        self.status = status


class _LenientDecoder(MultipartDecoder):
    def _parse_headers(self, data: bytes | bytearray) -> Headers:
        if len(data) > MAX_PART_HEADER_BYTES:
            raise FormError(
                f"refused form: a part's headers are over {MAX_PART_HEADER_BYTES:,} bytes ({len(data):,})"
            )
        # every byte is a Latin-1 character, and the re-encoded text is valid UTF-8
        return super()._parse_headers(bytes(data).decode("latin-1").encode("utf-8"))


def file_part(body: bytes, boundary: str, name: str) -> bytes | None:
    """The content of the first file part called ``name``, or None (none there, or a malformed body);
    :class:`FormError` for a form of too many parts or too long part headers."""
    delimiter = b"--" + boundary.encode("latin-1")
    parts = body.count(delimiter) - 1  # the last delimiter closes the form
    if parts > MAX_PARTS:
        raise FormError(f"refused form: {parts:,} parts, at most {MAX_PARTS} are read")
    decoder = _LenientDecoder(boundary.encode("latin-1"), max_parts=MAX_PARTS)
    decoder.receive_data(body)
    decoder.receive_data(None)  # the whole body is here
    collecting, chunks = False, []
    try:
        while not isinstance(event := decoder.next_event(), Epilogue | NeedData):
            if not isinstance(event, Data):  # the start of a part (or the preamble)
                collecting = isinstance(event, File) and event.name == name
            elif collecting:
                chunks.append(event.data)
                if not event.more_data:
                    return b"".join(chunks)
    except RequestEntityTooLarge:  # more parts than the count saw (it cannot be, but never unbounded)
        raise FormError(f"refused form: more than {MAX_PARTS} parts") from None
    except ValueError as error:  # not multipart at all, or cut short
        if isinstance(error, FormError):
            raise
        return None
    return None
