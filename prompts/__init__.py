"""Prompt templates and their JSON schemas, shipped as package data (lib.llm.prompts reads them)."""
