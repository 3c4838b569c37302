"""`webinstruct gc`: reclaim what runs leave behind.

* uncommitted data: a run killed before its commit leaves its batch folder
  (`<table>/data/<batch>/`, never named by the Delta log) on disk;
* scratch: `_scratch/<stage>/<run>/` of killed runs (staged LLM slices hold a copy of
  every pending page's text), stale lease files, temporary model copies;
* removed files: what Delta tombstoned (overwrites, merges) once no version within
  `lake.vacuum_hours` needs it (Delta's VACUUM).

Only what is older than `lake.gc_safety_hours` counts as left behind, so a run in
progress keeps its files.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from pyarrow import fs as pafs

from webinstruct.jobs.core import storage
from webinstruct.jobs.core.config import Config
from webinstruct.jobs.core.lake import DeltaRsLake

SCRATCH = ("_scratch",)


@dataclass
class Reclaimable:
    kind: str  # uncommitted | scratch | removed
    location: str
    bytes: int


@dataclass
class GcReport:
    items: list[Reclaimable] = field(default_factory=list)
    applied: bool = False

    def totals(self) -> dict[str, tuple[int, int]]:
        out: dict[str, tuple[int, int]] = {}
        for item in self.items:
            n, b = out.get(item.kind, (0, 0))
            out[item.kind] = (n + 1, b + item.bytes)
        return out

    def rows(self) -> list[tuple[str, object]]:
        totals = self.totals()
        verb = "removed" if self.applied else "reclaimable"
        return [(f"{kind} ({verb})", f"{totals.get(kind, (0, 0))[0]} item(s), {totals.get(kind, (0, 0))[1] / 1e6:.1f} MB")
                for kind in ("uncommitted", "scratch", "removed")]


def _size(location: str) -> int:
    filesystem, path = storage.filesystem(location)
    info = filesystem.get_file_info(path)
    if info.type == pafs.FileType.File:
        return info.size or 0
    if info.type != pafs.FileType.Directory:
        return 0
    return sum(i.size or 0 for i in filesystem.get_file_info(pafs.FileSelector(path, recursive=True))
               if i.type == pafs.FileType.File)


def _old(entry: pafs.FileInfo, cutoff: float) -> bool:
    return entry.mtime is not None and entry.mtime.timestamp() < cutoff


def _scratch(lake, cutoff: float) -> list[Reclaimable]:
    out = []
    for top in SCRATCH:
        for stage in storage.listing(f"{lake.root}/{top}"):
            for run in storage.listing(f"{lake.root}/{top}/{stage.base_name}"):
                if _old(run, cutoff):
                    location = f"{lake.root}/{top}/{stage.base_name}/{run.base_name}"
                    out.append(Reclaimable("scratch", location, _size(location)))
    for folder in ("_leases", "_models"):
        for entry in _walk(f"{lake.root}/{folder}"):
            if (".stale-" in entry.base_name or entry.base_name.endswith(".tmp")) and _old(entry, cutoff):
                out.append(Reclaimable("scratch", entry.path if "://" in entry.path else _rebase(lake, folder, entry),
                                       entry.size or 0))
    return out


def _walk(location: str) -> list[pafs.FileInfo]:
    filesystem, path = storage.filesystem(location)
    if storage.kind(filesystem, path) != pafs.FileType.Directory:
        return []
    return [i for i in filesystem.get_file_info(pafs.FileSelector(path, recursive=True)) if i.type == pafs.FileType.File]


def _rebase(lake, folder: str, entry: pafs.FileInfo) -> str:
    _, base = storage.filesystem(f"{lake.root}/{folder}")
    return f"{lake.root}/{folder}/{entry.path[len(base):].lstrip('/')}"


def _uncommitted(lake: DeltaRsLake, table: str, cutoff: float) -> list[Reclaimable]:
    """Batch folders no Delta log entry names: files of a run that died before committing."""
    root = lake.path(table)
    log_text = "\n".join(storage.read_text(f"{root}/_delta_log/{e.base_name}", limit=1 << 30) or ""
                         for e in storage.listing(f"{root}/_delta_log") if e.base_name.endswith(".json"))
    current = {u.rsplit("/", 2)[-2] for u in lake._table(table).file_uris()}
    out = []
    for batch in storage.listing(f"{root}/data"):
        name = batch.base_name
        if name in current or f"data/{name}/" in log_text or not _old(batch, cutoff):
            continue
        location = f"{root}/data/{name}"
        out.append(Reclaimable("uncommitted", location, _size(location)))
    return out


def _removed(lake, table: str, cfg: Config, apply: bool) -> list[Reclaimable]:
    """Delta's own VACUUM of tombstoned files past `lake.vacuum_hours`."""
    if isinstance(lake, DeltaRsLake):
        dt = lake._table(table)
        files = dt.vacuum(retention_hours=int(cfg.lake.vacuum_hours), dry_run=not apply, enforce_retention_duration=False)
        return [Reclaimable("removed", f"{lake.path(table)}/{f}", 0) for f in files]
    mode = "" if apply else " DRY RUN"
    rows = lake.spark.sql(f"VACUUM {lake._ref(lake.path(table))} RETAIN {cfg.lake.vacuum_hours} HOURS{mode}").collect()
    return [Reclaimable("removed", str(r[0]), 0) for r in rows] if not apply else []


def collect(lake, cfg: Config, apply: bool = False) -> GcReport:
    """What gc would remove (apply=False), or remove it."""
    cutoff = time.time() - cfg.lake.gc_safety_hours * 3600
    report = GcReport(applied=apply)
    report.items += _scratch(lake, cutoff)
    for table in lake.tables():
        orphans = _uncommitted(lake, table, cutoff) if isinstance(lake, DeltaRsLake) else []
        if apply:
            for item in orphans:
                storage.remove(item.location)
        folders = tuple(o.location + "/" for o in orphans)
        report.items += orphans + [r for r in _removed(lake, table, cfg, apply) if not r.location.startswith(folders)]
    if apply:
        for item in report.items:
            if item.kind == "scratch":
                storage.remove(item.location)
    return report
