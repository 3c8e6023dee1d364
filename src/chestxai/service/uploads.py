"""Read a multipart upload into memory, refusing it as soon as it passes the size limit.

Why not FastAPI's ``UploadFile`` parameter: Starlette spools any upload above 1 MB to a temporary file, and a
radiograph must not land on the server's disk. Here the form is parsed from the request stream with the spool size
raised to the limit (so it stays in memory), the declared ``Content-Length`` is checked before anything is read, and
the stream is cut off the moment it exceeds the limit, so a huge body costs no more than the limit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import PurePath

from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

from chestxai.service.errors import BadRequestError, PayloadTooLargeError, UnsupportedMediaError

FORM_OVERHEAD = 64 * 1024  # multipart boundaries, part headers and the small form fields
MAX_FIELDS = 16


@dataclass
class Upload:
    """The uploaded file's name and bytes, and the form's text fields (repeated fields joined by commas)."""

    filename: str
    data: bytes
    fields: dict[str, str] = field(default_factory=dict)

    def get(self, name: str) -> str | None:
        value = self.fields.get(name)
        return value if value is None or value.strip() else None


def too_large(limit: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(f"the file is larger than the upload limit of {limit / 1024 / 1024:g} MB")


async def _capped(stream: AsyncIterator[bytes], cap: int, limit: int) -> AsyncIterator[bytes]:
    """The request body, cut off with 413 once more than ``cap`` bytes arrived (lying Content-Length, chunked)."""
    seen = 0
    async for chunk in stream:
        seen += len(chunk)
        if seen > cap:
            raise too_large(limit)
        yield chunk


async def read_upload(request: Request, limit: int) -> Upload:
    """The form of ``request`` with its one file (field ``file``), all in memory, at most ``limit`` bytes."""
    if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        raise UnsupportedMediaError("send the image as a multipart/form-data upload in the form field 'file'")
    cap = limit + FORM_OVERHEAD
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise too_large(limit)
    parser = MultiPartParser(request.headers, _capped(request.stream(), cap, limit), max_files=1,
                             max_fields=MAX_FIELDS)
    parser.spool_max_size = cap  # keep the file in memory, never a temporary file on disk
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise BadRequestError(f"malformed upload ({exc.message})") from None
    try:
        file = form.get("file")
        if not isinstance(file, UploadFile):
            raise BadRequestError("no file received: send the image in the form field 'file'")
        data = await file.read()
        fields: dict[str, list[str]] = {}
        for key, value in form.multi_items():
            if isinstance(value, str):
                fields.setdefault(key, []).append(value)
    finally:
        await form.close()
    if len(data) > limit:
        raise too_large(limit)
    name = PurePath((file.filename or "upload").replace("\\", "/")).name[:200] or "upload"
    return Upload(name, data, {key: ",".join(values) for key, values in fields.items()})
