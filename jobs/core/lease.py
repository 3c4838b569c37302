"""One writer per lake and stage: a lease file in the lake (`_leases/<stage>.json`).

Every stage reads what it has not done yet (an anti-join) long before it commits, and
Delta appends never conflict, so two runs of one stage on one lake would both write the
same rows. A run therefore takes its stage's lease first: the file is created only if
absent, names its owner, and is renewed by a heartbeat thread; a lease whose heartbeat is
older than `lake.lease_ttl_s`, or whose owner process on this host is gone, belongs to a run
that died and is taken over. A second
writer waits up to `lake.lease_wait_s`, then stops with the owner's name.

Local folders (and the /dbfs mount) create the file atomically (O_EXCL). Object stores
reached through pyarrow have no create-if-absent: there the lease is written, read back
after a pause, and kept only if it is still ours, which closes all but a sub-second race.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import posixpath
import socket
import threading
import time
import uuid
from dataclasses import dataclass

from webinstruct.jobs.core import storage
from webinstruct.jobs.core.errors import WebinstructError
from webinstruct.jobs.core.scope import stage_scope

FOLDER = "_leases"


class LeaseHeld(WebinstructError):
    """Another run holds the stage's lease on this lake."""


@dataclass
class Lease:
    location: str
    token: str
    stage: str
    ttl_s: float
    count: int = 1  # nested takes by this process
    stop: threading.Event | None = None


_held: dict[str, Lease] = {}
_lock = threading.Lock()


def _now() -> float:
    return time.time()


def _record(stage: str, token: str) -> dict:
    return {"stage": stage, "token": token, "owner": f"{socket.gethostname()}:{os.getpid()}",
            "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "heartbeat": _now()}


def _read(location: str) -> dict | None:
    text = storage.read_text(location, limit=64 << 10)
    if text is None:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return {"heartbeat": 0.0, "owner": "unreadable lease", "token": ""}
    return data if isinstance(data, dict) else {"heartbeat": 0.0, "owner": "unreadable lease", "token": ""}


def _create(location: str, record: dict) -> bool:
    """Create the lease file only if it is absent; True when this call created it."""
    text = json.dumps(record)
    if storage.is_local(location):
        _, path = storage.filesystem(location)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        return True
    if storage.exists(location):
        return False
    storage.write_text(location, text)
    time.sleep(1.0)  # no create-if-absent here: whoever wrote last holds it
    current = _read(location)
    return current is not None and current.get("token") == record["token"]


def _owner_dead(current: dict) -> bool:
    """The owner ran on this host and its process is gone (a killed driver): its lease is
    stale now, not only once the heartbeat is lake.lease_ttl_s old. Owners on other hosts
    cannot be checked; their heartbeat decides."""
    host, _, pid = str(current.get("owner", "")).rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # exists, but another user's
        return False
    return False


def _take_over(location: str, stale: dict) -> None:
    """Move a stale lease aside (a rename: of two runs taking over, one wins)."""
    try:
        storage.move(location, f"{location}.stale-{uuid.uuid4().hex[:8]}")
    except (FileNotFoundError, OSError):
        pass  # someone else moved it first


def acquire(root: str, stage: str, ttl_s: float, wait_s: float) -> Lease:
    """Take (or re-enter) the stage's lease on the lake at `root`."""
    location = f"{root.rstrip('/')}/{FOLDER}/{stage}.json"
    with _lock:
        held = _held.get(location)
        if held is not None:
            held.count += 1
            return held
    token = uuid.uuid4().hex
    deadline = _now() + wait_s
    while True:
        if _create(location, _record(stage, token)):
            break
        current = _read(location)
        if current is None:
            continue  # released meanwhile: try again
        if _owner_dead(current) or _now() - float(current.get("heartbeat", 0.0)) > ttl_s:
            _take_over(location, current)
            continue
        if _now() >= deadline:
            age = int(_now() - float(current.get("heartbeat", _now())))
            raise LeaseHeld(
                f"lake {root}: stage {stage} is being written by {current.get('owner')} (since {current.get('started')}, "
                f"heartbeat {age} s ago); wait for it to finish, or set lake.lease_wait_s to wait. A lease whose "
                f"heartbeat is older than lake.lease_ttl_s ({ttl_s:.0f} s) is taken over; {location} is the lease file"
            )
        time.sleep(min(2.0, max(0.1, deadline - _now())))
    lease = Lease(location, token, stage, ttl_s, stop=threading.Event())
    threading.Thread(target=_heartbeat, args=(lease,), daemon=True, name=f"lease-{stage}").start()
    with _lock:
        _held[location] = lease
    return lease


def _heartbeat(lease: Lease) -> None:
    while not lease.stop.wait(max(1.0, lease.ttl_s / 3)):
        current = _read(lease.location)
        if current is None or current.get("token") != lease.token:
            return  # taken over (we were presumed dead): the next commit is the owner's problem
        current["heartbeat"] = _now()
        try:
            storage.write_text(lease.location, json.dumps(current))
        except OSError:
            pass


def release(lease: Lease) -> None:
    with _lock:
        lease.count -= 1
        if lease.count > 0:
            return
        _held.pop(lease.location, None)
    lease.stop.set()
    current = _read(lease.location)
    if current is not None and current.get("token") == lease.token:
        storage.remove(lease.location)
    storage.remove_if_empty(posixpath.dirname(lease.location))  # a refused run leaves the lake as it found it


def writes(stage: str):
    """Decorator for a stage entry point `fn(spark, cfg, lake, ...)`: the whole call holds
    the stage's lease on `lake`, and a stage scope (jobs/core/scope.py) that releases what
    the call persisted, broadcast or wrote to scratch when it returns."""

    def wrap(fn):
        @functools.wraps(fn)
        def run(spark, cfg, lake, *args, **kwargs):
            lease = acquire(lake.root, stage, cfg.lake.lease_ttl_s, cfg.lake.lease_wait_s)
            try:
                with stage_scope(spark, lake, stage):
                    return fn(spark, cfg, lake, *args, **kwargs)
            finally:
                release(lease)

        return run

    return wrap
