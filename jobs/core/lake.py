"""Lake IO: one interface over Delta tables, two engines.

* `delta-spark`: the session has Delta (Databricks, EMR with Delta enabled); Spark reads,
  writes and merges natively.
* `delta-rs`: no Delta jars (local runs, plain Spark). Executors write parquet files into
  the table folder; the driver commits them as one Delta transaction with the `deltalake`
  package. Files written by a run that dies before the commit are never referenced, so
  the table is unchanged and readers never see them.

Both take a transaction id (app id, version): a commit whose id the table already holds
is skipped, so retrying a commit that did land is harmless. Reads always go through the
Delta snapshot, never by listing the folder.
"""

from __future__ import annotations

import abc
import json
import time
import uuid
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import DeltaTable, Schema, write_deltalake
from deltalake.exceptions import CommitFailedError, TableNotFoundError
from deltalake.transaction import AddAction, CommitProperties, Transaction, create_table_with_add_actions
from pyarrow import fs as pafs
from pyspark.sql.pandas.types import from_arrow_schema, to_arrow_schema

from webinstruct.jobs.core import storage
from webinstruct.jobs.core.config import Config
from webinstruct.jobs.core.views import register_derived
from webinstruct.lib.object_store import delta_options


@dataclass
class CommitResult:
    table: str
    version: int | None  # table version after the commit
    files: int = 0
    rows: int = 0
    skipped: bool = False  # the transaction id was already committed


def delta_available(spark) -> bool:
    conf = spark.conf
    extensions = conf.get("spark.sql.extensions", "") or ""
    return "DeltaSparkSessionExtension" in extensions or bool(
        conf.get("spark.databricks.clusterUsageTags.clusterId", "") or ""
    )


def open_lake(spark, cfg: Config) -> "Lake":
    engine = cfg.lake.engine
    if engine == "auto":
        engine = "delta-spark" if delta_available(spark) else "delta-rs"
    if engine == "delta-spark":
        if not delta_available(spark):
            raise RuntimeError(
                "lake.engine = delta-spark but this Spark session has no Delta "
                "(spark.sql.extensions lacks io.delta.sql.DeltaSparkSessionExtension); "
                "use lake.engine = delta-rs or auto"
            )
        lake = NativeDeltaLake(spark, cfg.lake.root, cfg.lake.storage_options)
    else:
        lake = DeltaRsLake(spark, cfg.lake.root, cfg.lake.storage_options)
    lake.config = cfg  # derived views (jobs/core/views.py) follow the run's settings
    return lake


class Lake(abc.ABC):
    engine = ""

    def __init__(self, spark, root: str, storage_options: dict | None = None):
        self.spark = spark
        self.root = root.rstrip("/")
        self.storage_options = delta_options(storage_options, self.root)  # delta-rs's spelling of the one S3 setting
        storage.configure(storage_options)  # pyarrow's

    def path(self, table: str) -> str:
        return f"{self.root}/{table}"

    # Engine-specific --------------------------------------------------------------
    @abc.abstractmethod
    def exists(self, table: str) -> bool:
        """Whether the table has a Delta log."""

    @abc.abstractmethod
    def version(self, table: str) -> int | None:
        """Latest committed version, None when the table does not exist."""

    @abc.abstractmethod
    def read(self, table: str):
        """The table's current snapshot as a Spark DataFrame."""

    @abc.abstractmethod
    def append(self, table: str, df, txn: tuple[str, int] | None = None) -> CommitResult:
        """Append `df` in one commit; skip when transaction `txn` is already in the table."""

    @abc.abstractmethod
    def upsert(self, table: str, df, keys: list[str]) -> CommitResult:
        """Insert or replace rows by `keys` in one commit (small sources: manifests, runs)."""

    def merge(self, table: str, df, keys: list[str]) -> CommitResult:
        """Insert or replace rows by `keys` in one commit, computed by the executors: for
        sources too large to collect to the driver."""
        return self.upsert(table, df, keys)

    @abc.abstractmethod
    def fetch_file(self, rel: str, local: str) -> bool:
        """Copy `<root>/<rel>` to a local file; False when the lake has no such file."""

    @abc.abstractmethod
    def replace(self, table: str, df) -> CommitResult:
        """Overwrite the whole table with `df` in one commit (derived tables rebuilt whole)."""

    @abc.abstractmethod
    def read_path(self, path: str):
        """A Delta table outside the lake's layout (seed tables)."""

    @abc.abstractmethod
    def put_file(self, local: str, rel: str) -> str:
        """Copy a local file to `<root>/<rel>` (atomically, once: paths are content hashes); its URI."""

    @abc.abstractmethod
    def tables(self) -> list[str]:
        """Names of the Delta tables under the lake root."""
    # Shared -------------------------------------------------------------------------
    def count(self, table: str) -> int:
        return self.read(table).count() if self.exists(table) else 0

    def register_views(self) -> list[str]:
        names = self.tables()
        for name in names:
            self.read(name).createOrReplaceTempView(name)
        return names + register_derived(self)

    def scratch(self, *parts: str) -> str:
        """A folder for a run's intermediate files; never a table, removed by the run."""
        return "/".join([self.root, "_scratch", *parts])

    @abc.abstractmethod
    def remove_tree(self, path: str) -> None:
        """Delete a folder and everything under it (scratch space); absent is fine."""


