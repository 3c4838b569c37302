"""`webinstruct report`: the lake at a glance, as one self-contained HTML file.

Every figure is read from the lake's tables when the report is written, so the report
describes the lake (all runs so far), not one run. `figures(lake, cfg)` returns them as
plain data; `write_report` draws them (lib/report) and embeds the same data in the page.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pyspark.sql import functions as F

from webinstruct.jobs.core.config import Config
from webinstruct.jobs.core.contamination import BENCHMARK_SUMMARY_COLUMNS, benchmark_summary
from webinstruct.jobs.core.figures import PART_ROWS, funnel, models_used
from webinstruct.jobs.core import pii, semdedup, verdicts
from webinstruct.jobs.core.labels import current_vote_key, label_histograms, with_labels
from webinstruct.jobs.core.views import quality_current
from webinstruct.lib.report import plots
from webinstruct.lib.report.page import Link, Page, figure, note, table

BINS = 20  # recall score histogram over [0, 1]
SAMPLE_PAIRS = 20
TOP_DOMAINS = 50


def figures(lake, cfg: Config, steps: list | None = None) -> dict:
    """Everything the report shows, as JSON-ready data (`steps`: the funnel, when the caller
    has just computed it)."""
    return {
        "funnel": [[stage, n] for stage, n in (funnel(lake) if steps is None else steps)],
        "runs": _runs(lake),
        "recall": _recall(lake, cfg),
        "domains": _domains(lake),
        "fetches": _fetches(lake),
        "dedup_cluster_sizes": _cluster_sizes(lake),
        "contamination": {"columns": BENCHMARK_SUMMARY_COLUMNS, "rows": benchmark_summary(lake, cfg)},
        "gate": _gate(lake, cfg),
        "labels": _labels(lake, cfg),
        "semdedup": _semdedup(lake, cfg),
        "pii": pii.published_counts(lake, cfg, lake.read("webinstruct")) if lake.exists("webinstruct") else None,
        "pairs_per_source": _pairs_per_source(lake),
        "sample_pairs": _sample(lake),
        "models": [list(r) for r in models_used(lake)],
    }


def _runs(lake) -> list[dict]:
    """One row per stage run: seconds and the LLM token counters it recorded."""
    if not lake.exists("runs"):
        return []
    out = []
    for r in lake.read("runs").orderBy("started_at").collect():
        c = r["counters"] or {}
        seconds = (r["finished_at"] - r["started_at"]).total_seconds() if r["finished_at"] and r["started_at"] else None
        out.append({"run_id": r["run_id"], "stage": r["stage"], "status": r["status"], "started_at": r["started_at"].isoformat(),
                    "seconds": round(seconds, 1) if seconds is not None else None,
                    "tokens_in": int(c.get("tokens_in", 0)), "tokens_out": int(c.get("tokens_out", 0)),
                    "requests": int(c.get("generations", 0))})
    return out


def _recall(lake, cfg: Config) -> dict:
    out = {"threshold": cfg.recall.threshold, "edges": [i / BINS for i in range(BINS + 1)], "rounds": {}, "models": []}
    if lake.exists("recall_scores"):
        binned = (lake.read("recall_scores").withColumn("bin", F.least(F.floor(F.col("score") * BINS), F.lit(BINS - 1)).cast("int"))
                  .groupBy("round", "bin").count().collect())
        for r in binned:
            counts = out["rounds"].setdefault(str(r["round"]), [0] * BINS)
            counts[r["bin"]] += int(r["count"])
    if lake.exists("models"):
        for m in lake.read("models").orderBy("round", "created_at").collect():
            out["models"].append({"round": m["round"], "model_id": m["model_id"], "train": int(m["train_positives"] + m["train_negatives"]),
                                  "test": int((m["test_positives"] or 0) + (m["test_negatives"] or 0)),
                                  "metrics": {k: round(float(v), 4) for k, v in sorted((m["metrics"] or {}).items())}})
    return out


def _domains(lake) -> dict:
    if not lake.exists("domains"):
        return {"verdicts": {}, "rows": []}
    d = lake.read("domains")
    last = d.groupBy("domain").agg(F.max("round").alias("round"))
    d = d.join(last, ["domain", "round"])
    verdicts = {(r["verdict"] or "not judged"): int(r["count"]) for r in d.groupBy("verdict").count().collect()}
    rows = [[r["domain"], r["round"], int(r["documents"]), int(r["recalled"]), round(float(r["mean_score"] or 0), 3), bool(r["candidate"]),
             r["verdict"] or "", (r["reason"] or "")[:160]]
            for r in d.orderBy(F.desc("documents"), "domain").limit(TOP_DOMAINS).collect()]
    return {"verdicts": verdicts, "rows": rows, "total": d.count()}


def _fetches(lake) -> list[list]:
    """Per selection run: reason, round, crawls, records, and their fetch outcomes."""
    if not lake.exists("selection"):
        return []
    sel = lake.read("selection")
    if lake.exists("fetches"):
        outcome = lake.read("fetches").select("warc_filename", "warc_record_offset", "status", "doc_id")
        sel = sel.join(outcome, ["warc_filename", "warc_record_offset"], "left")
    else:
        sel = sel.withColumn("status", F.lit(None).cast("string")).withColumn("doc_id", F.lit(None).cast("string"))
    rows = sel.groupBy("run_id", "reason", "round").agg(
        F.concat_ws(", ", F.sort_array(F.collect_set("crawl"))).alias("crawls"), F.count("*").alias("records"),
        F.sum((F.col("status") == "ok").cast("int")).alias("ok"), F.countDistinct("doc_id").alias("documents"),
        F.sum((F.col("status") == "dropped").cast("int")).alias("dropped"),
        F.sum((F.col("status") == "failed").cast("int")).alias("failed")).orderBy("run_id").limit(200).collect()
    return [[r["run_id"], r["reason"], r["round"], r["crawls"], int(r["records"]), int(r["ok"] or 0), int(r["documents"]),
             int(r["dropped"] or 0), int(r["failed"] or 0)] for r in rows]


def _cluster_sizes(lake) -> dict[str, int]:
    """Clusters by size (members per keeper), as the dedup table stands."""
    if not lake.exists("dedup"):
        return {}
    sizes = lake.read("dedup").groupBy("cluster_id").count().groupBy("count").agg(F.count("*").alias("clusters")).collect()
    return {str(r["count"]): int(r["clusters"]) for r in sorted(sizes, key=lambda r: r["count"])}


def _gate(lake, cfg: Config) -> dict:
    if not (lake.exists("qa_quality") and lake.exists("qa_refined")):
        return {"checked": 0, "passed": 0, "reasons": {}}
    current = quality_current(lake, cfg)
    agg = current.agg(F.count("*").alias("n"), F.sum(F.col("passed").cast("int")).alias("p")).collect()[0]
    reasons = current.where(~F.col("passed")).select(F.explode("reasons").alias("reason")).groupBy("reason").count().collect()
    return {"checked": int(agg["n"] or 0), "passed": int(agg["p"] or 0),
            "reasons": {r["reason"]: int(r["count"]) for r in sorted(reasons, key=lambda r: (-r["count"], r["reason"]))}}


def _labels(lake, cfg: Config) -> dict | None:
    """The published pairs' answer types, subjects and difficulty (webinstruct label, difficulty)."""
    if not lake.exists("webinstruct") or not lake.exists("pair_labels"):
        return None
    out = label_histograms(with_labels(lake, cfg, lake.read("webinstruct"), current_vote_key(cfg)))
    out["verifier"] = verdicts.summary(lake, cfg)
    return out


