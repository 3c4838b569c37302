"""Which bytes to ask for: selected WARC records (offset, length) turned into few requests.

Records of one WARC file that lie close together are read with one request: two records
whose gap is at most `gap` bytes share a span, as long as the span stays within
`max_span` bytes (a record is never split; one longer than `max_span` is a span of its
own). Spans are then packed into tasks of about `task_bytes` each, whole spans only, so a
task's memory and time are bounded whatever the selection looks like. Offsets and lengths
come from an index (data from elsewhere): a negative offset, a length of zero or one over
`max_record` is refused with its reason, never requested.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, order=True)
class Wanted:
    """One selected record of a WARC file."""

    offset: int
    length: int


@dataclass
class Span:
    """One request: bytes [start, end) of a file, holding `records` whole."""

    start: int
    end: int
    records: list[Wanted] = field(default_factory=list)

    @property
    def length(self) -> int:
        return self.end - self.start

    @property
    def wanted_bytes(self) -> int:
        return sum(r.length for r in self.records)


def refusal(record: Wanted, max_record: int) -> str | None:
    """Why a record's offset and length cannot be requested, or None."""
    if record.offset < 0:
        return f"negative offset {record.offset}"
    if record.length <= 0:
        return f"length {record.length}"
    if record.length > max_record:
        return f"length {record.length} is over fetch.max_record_bytes ({max_record})"
    return None


def merge(records: list[Wanted], gap: int, max_span: int) -> list[Span]:
    """Spans covering `records` (of one file), in offset order; overlapping or repeated
    records are read once, within the span that holds them."""
    spans: list[Span] = []
    for record in sorted(set(records)):
        end = record.offset + record.length
        current = spans[-1] if spans else None
        if current is not None and record.offset - current.end <= gap and max(end, current.end) - current.start <= max_span:
            current.end = max(current.end, end)
            current.records.append(record)
        else:
            spans.append(Span(record.offset, end, [record]))
    return spans


def pack(files: dict[str, list[Span]], task_bytes: int) -> list[list[tuple[str, Span]]]:
    """Tasks of whole spans, about `task_bytes` each, files in name order (a file's spans
    stay together unless the file alone is over the budget)."""
    tasks: list[list[tuple[str, Span]]] = []
    current: list[tuple[str, Span]] = []
    size = 0
    for name in sorted(files):
        for span in files[name]:
            if current and size + span.length > task_bytes:
                tasks.append(current)
                current, size = [], 0
            current.append((name, span))
            size += span.length
    if current:
        tasks.append(current)
    return tasks