class DeltaRsLake(Lake):
    engine = "delta-rs"

    def _fs(self):
        return storage.filesystem(self.root)

    def _table(self, table: str):
        return _open_delta(self.path(table), self.storage_options)

    def exists(self, table: str) -> bool:
        return self._table(table) is not None

    def version(self, table: str) -> int | None:
        dt = self._table(table)
        return dt.version() if dt is not None else None

    def read(self, table: str):
        dt = self._table(table)
        if dt is None:
            raise KeyError(f"no table {table!r} in lake {self.root}")
        return self._read_delta(dt)

    def _read_delta(self, dt):
        schema = from_arrow_schema(pa.schema(dt.schema().to_arrow()), prefer_timestamp_ntz=False)
        uris = dt.file_uris()
        if not uris:
            return self.spark.createDataFrame([], schema)
        return self.spark.read.schema(schema).parquet(*uris)

    def read_path(self, path: str):
        dt = _open_delta(path, self.storage_options)
        if dt is None:
            raise KeyError(f"no Delta table at {path}")
        return self._read_delta(dt)

    def put_file(self, local: str, rel: str) -> str:
        filesystem, base = self._fs()
        target = f"{base}/{rel}"
        filesystem.create_dir(target.rsplit("/", 1)[0], recursive=True)
        if filesystem.get_file_info(target).type.name == "File":  # content-addressed: already there
            return f"{self.root}/{rel}"
        tmp = f"{target}.{uuid.uuid4().hex}.tmp"  # unique: two writers never share a temporary
        pafs.copy_files(local, tmp, destination_filesystem=filesystem)
        filesystem.move(tmp, target)
        return f"{self.root}/{rel}"

    def append(self, table: str, df, txn: tuple[str, int] | None = None) -> CommitResult:
        dt = self._table(table)
        if txn and dt is not None and _landed(dt, txn):
            return CommitResult(table, dt.version(), skipped=True)
        batch_dir = f"data/{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:12]}"
        df.write.mode("error").parquet(f"{self.path(table)}/{batch_dir}")
        actions, rows = self._add_actions(table, batch_dir)
        if not actions and dt is not None:
            return CommitResult(table, dt.version())  # nothing new: no empty commit
        schema = to_arrow_schema(df.schema, timezone="UTC")
        version = self._commit_with_retry(table, dt, actions, schema, txn)
        return CommitResult(table, version, files=len(actions), rows=rows)

    def fetch_file(self, rel: str, local: str) -> bool:
        filesystem, base = self._fs()
        source = f"{base}/{rel}"
        if filesystem.get_file_info(source).type != pafs.FileType.File:
            return False
        pafs.copy_files(source, local, source_filesystem=filesystem, destination_filesystem=pafs.LocalFileSystem())
        return True

    def replace(self, table: str, df) -> CommitResult:
        dt = self._table(table)
        batch_dir = f"data/{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:12]}"
        df.write.mode("error").parquet(f"{self.path(table)}/{batch_dir}")
        actions, rows = self._add_actions(table, batch_dir)
        schema = to_arrow_schema(df.schema, timezone="UTC")
        if dt is None:
            version = self._commit(table, dt, actions, schema, None)
        else:
            dt.create_write_transaction(actions, mode="overwrite", schema=schema)
            version = self.version(table)
        return CommitResult(table, version, files=len(actions), rows=rows)

    def _commit_with_retry(self, table, dt, actions, schema, txn, attempts: int = 3) -> int:
        """Retry transient commit failures; the transaction id makes a retry of a commit
        that did land a no-op instead of a duplicate."""
        for attempt in range(1, attempts):
            try:
                return self._commit(table, dt, actions, schema, txn)
            except OSError:
                time.sleep(2**attempt)
                dt = self._table(table)
                if txn and dt is not None and _landed(dt, txn):
                    return dt.version()
        return self._commit(table, dt, actions, schema, txn)

    def _add_actions(self, table: str, batch_dir: str):
        filesystem, base = self._fs()
        folder = f"{base}/{table}/{batch_dir}"
        actions, rows = [], 0
        for info in filesystem.get_file_info(pafs.FileSelector(folder)):
            if info.type != pafs.FileType.File or not info.base_name.endswith(".parquet"):
                continue
            with filesystem.open_input_file(info.path) as fh:
                n = pq.read_metadata(fh).num_rows
            if n == 0:
                continue
            rows += n
            actions.append(
                AddAction(
                    path=f"{batch_dir}/{info.base_name}",
                    size=info.size,
                    partition_values={},
                    modification_time=int(info.mtime.timestamp() * 1000) if info.mtime else int(time.time() * 1000),
                    data_change=True,
                    stats=json.dumps({"numRecords": n}),
                )
            )
        return actions, rows

    def _commit(self, table, dt, actions, schema, txn) -> int:
        """The single point where a batch becomes visible (tests cut a run short here)."""
        props = CommitProperties(
            app_transactions=[Transaction(txn[0], txn[1], int(time.time() * 1000))] if txn else None
        )
        if dt is None:
            create_table_with_add_actions(
                self.path(table),
                Schema.from_arrow(schema),
                actions,
                mode="append",
                name=table,
                storage_options=self.storage_options or None,
                commit_properties=props,
            )
        else:
            dt.create_write_transaction(actions, mode="append", schema=schema, commit_properties=props)
        return self.version(table)

    def upsert(self, table: str, df, keys: list[str]) -> CommitResult:
        """Merge on `keys`. The source is collected to the driver: meant for small manifest
        tables (warc_files, runs), not for documents. A merge that loses a race with
        another writer's commit is tried again on the new version."""
        data = _to_arrow(df)
        for attempt in range(5):
            dt = self._table(table)
            try:
                if dt is None:
                    write_deltalake(self.path(table), data, mode="append", storage_options=self.storage_options or None)
                else:
                    predicate = " AND ".join(f"t.`{k}` = s.`{k}`" for k in keys)
                    (
                        dt.merge(data, predicate=predicate, source_alias="s", target_alias="t")
                        .when_matched_update_all()
                        .when_not_matched_insert_all()
                        .execute()
                    )
                break
            except CommitFailedError:
                if attempt == 4:
                    raise
                time.sleep(0.2 * 2**attempt)
        return CommitResult(table, self.version(table), rows=data.num_rows)

    def merge(self, table: str, df, keys: list[str]) -> CommitResult:
        """The table's other rows plus `df`, written by the executors, committed as one
        overwrite: nothing is collected to the driver."""
        if not self.exists(table):
            return self.append(table, df)
        kept = self.read(table).join(df.select(*keys).distinct(), keys, "left_anti")
        return self.replace(table, kept.unionByName(df.select(*kept.columns)))

    def remove_tree(self, path: str) -> None:
        filesystem, base = self._fs()
        rel = path[len(self.root):].lstrip("/")
        try:
            filesystem.delete_dir(f"{base}/{rel}")
        except FileNotFoundError:
            pass

    def tables(self) -> list[str]:
        filesystem, base = self._fs()
        try:
            entries = filesystem.get_file_info(pafs.FileSelector(base))
        except FileNotFoundError:
            return []
        names = []
        for info in entries:
            if info.type == pafs.FileType.Directory:
                log = filesystem.get_file_info(f"{info.path}/_delta_log")
                if log.type == pafs.FileType.Directory:
                    names.append(info.base_name)
        return sorted(names)


