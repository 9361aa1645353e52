"""The ``image`` file of a multipart/form-data body, read from memory.

Werkzeug's form parser drops a part whose headers are not UTF-8 (a filename in Latin-1 from an old
client or a script, say), and a valid upload then looks absent. Here part headers are read as
Latin-1, which cannot fail, and only the field's name matters.
"""

from werkzeug.datastructures import Headers
from werkzeug.sansio.multipart import Data, Epilogue, File, MultipartDecoder, NeedData


class _LenientDecoder(MultipartDecoder):
    def _parse_headers(self, data: bytes | bytearray) -> Headers:
        # every byte is a Latin-1 character, and the re-encoded text is valid UTF-8
        return super()._parse_headers(bytes(data).decode("latin-1").encode("utf-8"))


def file_part(body: bytes, boundary: str, name: str) -> bytes | None:
    """The content of the first file part called ``name``, or None (none there, or a malformed body)."""
    decoder = _LenientDecoder(boundary.encode("latin-1"))
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
    except ValueError:  # not multipart at all, or cut short
        return None
    return None
