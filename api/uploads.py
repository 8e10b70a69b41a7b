"""Request bodies read as they stream in: the multipart file of an upload, and small JSON bodies.

Both are counted against their limit while they arrive, so an oversized body is refused after
about that many bytes, never after spooling all of it.
"""

from __future__ import annotations

from collections.abc import Callable

import anyio
import anyio.from_thread
from fastapi import Request
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from api.errors import ApiError, MissingFileField, UploadIncomplete
from gpu_jobs.ingest import UploadTooLarge

MULTIPART_OVERHEAD = 1024 * 1024  # part headers and small fields on top of the file itself
JSON_BODY_LIMIT = 64 * 1024
MAX_PART_HEADER = 16 * 1024  # one multipart header line; real ones are a few hundred bytes
FILE_FIELD = "file"
TEXT_FIELDS = ("camera", "recorded_at")  # small text fields read beside the file (each at most MAX_TEXT_FIELD bytes)
MAX_TEXT_FIELD = 400


class MultipartFileStream:
    """The file field of a multipart/form-data body, parsed while the body streams in.

    `pull()` returns the next body chunk (b"" or None at the end). Nothing is buffered beyond
    one chunk, and the whole body is counted as it arrives against `max_file_bytes` plus
    MULTIPART_OVERHEAD, so an oversized upload is refused after about that many bytes, never
    after spooling all of it. Reads return the file's bytes; other fields are skipped.

    Example:
        stream = MultipartFileStream(chunks.__next__, b"xyz", max_file_bytes=2 * 1024**3)
        filename = stream.open()  # reads up to the file part's headers
        ingest_stream(app, stream, filename)
    """

    def __init__(self, pull: Callable[[], bytes | None], boundary: bytes, *, max_file_bytes: int) -> None:
        self._pull = pull
        self._max_file = max_file_bytes
        self._max = max_file_bytes + MULTIPART_OVERHEAD
        self._received = 0
        self._buffer = bytearray()
        self._header_name = b""
        self._header_value = b""
        self._disposition = b""
        self._in_file = False
        self._file_done = False
        self._body_done = False
        self.filename: str | None = None
        self.fields: dict[str, str] = {}  # TEXT_FIELDS seen so far (before the file: known at open())
        self._text_field: str | None = None
        self._text = bytearray()
        self._parser = MultipartParser(boundary, {
            "on_part_begin": self._on_part_begin,
            "on_part_data": self._on_part_data,
            "on_part_end": self._on_part_end,
            "on_header_field": self._on_header_field,
            "on_header_value": self._on_header_value,
            "on_header_end": self._on_header_end,
            "on_headers_finished": self._on_headers_finished,
            "on_end": self._on_end,
        })

    # -- parser callbacks
    def _on_part_begin(self) -> None:
        self._disposition = b""

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]
        self._check_header()

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]
        self._check_header()

    def _check_header(self) -> None:
        # header bytes are buffered, so bound them: the body limit alone would allow gigabytes
        if len(self._header_name) + len(self._header_value) > MAX_PART_HEADER:
            raise UploadIncomplete("A multipart part header is too long.")

    def _on_header_end(self) -> None:
        if self._header_name.lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header_name, self._header_value = b"", b""

    def _on_headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        # the first part named "file" is the video; later ones and other fields are ignored
        if options.get(b"name") == FILE_FIELD.encode() and self.filename is None:
            self._in_file = True
            self.filename = options.get(b"filename", b"upload").decode("utf-8", "replace") or "upload"
        else:
            name = options.get(b"name", b"").decode("utf-8", "replace")
            self._text_field = name if name in TEXT_FIELDS and b"filename" not in options else None
            self._text = bytearray()

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self._buffer += data[start:end]
        elif self._text_field is not None:
            self._text += data[start:end]
            if len(self._text) > MAX_TEXT_FIELD:
                raise UploadIncomplete(f"The multipart field '{self._text_field}' is longer than "
                                       f"{MAX_TEXT_FIELD} bytes.")

    def _on_part_end(self) -> None:
        if self._in_file:
            self._in_file, self._file_done = False, True
        elif self._text_field is not None:
            self.fields[self._text_field] = self._text.decode("utf-8", "replace")
            self._text_field = None

    def _on_end(self) -> None:
        self._body_done = True

    # -- reading
    def _feed(self) -> bool:
        """Parse one more chunk of the body; False at its end."""
        chunk = self._pull()
        self._received += len(chunk or b"")
        if self._received > self._max:
            raise UploadTooLarge(too_large_message(self._max_file))
        try:
            if chunk:
                self._parser.write(chunk)
            else:
                self._parser.finalize()
        except FormParserError as exc:
            raise UploadIncomplete("The multipart body is malformed; send the video as the 'file' field.") from exc
        if not chunk and not self._body_done:
            raise UploadIncomplete("The multipart body ended before its closing boundary; send it again.")
        return bool(chunk)

    def open(self) -> str:
        """Read up to the file part's headers and return its file name."""
        while self.filename is None:
            if self._body_done or not self._feed():
                raise MissingFileField(f"Send the video as a multipart file field named '{FILE_FIELD}'.")
        return self.filename

    def read(self, size: int = -1) -> bytes:
        """Up to `size` bytes of the file (all that is buffered when -1); b"" at its end."""
        while not self._buffer and not self._file_done:
            if not self._feed():
                break
        n = len(self._buffer) if size is None or size < 0 else min(size, len(self._buffer))
        data = bytes(self._buffer[:n])
        del self._buffer[:n]
        return data


def body_puller(request: Request) -> Callable[[], bytes | None]:
    """A blocking `pull()` for a worker thread: the next chunk of the request body, None at the end."""
    chunks = request.stream().__aiter__()

    async def next_chunk() -> bytes | None:
        try:
            return await chunks.__anext__()
        except StopAsyncIteration:
            return None

    return lambda: anyio.from_thread.run(next_chunk)


def too_large_message(max_file_bytes: int) -> str:
    return f"The upload is larger than the {max_file_bytes // (1024 * 1024)} MB limit (SENTINEL_MAX_UPLOAD_MB)."


def check_content_length(request: Request, max_bytes: int, message: str) -> None:
    """Refuse at once what announces itself as too large (the stream is counted as well)."""
    try:
        declared = int(request.headers.get("content-length", "0"))
    except ValueError:
        raise ApiError(400, "bad_request", "The Content-Length header is not a number.") from None
    if declared > max_bytes:
        raise ApiError(413, "upload_too_large", message)


async def read_small_body(request: Request, max_bytes: int) -> bytes:
    """The whole body, refused with 413 once it passes `max_bytes`."""
    message = f"A JSON body is limited to {max_bytes // 1024} KB."
    check_content_length(request, max_bytes, message)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise ApiError(413, "upload_too_large", message)
    return bytes(body)
