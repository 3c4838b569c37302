"""The Spark session: reuse the cluster's when there is one, else a local one set up for us."""

from __future__ import annotations

import os
import sys

from pyspark.sql import SparkSession
from webinstruct.jobs.core.config import Config


def get_spark(cfg: Config):
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    # Executors must run the same interpreter (and venv) as the driver.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(cfg.spark.app_name)
    # Under spark-submit the launcher already chose master and resources.
    submitted = "PYSPARK_GATEWAY_PORT" in os.environ
    if not submitted:
        builder = (
            builder.master(cfg.spark.master)
            .config("spark.driver.memory", cfg.spark.driver_memory)
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.warehouse.dir", os.path.join(os.getcwd(), "spark-warehouse"))
        )
    builder = (
        builder.config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", str(cfg.spark.shuffle_partitions))
    )
    for key, value in cfg.spark.conf.items():
        builder = builder.config(key, str(value))
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark
