"""Read a `multipart/form-data` upload as it arrives, handing the file's bytes on without keeping them.

Starlette's `request.form()` spools the file (to memory, then a temporary file) and the route
then read it whole into memory: 8 parallel 100 MB uploads took the server to 1.9 GB RSS. Here the
body is gathered into chunks of about `FLUSH_BYTES`, and each chunk is parsed by python-multipart
and its file bytes passed to `write` in a worker thread (parsing, hashing and disk writes stay off
the event loop), so an upload holds about two chunks of memory whatever its size. Other form
fields (`purpose`) are small and kept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import anyio.to_thread
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, MultipartState, parse_options_header
from starlette.requests import Request

from rigshift.errors import InputError

FLUSH_BYTES = 1024 * 1024
MAX_FIELD_BYTES = 1024  # a form field other than the file (`purpose` is a few bytes)
MAX_FIELDS = 4
FILE_FIELD = "file"


@dataclass
class Form:
    fields: dict[str, str] = field(default_factory=dict)
    filename: str | None = None  # None: the form had no file part


@dataclass
class _Reader:
    write_later: bytearray = field(default_factory=bytearray)
    form: Form = field(default_factory=Form)
    header_field: bytearray = field(default_factory=bytearray)
    header_value: bytearray = field(default_factory=bytearray)
    headers: dict[bytes, bytes] = field(default_factory=dict)
    name: str = ""
    in_file: bool = False
    value: bytearray = field(default_factory=bytearray)

    def on_part_begin(self) -> None:
        self.headers = {}
        self.value = bytearray()
        self.in_file = False

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        self.headers[bytes(self.header_field).lower()] = bytes(self.header_value)
        self.header_field = bytearray()
        self.header_value = bytearray()

    def on_headers_finished(self) -> None:
        _kind, options = parse_options_header(self.headers.get(b"content-disposition", b""))
        self.name = options.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" not in options:
            if len(self.form.fields) >= MAX_FIELDS:
                raise InputError("the form has too many fields", field="form", expected="file and purpose")
            return
        if self.name != FILE_FIELD or self.form.filename is not None:
            raise InputError(
                f"unexpected file part {self.name!r}",
                field="file",
                expected="one file, in a part named 'file'",
            )
        self.in_file = True
        self.form.filename = options[b"filename"].decode("utf-8", "replace")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.in_file:
            self.write_later += data[start:end]
            return
        self.value += data[start:end]
        if len(self.value) > MAX_FIELD_BYTES:
            raise InputError(
                f"form field {self.name!r} is longer than {MAX_FIELD_BYTES} bytes", field=self.name or "form"
            )

    def on_part_end(self) -> None:
        if not self.in_file:
            self.form.fields[self.name] = self.value.decode("utf-8", "replace")


async def read_upload(request: Request, write: Callable[[bytes], None]) -> Form:
    """Parse the request's multipart body; the file part's bytes go to `write` (called in a worker
    thread, in order, in chunks of about `FLUSH_BYTES`). Refusals are `InputError`s (400)."""
    kind, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise InputError("upload the file as multipart/form-data", field="file", expected="multipart form")
    reader = _Reader()
    callbacks = {
        name: getattr(reader, name)
        for name in (
            "on_part_begin",
            "on_part_data",
            "on_part_end",
            "on_header_field",
            "on_header_value",
            "on_header_end",
            "on_headers_finished",
        )
    }
    parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]

    def feed(raw: bytes) -> None:
        """Parse `raw` and write the file bytes it held (in a worker thread: no parsing, hashing
        or disk writes on the event loop)."""
        parser.write(raw)
        if reader.write_later:
            ready, reader.write_later = bytes(reader.write_later), bytearray()
            write(ready)

    received = bytearray()
    try:
        async for chunk in request.stream():
            received += chunk
            if len(received) >= FLUSH_BYTES:
                raw, received = bytes(received), bytearray()
                await anyio.to_thread.run_sync(feed, raw)
        await anyio.to_thread.run_sync(feed, bytes(received))
    except MultipartParseError as error:
        raise InputError(f"the multipart body is malformed: {error}", field="file") from None
    # python-multipart's `finalize` checks nothing: a body cut off before its closing boundary
    # would otherwise store the first part of a file as if it were all of it.
    if parser.state != MultipartState.END:
        raise InputError("the multipart body ended before its closing boundary", field="file")
    return reader.form
