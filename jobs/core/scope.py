"""What one stage run holds on the cluster, released when the stage ends.

A long `webinstruct run` calls a dozen stages in one driver. Whatever a stage caches,
broadcasts or writes to scratch must not outlive it, or the driver's heap and the
executors' storage grow with every stage. Each stage entry point (`jobs.core.lease.writes`)
opens a scope; code inside the stage asks `current()` for it:

* `persist(df)`: cache a frame for this stage only;
* `broadcast(value)`: a Python broadcast, destroyed at the end (on Spark Connect the
  value itself: the UDF's closure carries it);
* `materialize(df, name)`: cut a deep lineage by writing the frame to the scope's scratch
  folder and reading it back (or a local checkpoint), so later joins plan against one
  small scan instead of re-deriving (and re-broadcasting) everything under it;
* `scratch(*parts)`: a scratch folder removed at the end.

On a classic session the scope also unpersists any RDD that became persistent while it
ran and was not released (a local checkpoint, a cache a library made) and asks the JVM to
collect garbage, so Spark's context cleaner drops the stage's broadcast join tables and
shuffle files now instead of at the next periodic GC (every 30 minutes by default).
Scopes nest: an inner stage releases what it made, never what its caller holds.
"""

from __future__ import annotations

import contextlib
import contextvars
import gc
import logging
import uuid

from pyspark import StorageLevel

from webinstruct.jobs.core import storage
from webinstruct.jobs.core.session import is_connect

log = logging.getLogger("webinstruct.scope")
_CURRENT: contextvars.ContextVar["StageScope | None"] = contextvars.ContextVar("webinstruct_stage_scope", default=None)


class StageScope:
    def __init__(self, spark, lake, stage: str, checkpoint: str = "parquet"):
        self.spark, self.lake, self.stage, self.checkpoint = spark, lake, stage, checkpoint
        self.token = uuid.uuid4().hex[:12]
        self._frames: list = []
        self._broadcasts: list = []
        self.folder = lake.scratch(stage.replace(" ", "_"), self.token)  # created by the first write
        self._used_folder = False
        self._rdds_before = _persistent_rdd_ids(spark)
        self._names: dict[str, int] = {}

    # What a stage asks for ---------------------------------------------------------
    def persist(self, df, level: StorageLevel = StorageLevel.MEMORY_AND_DISK):
        df = df.persist(level)
        self._frames.append(df)
        return df

    def release(self, df) -> None:
        """Unpersist a frame this scope persisted before the stage ends (a loop's slice)."""
        _quietly(df.unpersist)
        self._frames = [f for f in self._frames if f is not df]

    def broadcast(self, value):
        if is_connect(self.spark):
            return value
        handle = self.spark.sparkContext.broadcast(value)
        self._broadcasts.append(handle)
        return handle

    def scratch(self, *parts: str) -> str:
        self._used_folder = True
        return "/".join([self.folder, *parts])

    def materialize(self, df, name: str, mode: str | None = None):
        """`df` computed once and read back as a plain scan (lineage cut)."""
        if (mode or self.checkpoint) == "local":
            out = df.localCheckpoint(eager=True)
            self._frames.append(out)
            return out
        n = self._names.get(name, 0)
        self._names[name] = n + 1
        path = self.scratch(f"{name}-{n}")
        df.write.mode("overwrite").parquet(path)
        return self.spark.read.parquet(path)

    # The end -------------------------------------------------------------------------
    def close(self) -> None:
        for df in reversed(self._frames):
            _quietly(df.unpersist)
        for handle in self._broadcasts:
            _quietly(handle.destroy)
        if self._used_folder:
            _quietly(self.lake.remove_tree, self.folder)
            stage_folder = self.folder.rsplit("/", 1)[0]
            for folder in (stage_folder, stage_folder.rsplit("/", 1)[0]):  # and _scratch itself, when empty
                _quietly(storage.remove_if_empty, folder)
        self._frames, self._broadcasts, self._used_folder = [], [], False
        if is_connect(self.spark):
            return
        stray = _persistent_rdd_ids(self.spark) - self._rdds_before
        if stray:
            rdds = self.spark.sparkContext._jsc.getPersistentRDDs()
            for rdd_id in stray:
                rdd = rdds.get(rdd_id)
                if rdd is not None:
                    log.info("stage %s: releasing RDD %s it left persisted", self.stage, rdd_id)
                    _quietly(rdd.unpersist, False)
        gc.collect()  # py4j lets go of the JVM objects behind this stage's dead frames ...
        _quietly(self.spark.sparkContext._jvm.System.gc)  # ... so the JVM's collection can find them


def _persistent_rdd_ids(spark) -> set[int]:
    if is_connect(spark):
        return set()
    try:
        return {int(k) for k in spark.sparkContext._jsc.getPersistentRDDs().keySet()}
    except Exception:  # noqa: BLE001 - a stopped context has none
        return set()


def _quietly(fn, *args) -> None:
    """Release steps never hide the stage's own outcome (a stopped session, a lost executor)."""
    try:
        fn(*args)
    except Exception as exc:  # noqa: BLE001
        log.warning("release step %s failed: %s", getattr(fn, "__name__", fn), exc)


@contextlib.contextmanager
def stage_scope(spark, lake, stage: str, checkpoint: str = "parquet"):
    scope = StageScope(spark, lake, stage, checkpoint)
    token = _CURRENT.set(scope)
    try:
        yield scope
    finally:
        _CURRENT.reset(token)
        scope.close()


def current() -> StageScope:
    """The scope of the running stage. Outside a stage (a helper called on its own) there is
    none: open one with `stage_scope`."""
    scope = _CURRENT.get()
    if scope is None:
        raise RuntimeError("no stage scope is open: call this inside a stage entry point (jobs.core.lease.writes) "
                           "or `with stage_scope(spark, lake, name):`")
    return scope
