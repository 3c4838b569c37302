"""mapInPandas function for PII redaction: one batch of pairs -> pair_pii rows (the rules
are plain Python, lib/pii.py)."""

from __future__ import annotations

from collections import Counter
from typing import Callable, Iterator

import pandas as pd

from webinstruct.lib.pii import redact

FIELDS = ("question", "answer", "orig_question", "orig_answer")


def pii_map(types: list[str], region: str, pii_key: str, columns: list[str]) -> Callable[[Iterator[pd.DataFrame]], Iterator[pd.DataFrame]]:
    wanted = frozenset(types)

    def fn(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            rows = []
            for r in batch.astype(object).where(batch.notna(), None).to_dict("records"):
                total: Counter = Counter()
                out = {"qa_id": r["qa_id"], "refiner": r["refiner"], "pair_hash": r["pair_hash"], "pii_key": pii_key}
                for f in FIELDS:
                    text, counts = redact(r[f], wanted, region)
                    out[f] = text if counts else None
                    total.update(counts)
                out["findings"] = sum(total.values())
                out["counts"] = [{"type": t, "count": int(n)} for t, n in sorted(total.items())]
                rows.append(out)
            yield pd.DataFrame.from_records(rows, columns=columns)

    return fn