def _semdedup(lake, cfg: Config) -> dict | None:
    """The threshold, what the last publish left out as rewordings, and example groups."""
    if not cfg.semdedup.enabled or not lake.exists(semdedup.GROUPS):
        return None
    return {"threshold": cfg.semdedup.threshold, "removed": lake.count(semdedup.GROUPS), "examples": semdedup.examples(lake)}


def _pairs_per_source(lake) -> dict[str, int]:
    if not lake.exists("webinstruct"):
        return {}
    rows = lake.read("webinstruct").groupBy("source").count().collect()
    return {r["source"]: int(r["count"]) for r in sorted(rows, key=lambda r: (-r["count"], r["source"] or ""))}


def _sample(lake) -> list[dict]:
    if not lake.exists("webinstruct"):
        return []
    cols = ["index", "question", "answer", "method", "quality", "url", "warc_path", "warc_offset", "warc_record_id"]
    rows = lake.read("webinstruct").orderBy(F.desc("quality"), "index").limit(SAMPLE_PAIRS).select(*cols).collect()
    return [r.asDict() for r in rows]


def write_report(lake, cfg: Config, out: str, steps: list | None = None) -> Path:
    data = figures(lake, cfg, steps)
    path = Path(out).absolute()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(data, lake.root), encoding="utf-8")
    return path


