"""The API's JSON body parser: what it cannot read is a 4xx with a sentence, never a 500."""

import re

from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser
from rest_framework.utils import json

# A UTF-16 surrogate standing alone (JSON can spell one, "\ud800"): not a character of any text.
LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class RequestTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is larger than the server accepts."
    default_code = "request_too_large"


def too_large() -> RequestTooLarge:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return RequestTooLarge(
        f"The request body is larger than the {limit:,} bytes the server accepts (DATA_UPLOAD_MAX_MEMORY_SIZE); "
        "a report request holds only as_of, method, columns and owner."
    )


class BoundedJSONParser(JSONParser):
    """DRF's JSON parser, bounded: a body over DATA_UPLOAD_MAX_MEMORY_SIZE is a 413 read no further,
    and a body that is not UTF-8, nests too deeply or holds lone surrogates is a 400."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        request = (parser_context or {}).get("request")
        if limit is not None and request is not None and _declared_length(request) > limit:
            raise too_large()
        raw = stream.read() if limit is None else stream.read(limit + 1)
        if limit is not None and len(raw) > limit:
            raise too_large()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ParseError(
                f"JSON parse error - the body is not UTF-8 text (byte {error.start + 1}): send JSON encoded as UTF-8."
            ) from None
        try:
            data = json.loads(text) if self.strict else json.loads(text, parse_constant=None)
        except RecursionError:
            raise ParseError("JSON parse error - arrays or objects are nested too deeply to read.") from None
        except ValueError as error:
            raise ParseError(f"JSON parse error - {error}") from None
        if holds_lone_surrogate(data):
            raise ParseError(
                "JSON parse error - a string holds a lone UTF-16 surrogate (such as \\ud800), which is not text."
            )
        return data


def holds_lone_surrogate(data: object) -> bool:
    """Whether any string (key or value) anywhere in parsed JSON holds a lone surrogate."""
    pending = [data]  # a loop, not recursion: the data may nest as deep as the parser allowed
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if not item.isascii() and LONE_SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def _declared_length(request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0
