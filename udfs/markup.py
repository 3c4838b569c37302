"""applyInPandas function for extract: a page's schema.org pairs (one group of qa_markup
rows per document) become its qa_extracted rows, with no LLM call."""

from __future__ import annotations

from typing import Callable

import pandas as pd

from webinstruct.lib.qa.parse import Limits
from webinstruct.lib.qa.tasks import markup_rows


def markup_map(limits: Limits, columns: list[str]) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def run(group: pd.DataFrame) -> pd.DataFrame:
        records = group.astype(object).where(group.notna(), None).to_dict("records")  # NaN votes -> None
        rows = markup_rows(records[0]["doc_id"], records[0]["url"], records, limits)
        return pd.DataFrame.from_records(rows, columns=columns)

    return run
