"""Run the archive processor in a fresh process and report what it did and its peak memory.

A separate process so the peak resident size belongs to the archives alone, not to
whatever the test session held before; the caller also bounds its time.

    python -m tests.lib.ingest.probe < job.json

job.json: {"paths": [...], "options": {IngestOptions fields}, "mutate": {fuzz settings} or null}
Prints one JSON object: {"reports": [...], "maxrss_mb": N, "seconds": S}.
"""

from __future__ import annotations

import dataclasses
import json
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

from webinstruct.lib.ingest.archive import ArchiveProcessor, FileReport, IngestOptions
from webinstruct.lib.ingest.text_extract import ExtractOptions


def mutations(sources: list[Path], count: int, seed: int, max_bytes: int):
    """(name, bytes) for `count` seeded mutations of real archives: bit flips, byte runs
    overwritten, cuts, splices of two archives, duplicated and deleted spans."""
    rng = random.Random(seed)
    blobs = [p.read_bytes()[:max_bytes] for p in sources]
    for i in range(count):
        k = rng.randrange(len(blobs))
        data = bytearray(blobs[k])
        if not data:
            data = bytearray(b"WARC/1.0\r\n")
        kind = rng.choice(("flip", "overwrite", "cut", "splice", "duplicate", "delete", "flip"))
        if kind == "flip":
            for _ in range(rng.randint(1, 8)):
                pos = rng.randrange(len(data))
                data[pos] ^= 1 << rng.randrange(8)
        elif kind == "overwrite":
            pos = rng.randrange(len(data))
            data[pos : pos + rng.randint(1, 64)] = rng.randbytes(rng.randint(1, 64))
        elif kind == "cut":
            data = data[: rng.randrange(len(data))]
        elif kind == "splice":
            other = blobs[rng.randrange(len(blobs))]
            data = data[: rng.randrange(len(data) + 1)] + other[rng.randrange(len(other) + 1) :]
        elif kind == "duplicate":
            a = rng.randrange(len(data))
            b = min(len(data), a + rng.randint(1, 4096))
            data[b:b] = data[a:b] * rng.randint(1, 4)
        else:
            a = rng.randrange(len(data))
            del data[a : a + rng.randint(1, 4096)]
        yield f"m{i:05d}-{kind}-{sources[k].name}", bytes(data)


def _peak_rss_kb() -> int:
    """This process's own high-water mark. Not getrusage: Linux carries ru_maxrss across
    exec, so a probe started from a large test process would report its parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main() -> None:
    job = json.load(sys.stdin)
    opts = dict(job.get("options") or {})
    if "extract" in opts:
        opts["extract"] = ExtractOptions(**opts["extract"])
    if "languages" in opts:
        opts["languages"] = tuple(opts["languages"])
    processor = ArchiveProcessor(IngestOptions(**opts))
    start = time.monotonic()
    reports = []

    def run(path: str, label: str) -> None:
        report = FileReport(path=label)
        docs = sum(1 for _ in processor.process(path, report))
        row = dataclasses.asdict(report)
        row["drops"] = dict(report.drops)
        row["docs"] = docs
        reports.append(row)

    fuzz = job.get("mutate")
    if fuzz:
        deadline = start + fuzz["seconds"]
        with tempfile.TemporaryDirectory() as tmp:
            target = Path(tmp) / "archive"
            sources = [Path(p) for p in job["paths"]]
            for name, data in mutations(sources, fuzz["count"], fuzz["seed"], fuzz["max_bytes"]):
                if time.monotonic() > deadline:
                    break
                target.write_bytes(data)
                run(str(target), name)
    else:
        for path in job["paths"]:
            run(path, path)
    peak_kb = _peak_rss_kb()
    json.dump({"reports": reports, "maxrss_mb": peak_kb / 1024, "seconds": time.monotonic() - start}, sys.stdout, default=str)


if __name__ == "__main__":
    main()
