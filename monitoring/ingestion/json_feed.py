"""A feed sent as JSON (a list of objects) turned into the CSV the feed readers read.

The push API accepts ``[{"store_id": "...", "status": "active", "timestamp_utc": "..."}, ...]``
as well as CSV. Rather than a second set of rules, :class:`JsonFeedConverter` writes every object
as one CSV row (header: the feed's column names), so the same
:class:`~monitoring.ingestion.reading.FeedReader` checks and loads it: object ``i`` (0-based) is
line ``i + 2`` of that CSV, which :func:`index_of_line` maps back.

The JSON is parsed as it arrives (``ijson``, pushed in chunks) and never held whole; a nested
value is skipped event by event, never built. What only JSON can get wrong is refused here with
the object's index and the key: a top level that is not a list, an item that is not an object, a
key the feed does not have or a column given twice or missing, a value that is not a string, a
number or null, a value holding a line break (a CSV row is one line), and invalid JSON.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from typing import TextIO

import ijson

from monitoring.ingestion.feeds import SPECS, Column, Feed

# The header is line 1 of the CSV: object i is on line i + 2.
FIRST_ROW_LINE = 2
LONE_SURROGATE = re.compile("[\ud800-\udfff]")
SCALAR_EVENTS = frozenset({"string", "number", "null"})
EVENT_WORDS = {
    "start_map": "an object",
    "start_array": "a list",
    "boolean": "true or false",
    "string": "a string",
    "number": "a number",
    "null": "null",
}


def index_of_line(line: int | None) -> int | None:
    """The index in the JSON list of the object written on CSV ``line`` (None stays None; the
    header line, which the converter wrote, has no object)."""
    if line is None or line < FIRST_ROW_LINE:
        return None
    return line - FIRST_ROW_LINE


@dataclass(frozen=True)
class JsonProblem:
    """What is wrong with the JSON body: the object's ``index`` in the list (None when the
    problem is the body as a whole), the ``field`` (key), and a sentence."""

    index: int | None
    field: str | None
    message: str


class InvalidJsonFeed(Exception):
    """The JSON body cannot be a feed; ``problems`` lists up to ``max_problems`` reasons."""

    def __init__(self, problems: list[JsonProblem]):
        self.problems = problems
        first = problems[0]
        where = "" if first.index is None else f"object {first.index}: "
        super().__init__(f"{where}{first.message}")


class JsonFeedConverter:
    """Receives a feed's JSON body in chunks (:meth:`send`) and writes its objects to ``out`` as
    CSV rows; :meth:`close` at the end. Raises :class:`InvalidJsonFeed` at the end, or as soon as
    ``max_problems`` problems are found; rows written until then are to be thrown away."""

    def __init__(self, feed: Feed, out: TextIO, *, max_problems: int = 20):
        self.spec = SPECS[feed]
        self.max_problems = max_problems
        self.problems: list[JsonProblem] = []
        self.objects = 0  # objects (items) started so far; the current one is objects - 1
        self._writer = csv.writer(out, lineterminator="\n")
        self._writer.writerow([column.name for column in self.spec.columns])
        self._events = ijson.sendable_list()
        self._parser = ijson.basic_parse_coro(self._events)
        self._depth = 0  # 0: outside the list, 1: in the list, 2: in an object
        self._skipping = 0  # depth inside a nested value being skipped
        self._started = False
        self._finished = False
        self._key: str | None = None
        self._column: Column | None = None
        self._values: dict[str, str] = {}
        self._object_ok = True

    @property
    def keys_text(self) -> str:
        return ", ".join(column.name for column in self.spec.columns)

    def send(self, chunk: bytes) -> None:
        try:
            self._parser.send(chunk)
        except ijson.JSONError as error:
            self._invalid(error)
        self._take_events()

    def close(self) -> None:
        try:
            self._parser.close()
        except ijson.JSONError as error:
            self._invalid(error)
        self._take_events()
        if not self._started and not self.problems:
            self._problem(None, None, "the body holds no JSON value; send a list of objects, one per row")
        if self.problems:
            raise InvalidJsonFeed(self.problems)

    # --- events ---

    def _take_events(self) -> None:
        for event, value in self._events:
            self._event(event, value)
        del self._events[:]

    def _event(self, event: str, value: object) -> None:
        if self._skipping:
            if event in ("start_map", "start_array"):
                self._skipping += 1
            elif event in ("end_map", "end_array"):
                self._skipping -= 1
            return
        if self._depth == 0:
            self._top_level(event)
        elif self._depth == 1:
            self._list_item(event)
        else:
            self._object_member(event, value)

    def _top_level(self, event: str) -> None:
        if self._finished:
            return  # ijson refuses anything after the list itself
        self._started = True
        if event != "start_array":
            self._problem(
                None,
                None,
                f"the body is {EVENT_WORDS.get(event, event)}, not a list; send a list of objects, one per row, "
                f"with the keys {self.keys_text}",
                fatal=True,
            )
        self._depth = 1

    def _list_item(self, event: str) -> None:
        if event == "end_array":
            self._depth = 0
            self._finished = True
            return
        index = self.objects
        self.objects += 1
        if event == "start_map":
            self._depth = 2
            self._values = {}
            self._key = self._column = None
            self._object_ok = True
            return
        if event == "start_array":
            self._skipping = 1
        self._problem(
            index, None, f"this item is {EVENT_WORDS.get(event, event)}, not an object with the keys {self.keys_text}"
        )

    def _object_member(self, event: str, value: object) -> None:
        index = self.objects - 1
        if event == "map_key":
            self._member_key(index, str(value))
        elif event == "end_map":
            self._depth = 1
            self._end_object(index)
        elif self._key is None:
            return  # cannot happen: ijson gives a key before every value
        elif event in SCALAR_EVENTS:
            self._member_value(index, value)
        else:
            if event in ("start_map", "start_array"):
                self._skipping = 1
            self._refuse(
                index,
                self._key,
                f"the value is {EVENT_WORDS.get(event, event)}; a feed value is a string, a number or null",
            )

    def _member_key(self, index: int, key: str) -> None:
        self._key = key
        self._column = next((column for column in self.spec.columns if column.matches(key)), None)
        if self._column is None:
            self._refuse(
                index, key, f"the {self.spec.feed.value} feed has no key {key[:100]!r}; its keys are {self.keys_text}"
            )
        elif self._column.name in self._values:
            self._refuse(index, key, f"the object gives {self._column.name} twice")
            self._column = None

    def _member_value(self, index: int, value: object) -> None:
        column, self._column = self._column, None
        if column is None:
            return  # its key was refused
        text = "" if value is None else str(value)
        if "\n" in text or "\r" in text:
            self._refuse(index, self._key, "the value holds a line break; a feed value is one line")
            return
        if not text.isascii() and LONE_SURROGATE.search(text):
            # JSON can spell one ("\ud800"); it is no character, and no UTF-8 file can hold it.
            self._refuse(
                index, self._key, "the value holds a lone UTF-16 surrogate (such as \\ud800), which is not text"
            )
            return
        self._values[column.name] = text

    def _end_object(self, index: int) -> None:
        missing = [column.name for column in self.spec.columns if column.name not in self._values]
        if self._object_ok:
            for name in missing:
                self._refuse(index, name, f"the object has no {name} key; each object needs {self.keys_text}")
        if self._object_ok:
            self._writer.writerow([self._values[column.name] for column in self.spec.columns])

    # --- problems ---

    def _refuse(self, index: int, field: str | None, message: str) -> None:
        self._object_ok = False
        self._problem(index, field, message)

    def _invalid(self, error: Exception) -> None:
        index = None if self.objects == 0 else self.objects - 1
        # yajl's messages are bytes, several lines with a caret under the place: keep the first.
        message = error.args[0] if error.args else ""
        text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
        detail = text.strip().splitlines()[0][:300] if text.strip() else type(error).__name__
        where = "" if index is None else f" (in or after object {index})"
        self._problem(index, None, f"the body is not valid JSON{where}: {detail}", fatal=True)

    def _problem(self, index: int | None, field: str | None, message: str, *, fatal: bool = False) -> None:
        self.problems.append(JsonProblem(index, field, message))
        if fatal or len(self.problems) >= self.max_problems:
            raise InvalidJsonFeed(self.problems)
