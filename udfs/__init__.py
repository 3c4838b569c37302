"""Thin Spark wrappers (mapInArrow functions, pandas UDFs) around lib."""
