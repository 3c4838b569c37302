"""The `runs` table: one row per stage run with its counters, so reports and SQL read one source."""

from __future__ import annotations

import datetime as dt
import json
import uuid

from webinstruct.jobs.core.config import Config
from webinstruct.jobs.core.tables import RUNS


def new_run_id() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:8]


class RunRecorder:
    def __init__(self, lake, stage: str, cfg: Config, args: dict | None = None):
        self.lake = lake
        self.stage = stage
        self.config_hash = cfg.digest()
        self.args = json.dumps(args or {}, sort_keys=True, default=str)
        self.run_id = new_run_id()
        self.started_at = dt.datetime.now(dt.timezone.utc)

    def finish(self, status: str, counters: dict) -> None:
        row = {
            "run_id": self.run_id,
            "stage": self.stage,
            "status": status,
            "started_at": self.started_at,
            "finished_at": dt.datetime.now(dt.timezone.utc),
            "config_hash": self.config_hash,
            "args": self.args,
            "counters": {k: int(v) for k, v in counters.items()},
        }
        df = self.lake.spark.createDataFrame([row], RUNS)
        self.lake.upsert("runs", df, keys=["run_id", "stage"])
