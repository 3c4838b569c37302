"""Configs shipped as package data: local (the embedded default), databricks, emr."""
