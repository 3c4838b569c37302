"""Spark jobs (one module per stage) and the Spark-side plumbing they share."""
