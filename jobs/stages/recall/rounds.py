"""What the recall steps share: the round's current model, the scored documents, the
judged domains, the fastText settings."""

from __future__ import annotations

from pyspark.sql import functions as F

from webinstruct.jobs.core.config import Config
from webinstruct.jobs.core.errors import MissingInput, RecallError
from webinstruct.jobs.core.lake import Lake
from webinstruct.jobs.core.views import current_models, domain_verdicts, read_source
from webinstruct.lib.recall.model import FastTextParams

KIND = "recall"
NO_DOMAIN = "(none)"  # documents without a registered domain: counted, never a candidate


def params_of(cfg: Config) -> FastTextParams:
    r = cfg.recall
    return FastTextParams(dim=r.dim, epoch=r.epoch, lr=r.lr, word_ngrams=r.word_ngrams, bucket=r.bucket,
                          min_count=r.min_count, threads=r.threads, seed=r.seed)


def documents(lake: Lake, cfg: Config):
    try:
        return read_source(lake, "recall.input", cfg.recall.input)
    except MissingInput as exc:
        raise RecallError(str(exc)) from None


def current_model(lake: Lake, round_no: int) -> dict | None:
    if not lake.exists("models"):
        return None

    rows = current_models(lake).where(f"round = {int(round_no)}").collect()
    return rows[0].asDict() if rows else None


def accepted_and_rejected(lake: Lake):
    """Domains whose latest verdict is ok: (accepted, rejected) single-column frames."""
    if not lake.exists("domain_verdicts"):
        return None, None
    ok = domain_verdicts(lake).where("status = 'ok'")
    return ok.where(F.col("educational")).select("domain"), ok.where(~F.col("educational")).select("domain")


def rows_of_run(lake: Lake, table: str, run_id: str, commit) -> int:
    if commit.rows or not lake.exists(table):  # delta-spark commits do not report rows
        return commit.rows
    return lake.read(table).where(F.col("run_id") == run_id).count()