def render(data: dict, root: str) -> str:
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    page = Page("webinstruct report", f"lake {root} · written {now} · every figure is read from the lake's tables")
    counts = dict(data["funnel"])
    page.kpis = [("WARC records", counts.get("WARC records")), ("documents", counts.get("documents (language, length)")),
                 ("recalled", counts.get("recalled")), ("pairs extracted", counts.get("pairs extracted")),
                 ("published pairs", counts.get("clean pairs (webinstruct)"))]
    _funnel(page, data)
    _stages(page, data)
    _recall_section(page, data)
    _domain_section(page, data)
    _fetch_section(page, data)
    _dedup_section(page, data)
    _contamination_section(page, data)
    _gate_section(page, data)
    _labels_section(page, data)
    _semdedup_section(page, data)
    _pii_section(page, data)
    _sources_section(page, data)
    _sample_section(page, data)
    page.section("models", "Models and prompts", table(["stage", "model", "prompt version", "rows"], data["models"]))
    return page.render(data)


def _funnel(page: Page, data: dict) -> None:
    steps = [(s, n) for s, n in data["funnel"] if n is not None and s not in PART_ROWS]
    page.section("funnel", "Funnel: from WARC records to published pairs",
                 figure(plots.hbar(steps, "units left after each step (log scale)", log=True)) if steps else "",
                 table(["step", "count"], [[s, n] for s, n in data["funnel"]]))


def _stages(page: Page, data: dict) -> None:
    runs = data["runs"]
    latest: dict[str, dict] = {}
    for r in runs:
        latest[r["stage"]] = r
    parts = []
    if latest:
        parts.append(figure(plots.hbar([(s, r["seconds"] or 0) for s, r in latest.items()], "seconds, latest run of each stage",
                                       xlabel="seconds")))
    tokens = {}
    for r in runs:
        if r["tokens_out"] or r["tokens_in"]:
            t = tokens.setdefault(r["stage"], [0, 0])
            t[0] += r["tokens_in"]
            t[1] += r["tokens_out"]
    if tokens:
        names = list(tokens)
        parts.append(figure(plots.grouped(names, {"tokens in": [tokens[n][0] for n in names], "tokens out": [tokens[n][1] for n in names]},
                                          "LLM tokens per stage, all runs")))
    parts.append(table(["stage", "run", "status", "started (UTC)", "seconds", "requests", "tokens in", "tokens out"],
                       [[r["stage"], r["run_id"], r["status"], r["started_at"][:19].replace("T", " "), f"{r['seconds']:.1f}" if r["seconds"] is not None else None, r["requests"], r["tokens_in"], r["tokens_out"]]
                        for r in runs[::-1][:60]], numeric={4, 5, 6, 7}))
    if len(runs) > 60:
        parts.append(note(f"the latest 60 of {len(runs)} stage runs"))
    page.section("stages", "Time and tokens per stage", *parts)


