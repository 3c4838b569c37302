"""One base class for every error a user can act on. The CLI prints any `WebinstructError`
as `command: message` and exits 2; anything else is a bug and keeps its traceback."""

from __future__ import annotations


class WebinstructError(Exception):
    """A run cannot start or go on; the message says what to do. Nothing half-written."""


class ConfigError(WebinstructError, ValueError):
    """A config file or override is wrong; the message names the key."""


class MissingInput(WebinstructError, LookupError):
    """A stage's input table or view cannot be built yet; the message says what to run."""


class IngestError(WebinstructError):
    """Ingest cannot start (a refused or oversized listing, say)."""


class NothingIngested(IngestError):
    """Every archive of the run failed; the message names each with its error."""

    log_tail = False  # the message says all there is


class SelectError(WebinstructError):
    """A selection from Common Crawl's index cannot be made as asked."""


class FetchError(WebinstructError):
    """A byte-range fetch cannot start (nothing selected, a bad base URL)."""


class LlmStageError(WebinstructError):
    """An LLM stage cannot start (model, prompt, context size, key)."""


class RecallError(WebinstructError):
    """A recall step cannot run."""


class DedupError(WebinstructError):
    """A dedup run cannot start."""


class DedupConfigMismatch(DedupError):
    """The stored band keys were made with other parameters; matching them would be wrong."""


class BenchmarkRegistryError(WebinstructError):
    """Benchmarks cannot be added or are missing."""


class DecontamError(WebinstructError):
    """A decontamination step cannot run."""


class ExportError(WebinstructError):
    """Nothing to export, or the target cannot be written."""