def _open_delta(path: str, options: dict):
    """The Delta table at `path`, or None. Opened directly (one log listing), not through
    `is_deltatable`, whose own listing some S3 APIs answer only when the client gives up."""
    try:
        return DeltaTable(path, storage_options=options or None)
    except TableNotFoundError:
        return None


def _landed(dt, txn: tuple[str, int]) -> bool:
    committed = dt.transaction_version(txn[0])
    return committed is not None and committed >= txn[1]


def _to_arrow(df):
    """Spark DataFrame to a pyarrow Table with UTC timestamps (Delta's timestamp type)."""
    table = df.toArrow() if hasattr(df, "toArrow") else pa.Table.from_pandas(df.toPandas(), preserve_index=False)
    fields = []
    for f in table.schema:
        if pa.types.is_timestamp(f.type):
            f = f.with_type(pa.timestamp("us", tz="UTC"))
        fields.append(f)
    return table.cast(pa.schema(fields))


class NativeDeltaLake(Lake):
    """Delta through the session itself (Databricks, EMR with Delta enabled), in SQL only
    (`DESCRIBE HISTORY`, `MERGE INTO`): no delta-spark Python package and no JVM gateway,
    so Spark Connect sessions use it too. Files beside the tables (models, scratch) go
    through jobs/core/storage.py.

    Not exercised by the local test suite: Delta jars cannot be fetched here (no Maven),
    so this path is covered only by running on a cluster.
    """

    engine = "delta-spark"

    def _ref(self, path: str) -> str:
        return "delta.`" + path.replace("`", "``") + "`"

    def exists(self, table: str) -> bool:
        return storage.exists(f"{self.path(table)}/_delta_log")

    def version(self, table: str) -> int | None:
        if not self.exists(table):
            return None
        return self.spark.sql(f"DESCRIBE HISTORY {self._ref(self.path(table))} LIMIT 1").collect()[0]["version"]

    def read(self, table: str):
        return self.spark.read.format("delta").load(self.path(table))

    def read_path(self, path: str):
        return self.spark.read.format("delta").load(path)

    def put_file(self, local: str, rel: str) -> str:
        target = f"{self.root}/{rel}"
        filesystem, path = storage.filesystem(target)
        if storage.kind(filesystem, path) != pafs.FileType.File:  # content-addressed: written once
            filesystem.create_dir(path.rsplit("/", 1)[0], recursive=True)
            tmp = f"{path}.{uuid.uuid4().hex}.tmp"
            pafs.copy_files(local, tmp, destination_filesystem=filesystem)
            filesystem.move(tmp, path)
        return target

    def append(self, table: str, df, txn: tuple[str, int] | None = None) -> CommitResult:
        writer = df.write.format("delta").mode("append")
        if txn:
            writer = writer.option("txnAppId", txn[0]).option("txnVersion", txn[1])
        before = self.version(table)
        writer.save(self.path(table))
        after = self.version(table)
        return CommitResult(table, after, skipped=before is not None and before == after)

    def fetch_file(self, rel: str, local: str) -> bool:
        filesystem, path = storage.filesystem(f"{self.root}/{rel}")
        if storage.kind(filesystem, path) != pafs.FileType.File:
            return False
        pafs.copy_files(path, local, source_filesystem=filesystem, destination_filesystem=pafs.LocalFileSystem())
        return True

    def replace(self, table: str, df) -> CommitResult:
        df.write.format("delta").mode("overwrite").option("overwriteSchema", "true").save(self.path(table))
        return CommitResult(table, self.version(table))

    def upsert(self, table: str, df, keys: list[str]) -> CommitResult:
        if not self.exists(table):
            df.write.format("delta").save(self.path(table))
        else:
            view = f"_webinstruct_upsert_{uuid.uuid4().hex[:12]}"
            df.createOrReplaceTempView(view)
            cond = " AND ".join(f"t.`{k}` = s.`{k}`" for k in keys)
            self.spark.sql(
                f"MERGE INTO {self._ref(self.path(table))} t USING {view} s ON {cond} "
                "WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *"
            )
            self.spark.catalog.dropTempView(view)
        return CommitResult(table, self.version(table))

    def remove_tree(self, path: str) -> None:
        storage.remove(path)

    def tables(self) -> list[str]:
        return sorted(e.base_name for e in storage.listing(self.root)
                      if e.type == pafs.FileType.Directory and storage.exists(f"{self.root}/{e.base_name}/_delta_log"))