def _recall_section(page: Page, data: dict) -> None:
    r = data["recall"]
    parts = [figure(plots.histogram(counts, r["edges"], f"recall scores, round {rnd} ({sum(counts):,} documents)", "score",
                                    r["threshold"])) for rnd, counts in sorted(r["rounds"].items())]
    keys = sorted({k for m in r["models"] for k in m["metrics"]})
    parts.append(note("held-out metrics of each round's fastText model"))
    parts.append(table(["round", "model", "train", "test", *keys],
                       [[m["round"], m["model_id"], m["train"], m["test"], *[m["metrics"].get(k) for k in keys]] for m in r["models"]]))
    page.section("recall", "Recall: score distribution and held-out metrics", *parts)


def _domain_section(page: Page, data: dict) -> None:
    d = data["domains"]
    parts = []
    if d["verdicts"]:
        parts.append(figure(plots.hbar(sorted(d["verdicts"].items(), key=lambda kv: -kv[1]), "domains by the judge's verdict")))
    parts.append(table(["domain", "round", "documents", "recalled", "mean score", "candidate", "verdict", "reason"], d["rows"], text={7}))
    if d.get("total", 0) > len(d["rows"]):
        parts.append(note(f"the {len(d['rows'])} largest of {d['total']} domains"))
    page.section("domains", "Domains and the judge's verdicts", *parts)


def _fetch_section(page: Page, data: dict) -> None:
    rows = data["fetches"]
    if not rows:
        page.section("fetch", "Selections and byte-range fetches", note("nothing selected from Common Crawl's index yet"))
        return
    expansion = [r for r in rows if r[1] == "accepted_domains"]
    parts = [note("each selection from the index, why its records were chosen, and what fetching them gave; "
                  "accepted_domains rows are recall's domain expansion (MAmmoTH2's loop)")]
    if expansion:
        parts.append(figure(plots.hbar([(f"round {r[2]} · {r[0]}", r[6]) for r in expansion],
                                       "documents each domain expansion brought in")))
    parts.append(table(["selection run", "reason", "round", "crawls", "records", "fetched ok", "documents", "dropped", "failed"],
                       rows, numeric={4, 5, 6, 7, 8}))
    page.section("fetch", "Selections and byte-range fetches", *parts)


def _dedup_section(page: Page, data: dict) -> None:
    sizes = data["dedup_cluster_sizes"]
    parts = [figure(plots.columns([(k, v) for k, v in sizes.items()], "clusters by size", "documents in the cluster", "clusters"))] if sizes else []
    parts.append(table(["cluster size", "clusters"], [[int(k), v] for k, v in sizes.items()]))
    page.section("dedup", "Deduplication: cluster sizes", *parts)


def _contamination_section(page: Page, data: dict) -> None:
    c = data["contamination"]
    parts = []
    if c["rows"]:
        cols = c["columns"]
        flagged = [i for i, name in enumerate(cols) if name in ("pages t1", "pairs t1", "pairs t2 flagged", "t3 same")]
        parts.append(figure(plots.grouped([r[0] for r in c["rows"]], {cols[i]: [r[i] for r in c["rows"]] for i in flagged},
                                          "units flagged per benchmark and tier")))
    parts.append(table(c["columns"], c["rows"]))
    page.section("contamination", "Contamination per benchmark and tier", *parts)


def _gate_section(page: Page, data: dict) -> None:
    g = data["gate"]
    parts = [note(f"{g['passed']:,} of {g['checked']:,} refined pairs passed; a failed pair may have several reasons")]
    if g["reasons"]:
        parts.append(figure(plots.hbar(list(g["reasons"].items()), "why pairs failed the quality gate", color=plots.ORANGE)))
    parts.append(table(["reason", "pairs"], [[k, v] for k, v in g["reasons"].items()]))
    page.section("gate", "Quality gate: rejection reasons", *parts)


def _labels_section(page: Page, data: dict) -> None:
    h = data.get("labels")
    if not h:
        page.section("labels", "Answer types, subjects and difficulty", note("no pair labelled yet (webinstruct label)"))
        return
    total = sum(h["answer_type"].values())
    parts = [note(f"{h['verifiable']:,} of {total:,} published pairs have a verifiable final answer; difficulty comes from "
                  "synthesize's pass rates (not labelled: the question was not sampled)")]
    v = h.get("verifier")
    if v:
        parts.append(note(f"LLM verifier (synthesize.verifier = llm), apart from the rules: {v['equal']:,} answer pairs judged "
                          f"equal, {v['different']:,} different, {v['undecided']:,} undecided; {v['parse_errors']:,} replies did not parse"))
    for column, title in (("answer_type", "answer type"), ("category", "subject"), ("difficulty", "difficulty")):
        if h[column]:
            parts.append(figure(plots.hbar(list(h[column].items()), f"published pairs by {title}")))
            parts.append(table([title, "pairs"], [[k, v] for k, v in h[column].items()]))
    page.section("labels", "Answer types, subjects and difficulty", *parts)


def _semdedup_section(page: Page, data: dict) -> None:
    d = data.get("semdedup")
    if not d:
        page.section("semdedup", "Semantic dedup", note("off (semdedup.enabled = false), or nothing published yet"))
        return
    parts = [note(f"{d['removed']:,} pairs left out as rewordings of a published pair (question embeddings at cosine >= "
                  f"{d['threshold']} inside a k-means cluster, with the same final answer or, without two, the same numbers)")]
    rows = [[_cut(g["kept"], 200), g["size"], " | ".join(f"{r['similarity']:.3f}: {_cut(r['question'], 200)}" for r in g["removed"])]
            for g in d["examples"]]
    if rows:
        parts.append(table(["kept question", "group size", "left out (cosine: question)"], rows, text={0, 2}))
    page.section("semdedup", "Semantic dedup", *parts)


def _pii_section(page: Page, data: dict) -> None:
    p = data.get("pii")
    if not p:
        page.section("pii", "Personal data", note("not checked (pii.mode = off, or nothing published yet)"))
        return
    what = ("checked pairs had personal data; none is published (pii.mode = drop)" if p["mode"] == "drop"
            else "published pairs had personal data, redacted with typed placeholders")
    parts = [note(f"{p['pairs']:,} {what}")]
    if p["types"]:
        parts.append(figure(plots.hbar(list(p["types"].items()), "personal data found, per type")))
        parts.append(table(["type", "findings"], [[k, v] for k, v in p["types"].items()]))
    page.section("pii", "Personal data", *parts)


def _sources_section(page: Page, data: dict) -> None:
    p = data["pairs_per_source"]
    parts = [figure(plots.hbar(list(p.items()), "published pairs per source domain"))] if p else []
    parts.append(table(["source domain", "pairs"], [[k, v] for k, v in list(p.items())[:100]]))
    page.section("sources", "Published pairs per source domain", *parts)


def _sample_section(page: Page, data: dict) -> None:
    rows = [[str(r["index"]), _cut(r["question"]), _cut(r["answer"]), r["method"], r["quality"], Link(r["url"], r["url"]),
             f"{Path(r['warc_path'] or '').name} @ {r['warc_offset']}"] for r in data["sample_pairs"]]
    page.section("sample", "Published pairs (highest quality first) with their lineage",
                 table(["index", "question", "answer", "method", "quality", "page", "WARC file @ offset"], rows, numeric={0, 4},
                       text={1, 2, 5}))


def _cut(text: str | None, n: int = 280) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= n else text[: n - 1] + "…"
