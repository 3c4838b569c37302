"""Spark-side plumbing every stage shares: config, session, lake IO, table schemas, runs,
views, the LLM-stage loop, figures and printing, errors. Core never imports a stage."""
