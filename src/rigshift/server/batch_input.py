"""Reading a Batch API input file (JSONL), the way OpenAI's Batch API defines it.

Each line is one request: `{"custom_id": "...", "method": "POST", "url": "/v1/chat/completions",
"body": {...}}`. A batch names one endpoint and every line must target it. A file with any bad
line is refused as a whole, before a single line runs, and every problem is reported with its
line number (OpenAI's `errors.data[].line`), so a customer fixes the file once instead of paying
for half a batch.

Pure: bytes (or the lines of an open file) in, lines or problems out. `iter_batch_lines` yields
them one at a time, so neither validating a 100 MB file nor running it holds its lines in memory.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from rigshift.server.errors import ApiError
from rigshift.server.openai_body import read_fields
from rigshift.server.prompt_tokens import estimate_tokens
from rigshift.server.strict_json import loads_strict

BATCH_ENDPOINTS = {
    "/v1/chat/completions": "chat",
    "/v1/completions": "completions",
    "/v1/embeddings": "embeddings",
}
MAX_LINES = 50_000  # OpenAI's own per-batch limit
DEFAULT_COMPLETION_TOKENS = 256  # a line without max_tokens, for backlog sizing only
MAX_PROBLEMS = 100  # reported per file: the first hundred say enough
MAX_DEPTH = 64  # the gateway's own limit for a request body, plus the line's envelope


@dataclass(frozen=True)
class BatchLine:
    index: int  # 0-based position among the file's requests; output order and checkpoints use it
    custom_id: str
    body: bytes  # the request body as the gateway will forward it (re-serialised, strict JSON)
    model: str
    tokens_estimate: int = 0  # prompt (about 4 bytes a token) + max_tokens: the energy policy's backlog
    line: int = 0  # 1-based line in the file (blank lines count): what errors name


@dataclass(frozen=True)
class LineProblem:
    line: int  # 1-based, as editors number lines
    code: str
    message: str
    param: str | None = None

    def to_openai(self) -> dict[str, object]:
        return {"code": self.code, "message": self.message, "param": self.param, "line": self.line}


def parse_batch_file(content: bytes, endpoint: str) -> tuple[list[BatchLine], list[LineProblem]]:
    """The lines of a batch input file for `endpoint`, or the problems that refuse it."""
    return parse_batch_lines(io.BytesIO(content), endpoint)


def parse_batch_lines(source: Iterable[bytes], endpoint: str) -> tuple[list[BatchLine], list[LineProblem]]:
    """As `parse_batch_file`, from the file's lines as bytes (an open binary file, read lazily)."""
    lines: list[BatchLine] = []
    problems: list[LineProblem] = []
    for item in iter_batch_lines(source, endpoint):
        if isinstance(item, BatchLine):
            lines.append(item)
        elif item.code == "too_many_lines":
            return [], [item]
        elif len(problems) < MAX_PROBLEMS:
            problems.append(item)
    if not lines and not problems:
        problems.append(empty_file())
    return lines, problems


def empty_file() -> LineProblem:
    return LineProblem(1, "empty_file", "the file holds no requests")


def iter_batch_lines(
    source: Iterable[bytes], endpoint: str, *, check_ids: bool = True
) -> Iterator[BatchLine | LineProblem]:
    """Each request line of the file as a `BatchLine`, each bad line as a `LineProblem`, in file
    order; past `MAX_LINES` requests, one `too_many_lines` problem ends it. `check_ids=False` skips
    the duplicate custom_id check (a file checked when its batch was created, read again to run).

    Line by line, so a 100 MB file is never decoded or split in one call: each step is short,
    and the event loop in the server's other thread is not starved of the GIL meanwhile."""
    seen_ids: dict[str, int] = {}
    requests = 0  # non-blank lines, bad ones included: what MAX_LINES counts
    index = 0  # good lines: each one's position among the file's requests

    # Lines end at "\n" (or "\r\n") only, as editors count them (binary files split at b"\n"
    # alone); `str.splitlines` would also break at U+2028 and other separators JSON strings may
    # hold, and shift every line number after them.
    for number, raw_bytes in enumerate(source, start=1):
        try:
            raw = raw_bytes.decode("utf-8").removesuffix("\n").removesuffix("\r")
        except UnicodeDecodeError as error:
            yield LineProblem(number, "invalid_encoding", f"this line is not UTF-8 text: {error.reason}")
            continue
        if not raw.strip():
            continue
        requests += 1
        if requests > MAX_LINES:
            yield LineProblem(number, "too_many_lines", f"a batch holds at most {MAX_LINES} lines")
            return
        try:
            # The gateway's own strict reading: what it would refuse over HTTP is refused here.
            item = loads_strict(raw, max_depth=MAX_DEPTH)
        except ApiError as error:
            yield LineProblem(number, "invalid_json_line", f"this line is not valid JSON: {error.message}")
            continue
        if not isinstance(item, dict):
            yield LineProblem(number, "invalid_request", "each line must be a JSON object")
            continue
        custom_id = item.get("custom_id")
        if not isinstance(custom_id, str) or not custom_id or len(custom_id) > 512:
            yield LineProblem(
                number, "missing_custom_id", "custom_id must be a non-empty string", "custom_id"
            )
            continue
        if check_ids and custom_id in seen_ids:
            yield LineProblem(
                number,
                "duplicate_custom_id",
                f"custom_id {custom_id!r} is already used on line {seen_ids[custom_id]}",
                "custom_id",
            )
            continue
        if check_ids:
            seen_ids[custom_id] = number
        if item.get("method", "POST") != "POST":
            yield LineProblem(number, "invalid_method", "method must be POST", "method")
            continue
        url = item.get("url")
        if url != endpoint:
            yield LineProblem(
                number,
                "mismatched_endpoint",
                f"url {url!r} differs from the batch's endpoint {endpoint!r}",
                "url",
            )
            continue
        body = item.get("body")
        if not isinstance(body, dict):
            yield LineProblem(number, "invalid_request", "body must be a JSON object", "body")
            continue
        try:
            fields = read_fields(body, BATCH_ENDPOINTS[endpoint])
        except ApiError as error:
            yield LineProblem(
                number,
                error.code or "invalid_request",
                error.message,
                f"body.{error.param or ''}".rstrip("."),
            )
            continue
        if fields.stream:
            yield LineProblem(number, "invalid_request", "batch requests cannot stream", "body.stream")
            continue
        tokens = estimate_tokens(body, BATCH_ENDPOINTS[endpoint]) + (
            fields.max_tokens if fields.max_tokens is not None else DEFAULT_COMPLETION_TOKENS
        )
        yield BatchLine(index, custom_id, json.dumps(body).encode(), fields.model, tokens, number)
        index += 1
