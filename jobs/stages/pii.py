"""PII: personal data in each refined pair (question, answer and their orig_ texts) ->
`pair_pii`, with the redacted texts that publishing uses.

E-mail addresses, phone numbers, card numbers, IBANs, IP addresses and credentials or
tokens in links become typed placeholders (`<EMAIL>`, `<PHONE>`, ...; lib/pii.py);
`pii.mode = drop` leaves such pairs out of the published set instead, `off` checks
nothing. Incremental: a rerun checks only pairs with no row for their current texts and
the pii settings. Publishing checks whatever this step has not, so no pair is published
unchecked.

    webinstruct pii
"""

from __future__ import annotations


from webinstruct.jobs.core import pii
from webinstruct.jobs.core.config import Config
from webinstruct.jobs.core.errors import MissingInput
from webinstruct.jobs.core.lake import Lake
from webinstruct.jobs.core.lease import writes
from webinstruct.jobs.core.runs import RunRecorder
from webinstruct.jobs.core.views import refined_pairs
from webinstruct.lib.pii import TYPES

SOURCE = "qa_refined"


@writes("pii")
def run(spark, cfg: Config, lake: Lake) -> dict | None:
    """None when pii.mode is off."""
    if not pii.enabled(cfg):
        return None
    if not lake.exists(SOURCE):
        raise MissingInput(f"no table {SOURCE!r} in lake {lake.root} (run refine first)")
    recorder = RunRecorder(lake, "pii", cfg, args={"pii_key": pii.pii_key(cfg), "mode": cfg.pii.mode})
    counters = dict(pii.check(spark, cfg, lake, refined_pairs(lake), recorder.run_id))
    recorder.finish("ok", counters)
    return counters


def summary_rows(counters: dict, lake: Lake | None = None) -> list[tuple[str, object]]:
    rows = [("pairs checked (new)", counters.get("pii_checked", 0)),
            ("  with personal data", counters.get("pii_pairs_with_findings", 0))]
    rows += [(f"  {t.lower().replace('_', ' ')} found", counters[f"pii:{t}"]) for t in TYPES if counters.get(f"pii:{t}")]
    return rows
