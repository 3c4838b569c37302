"""Synthesize (OpenMathInstruct-2): `synthesize.n` sampled solutions per question ->
`solutions`, one vote per question -> `solution_votes`; with `--augment`, new problems
written from the published questions -> `synth_questions`, screened -> `synth_screen`.

- Questions: the published pairs (`webinstruct`), rows of a Q-A file registered with
  `--input` (kept in `synth_questions`, so later runs solve them without the file), and
  new problems that passed the screen.
- Solutions: one engine request per (question, sample) with its own seed
  (lib.qa.synthesis.sample_seed), the concise chain-of-thought prompt `prompts/solve.txt`;
  each row holds the solution, its extracted final answer, tokens, teacher, prompt version
  and lineage (pair, page). Committed every `synthesize.commit_questions` questions, like
  extract and refine: a crash loses one slice, a rerun draws only missing samples, and a
  larger `n` draws only the new sample numbers.
- Votes: answers grouped by equivalence (math-verify, not strings), the majority, its
  votes and agreement, and whether it agrees with the page's own answer; `synthesize.keep`
  picks the kept solutions (majority | reference | both). With `synthesize.verifier = llm`
  the answer pairs the rules leave open (words, units, text) are first asked of an LLM in
  both orders (`verify_answer` -> `answer_verdicts`, raw replies kept); groups it calls
  equal are joined, and its matches are counted apart from the rules'.
- Augmentation: one new problem per seed and prompt (`augment_similar`, `augment_harder`);
  a problem that copies an existing question (MinHash over the pair-dedup settings) or that
  decontamination's three tiers flag is recorded with its reason and never solved.

    webinstruct synthesize [--augment] [--input FILE --question-field F --answer-field A]
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Callable

from pyspark.sql import Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from webinstruct.jobs.core import scope, verdicts
from webinstruct.jobs.core import synthesis as keys
from webinstruct.jobs.core.config import Config
from webinstruct.jobs.core.errors import LlmStageError, MissingInput
from webinstruct.jobs.core.lake import Lake
from webinstruct.jobs.core.lease import writes
from webinstruct.jobs.core.llm_stage import check_task, engine_spec, generate_slices, preflight, sampling, status_counters
from webinstruct.jobs.core.runs import RunRecorder
from webinstruct.jobs.core.summary import llm_summary
from webinstruct.jobs.core.tables import ANSWER_VERDICTS, SOLUTION_VOTES, SOLUTIONS, SYNTH_QUESTIONS, SYNTH_SCREEN
from webinstruct.jobs.core.views import latest_attempt
from webinstruct.lib.dedup.minhash import LshParams
from webinstruct.lib.llm.prompts import PromptError, load_prompt
from webinstruct.lib.llm.types import Sampling
from webinstruct.lib.qa.answers import AnswerFileError, read_rows
from webinstruct.lib.qa.synthesis import AugmentTask, KeepRule, SolveTask, question_id
from webinstruct.lib.qa.verify import AnswerPairTask
from webinstruct.jobs.core.pair_dedup import BUCKET_HEADS
from webinstruct.udfs.gate import jaccard_map
from webinstruct.udfs.synthesis import VERIFY_COLUMNS, sketch_map, verify_candidates, vote_group

# decontamination of new problems, given by the caller (the CLI or the pipeline) so this
# stage imports no other: (spark, cfg, lake, [(question, answer)]) -> (benchmarks
# fingerprint, one result per pair with flagged, tier, method, benchmark, item_id, score)
Screen = Callable[..., tuple[str, list[dict]]]
MAX_FILE_ROWS = 1_000_000
log = logging.getLogger("webinstruct.synthesize")
SKETCH = T.StructType([T.StructField("question_id", T.StringType()), T.StructField("band_keys", T.ArrayType(T.LongType())),
                       T.StructField("shingle_set", T.BinaryType()), T.StructField("number_key", T.StringType())])
# the vote's LLM-verifier counts: staged with the votes, counted, not stored in them
VOTE_EXTRA = [T.StructField("llm_merges", T.IntegerType()), T.StructField("reference_by", T.StringType())]
JACCARD = T.StructType([T.StructField("a", T.StringType()), T.StructField("b", T.StringType()), T.StructField("jaccard", T.DoubleType())])


def _prompt(name: str, key: str):
    try:
        return load_prompt(name)
    except PromptError as exc:
        raise LlmStageError(f"{key}: {exc}") from None


def lsh_params(cfg: Config) -> LshParams:
    return LshParams.for_threshold(cfg.gate.dedup_threshold, cfg.dedup.num_perm, cfg.gate.dedup_ngram, cfg.dedup.seed)


@writes("synthesize")
def run(spark, cfg: Config, lake: Lake, *, augment: bool = False, screen: Screen | None = None, input_file: str | None = None,
        question_field: str = "question", answer_field: str = "answer") -> dict:
    s = cfg.synthesize
    prompt = _prompt(s.prompt, "synthesize.prompt")
    spec = engine_spec(cfg, keys.teacher(cfg), s.tokenizer or None)
    preflight(spark, cfg, spec)
    skey = keys.synth_key(cfg, prompt.version)
    recorder = RunRecorder(lake, "synthesize", cfg, args={"teacher": spec.model, "prompt_version": prompt.version, "n": s.n,
                                                          "keep": s.keep, "augment": augment, "input": input_file or ""})
    counters: Counter = Counter()
    if input_file:
        counters.update(register_file(spark, lake, input_file, question_field, answer_field, recorder.run_id))
    fingerprint = None
    if augment or (screen is not None and lake.exists(keys.SCREEN)):
        if screen is None:
            raise LlmStageError("synthesize --augment needs the decontamination check (run it from the CLI or the pipeline)")
        fingerprint, _ = screen(spark, cfg, lake, [])
    if augment:
        counters.update(_augment(spark, cfg, lake, spec, recorder.run_id))
        counters.update(_screen(spark, cfg, lake, screen, fingerprint, recorder.run_id))
    questions = keys.questions(lake, cfg, fingerprint)
    if questions is None:
        raise MissingInput(f"no questions to solve in lake {lake.root}: publish pairs first (webinstruct run) or register a file with --input")

    def make_task(tokenizer):
        return SolveTask(prompt, spec.model, tokenizer, cfg.llm.max_model_len, s.max_tokens, s.seed, s.max_question_chars, skey)

    check_task(spec, make_task)
    todo = _missing_samples(spark, lake, questions, skey, s.n, s.retry_errors)
    done = generate_slices(
        spark, cfg, lake, stage="synthesize", table=keys.SOLUTIONS, todo=todo, per_commit=s.commit_questions, spec=spec,
        sampling=sampling(s, s.seed), make_task=make_task, out_schema=SOLUTIONS, stamp="solved_at", run_id=recorder.run_id,
        scratch_parts=("synthesize", recorder.run_id),
    )
    counters["questions_in"] = done.pop("records_in", 0)
    counters.update(done)
    counters.update(status_counters(lake, keys.SOLUTIONS, recorder.run_id))
    counters.update(_vote(spark, lake, cfg, questions, skey, recorder.run_id))
    counters = dict(counters)
    recorder.finish("ok", counters)
    return counters


def register_file(spark, lake: Lake, path: str, question_field: str, answer_field: str, run_id: str) -> Counter:
    """The file's rows as `synth_questions` (source file:<name>); rows already there are skipped."""
    try:
        rows = read_rows(path, MAX_FILE_ROWS)
    except AnswerFileError as exc:
        raise MissingInput(str(exc)) from None
    if rows and (not isinstance(rows[0], dict) or question_field not in rows[0]):
        fields = ", ".join(sorted(rows[0])) if isinstance(rows[0], dict) else type(rows[0]).__name__
        raise MissingInput(f"--question-field {question_field!r} is not a field of {path} (fields: {fields})")
    if rows and answer_field not in rows[0]:
        raise MissingInput(f"--answer-field {answer_field!r} is not a field of {path} (fields: {', '.join(sorted(rows[0]))})")
    if len(rows) == MAX_FILE_ROWS:
        log.warning("synthesize: %s has more than %d rows; the first %d are registered", path, MAX_FILE_ROWS, MAX_FILE_ROWS)
    name = Path(path).name
    source = f"file:{name}"
    out, skipped = [], 0
    for i, row in enumerate(rows):
        q = row.get(question_field) if isinstance(row, dict) else None
        if not isinstance(q, str) or not q.strip():
            skipped += 1
            continue
        a = row.get(answer_field)
        out.append({"question_id": question_id("file", name, str(i), q.strip()), "kind": source, "status": "ok", "question": q.strip(),
                    "answer": None if a is None else str(a), "source": source, "run_id": run_id})
    schema = T.StructType([f for f in SYNTH_QUESTIONS.fields if f.name != "generated_at"])
    df = spark.createDataFrame([tuple(r.get(c) for c in schema.fieldNames()) for r in out], schema)
    if lake.exists(keys.QUESTIONS):
        df = df.join(lake.read(keys.QUESTIONS).select("question_id"), "question_id", "left_anti")
    df = df.withColumn("generated_at", F.current_timestamp()).select(*SYNTH_QUESTIONS.fieldNames())
    commit = lake.append(keys.QUESTIONS, df, txn=(f"webinstruct.synthesize.file.{run_id}", 0))
    return Counter(file_rows=len(rows), file_questions_added=commit.rows, file_rows_skipped=skipped)


def _missing_samples(spark, lake: Lake, questions, skey: str, n: int, retry_errors: bool):
    """(question_id, question, samples still to draw, lineage) per question."""
    wanted = questions.crossJoin(spark.range(n).select(F.col("id").cast("int").alias("sample")))
    if lake.exists(keys.SOLUTIONS):
        done = latest_attempt(lake.read(keys.SOLUTIONS).where(F.col("synth_key") == skey), ["solution_id"])
        if retry_errors:
            done = done.where(F.col("status") != "engine_error")
        wanted = wanted.join(done.select("question_id", "sample"), ["question_id", "sample"], "left_anti")
    return wanted.groupBy("question_id", "question", "source", "qa_id", "refiner", "doc_id").agg(
        F.sort_array(F.collect_list("sample")).alias("samples"))


def _vote(spark, lake: Lake, cfg: Config, questions, skey: str, run_id: str) -> Counter:
    """One solution_votes row per question whose n samples are all drawn, once per vote key;
    with `synthesize.verifier = llm`, the pairs the rules leave open are asked first."""
    s = cfg.synthesize
    if not lake.exists(keys.SOLUTIONS):
        return Counter()
    vkey = keys.vote_key(cfg, skey)
    sols = latest_attempt(lake.read(keys.SOLUTIONS).where((F.col("synth_key") == skey) & (F.col("sample") < s.n)), ["solution_id"])
    complete = sols.groupBy("question_id").agg(F.countDistinct("sample").alias("k"),
                                               F.sum((F.col("status") == "engine_error").cast("int")).alias("errors"))
    complete = complete.where((F.col("k") == s.n) & ((F.col("errors") == 0) | F.lit(not s.retry_errors))).select("question_id")
    if lake.exists(keys.VOTES):
        complete = complete.join(lake.read(keys.VOTES).where(F.col("vote_key") == vkey).select("question_id"), "question_id", "left_anti")
    data = (sols.select("question_id", "sample", "status", "answer", "synth_key").join(complete, "question_id", "left_semi")
            .join(questions.select(*keys.QUESTION_COLUMNS), "question_id"))
    counters: Counter = Counter()
    if verdicts.enabled(cfg):
        asked, waiting = _verify(spark, cfg, lake, data, run_id)
        counters.update(asked)
        if waiting is not None:  # a pair without a final reply (an engine error to retry): not voted until it has one
            data = data.join(waiting, "question_id", "left_anti")
        judged = verdicts.judged(lake, cfg)
        if judged is not None:
            data = data.join(judged, "question_id", "left")
    schema = T.StructType([f for f in SOLUTION_VOTES.fields if f.name not in ("run_id", "voted_at")] + VOTE_EXTRA)
    rule = KeepRule(s.keep, s.min_votes, s.min_agreement, s.answer_timeout_s)
    fn = vote_group(rule, vkey, schema.fieldNames(), s.verifier_max_groups if verdicts.enabled(cfg) else 0)
    scratch = lake.scratch("synthesize", run_id, "votes")
    try:  # staged once: the votes are appended and counted from the same rows
        data.groupBy("question_id").applyInPandas(fn, schema).write.mode("overwrite").parquet(scratch)
        staged = spark.read.parquet(scratch)
        out = staged.withColumn("run_id", F.lit(run_id)).withColumn("voted_at", F.current_timestamp()).select(*SOLUTION_VOTES.fieldNames())
        commit = lake.append(keys.VOTES, out, txn=(f"webinstruct.synthesize.vote.{run_id}", 0))
        counters["questions_voted"] = commit.rows
        if commit.rows:
            agg = staged.agg(F.sum(F.size("kept_samples")).alias("kept"), F.sum(F.col("majority_ok").cast("int")).alias("ok"),
                             F.sum(F.col("reference_agrees").cast("int")).alias("agree"),
                             F.count("reference_agrees").alias("compared"), F.sum((F.size("kept_samples") > 0).cast("int")).alias("q"),
                             F.sum((F.col("llm_merges") > 0).cast("int")).alias("merged_q"), F.sum("llm_merges").alias("merges"),
                             F.sum((F.col("reference_by") == "llm").cast("int")).alias("agree_llm")).collect()[0]
            counters.update(solutions_kept=int(agg["kept"] or 0), questions_with_majority=int(agg["ok"] or 0),
                            questions_kept=int(agg["q"] or 0), reference_agrees=int(agg["agree"] or 0),
                            reference_compared=int(agg["compared"] or 0))
            if verdicts.enabled(cfg):
                counters.update(votes_merged_by_llm=int(agg["merged_q"] or 0), groups_merged_by_llm=int(agg["merges"] or 0),
                                reference_agrees_by_llm=int(agg["agree_llm"] or 0))
    finally:
        lake.remove_tree(scratch)
    return counters


def _verify(spark, cfg: Config, lake: Lake, data, run_id: str):
    """Ask the LLM verifier, in both orders, about each answer pair of these questions that
    the rules leave open and that has no final reply from the current verifier yet.
    Returns (counters, question ids that still wait for a final reply, or None)."""
    s = cfg.synthesize
    prompt = verdicts.prompt(cfg)
    schema = T.StructType([T.StructField(c, T.StringType()) for c in VERIFY_COLUMNS])
    cands = data.groupBy("question_id").applyInPandas(verify_candidates(s.verifier_max_groups, s.answer_timeout_s), schema)
    scratch = lake.scratch("synthesize", run_id, "verify-candidates")
    try:
        cands.write.mode("overwrite").parquet(scratch)
        cands = spark.read.parquet(scratch)
        counters = Counter(verifier_pairs_open=cands.count())
        everything = cands
        if lake.exists(verdicts.TABLE):
            cands = cands.join(_final(lake, cfg), verdicts.KEYS, "left_anti")
        if not counters["verifier_pairs_open"] or cands.limit(1).count() == 0:
            return counters, None
        model = verdicts.model(cfg)
        spec = engine_spec(cfg, model, (s.tokenizer or None) if model == keys.teacher(cfg) else None)
        preflight(spark, cfg, spec)

        def make_task(tokenizer):
            return AnswerPairTask(prompt, model, tokenizer, cfg.llm.max_model_len, s.verifier_max_tokens)

        check_task(spec, make_task)
        samp = Sampling(temperature=0.0, top_p=1.0, max_tokens=s.verifier_max_tokens, seed=s.seed)
        done = generate_slices(
            spark, cfg, lake, stage="verify", table=verdicts.TABLE, todo=cands, per_commit=s.commit_questions, spec=spec,
            sampling=samp, make_task=make_task, out_schema=ANSWER_VERDICTS, stamp="verified_at", run_id=run_id,
            scratch_parts=("synthesize", run_id, "verify"),
        )
        counters["verifier_pairs_asked"] = done.get("records_in", 0)
        mine = lake.read(verdicts.TABLE).where(F.col("run_id") == run_id)
        for r in mine.groupBy("status").count().collect():
            counters[f"verifier_replies_{r['status']}"] = int(r["count"])
        asked = mine.select(*verdicts.KEYS).distinct()
        for r in verdicts.decided(lake, cfg).join(asked, verdicts.KEYS).groupBy("equivalent").count().collect():
            name = {True: "equal", False: "different"}.get(r["equivalent"], "undecided")
            counters[f"verifier_pairs_{name}"] = int(r["count"])
        waiting = everything.join(_final(lake, cfg), verdicts.KEYS, "left_anti").select("question_id").distinct()
        waiting = scope.current().materialize(waiting, "verify-waiting")  # read back before the scratch goes
        counters["verifier_questions_waiting"] = waiting.count()
        return counters, waiting
    finally:
        lake.remove_tree(scratch)


def _final(lake: Lake, cfg: Config):
    """(question_id, pair_hash) of pairs with a final reply in both orders."""
    final = verdicts.replies(lake, cfg).groupBy(*verdicts.KEYS).agg(F.countDistinct("order").alias("orders"))
    return final.where(F.col("orders") == 2).select(*verdicts.KEYS)


def _augment(spark, cfg: Config, lake: Lake, spec, run_id: str) -> Counter:
    """One new problem per published question and augmentation prompt not asked yet."""
    s = cfg.synthesize
    prompts = [_prompt(name, "synthesize.augment_prompts") for name in s.augment_prompts]
    if not prompts:
        raise LlmStageError("synthesize.augment_prompts is empty: nothing to write new problems with")
    seeds = keys.web_questions(lake)
    if seeds is None:
        raise MissingInput(f"no published pairs in lake {lake.root} to write new problems from (webinstruct run first)")
    seeds = seeds.select("question_id", "question", "source", "qa_id", "refiner", "doc_id")
    if lake.exists(keys.QUESTIONS):
        asked = lake.read(keys.QUESTIONS).where(F.col("seed_question_id").isNotNull() & (F.col("model") == spec.model)
                                                & F.col("prompt_version").isin([p.version for p in prompts]))
        seeds = seeds.join(asked.select(F.col("seed_question_id").alias("question_id")).distinct(), "question_id", "left_anti")
    if s.augment_seeds:
        seeds = seeds.orderBy("question_id").limit(s.augment_seeds)

    def make_task(tokenizer):
        return AugmentTask(prompts, spec.model, tokenizer, cfg.llm.max_model_len, s.augment_max_tokens, s.max_question_chars, s.seed)

    check_task(spec, make_task)
    samp = Sampling(temperature=s.augment_temperature, top_p=s.top_p, max_tokens=s.augment_max_tokens, seed=s.seed,
                    repetition_penalty=s.repetition_penalty)
    done = generate_slices(
        spark, cfg, lake, stage="augment", table=keys.QUESTIONS, todo=seeds, per_commit=s.commit_questions, spec=spec, sampling=samp,
        make_task=make_task, out_schema=SYNTH_QUESTIONS, stamp="generated_at", run_id=run_id, scratch_parts=("augment", run_id),
    )
    out = Counter(augment_seeds=done.get("records_in", 0))
    if lake.exists(keys.QUESTIONS):
        for r in lake.read(keys.QUESTIONS).where(F.col("run_id") == run_id).groupBy("status").count().collect():
            out[f"augmented_{r['status']}"] = int(r["count"])
    return out


def _screen(spark, cfg: Config, lake: Lake, screen: Screen, fingerprint: str, run_id: str) -> Counter:
    """Each new problem not screened under the current key: a copy of an existing question
    (or of an earlier new one) is `duplicate`, one the three decontamination tiers flag is
    `contaminated`, the rest are `kept`."""
    if not lake.exists(keys.QUESTIONS):
        return Counter()
    skey = keys.screen_key(cfg, fingerprint)
    pending = latest_attempt(lake.read(keys.QUESTIONS), ["question_id"]).where(
        F.col("seed_question_id").isNotNull() & (F.col("status") == "ok")).select("question_id", "question")
    if lake.exists(keys.SCREEN):
        pending = pending.join(lake.read(keys.SCREEN).where(F.col("screen_key") == skey).select("question_id"), "question_id", "left_anti")
    lsh = lsh_params(cfg)
    sketched = scope.current().persist(pending.mapInPandas(sketch_map(lsh), SKETCH).join(pending, "question_id"))
    if sketched.count() == 0:
        return Counter()
    copies = _copies(lake, cfg, sketched, skey, lsh)
    rows = sketched.join(copies, "question_id", "left").collect()
    fresh = [r for r in rows if r["matched"] is None]
    _, results = screen(spark, cfg, lake, [(r["question"], "") for r in fresh])
    flagged = {r["question_id"]: res for r, res in zip(fresh, results) if res["flagged"]}
    out = []
    for r in rows:
        verdict, reason, matched, score = "kept", None, None, None
        if r["matched"] is not None:
            verdict, matched, score = "duplicate", r["matched"], float(r["jaccard"])
            reason = f"copy of {r['matched']} (Jaccard {r['jaccard']:.2f})"
        elif r["question_id"] in flagged:
            f = flagged[r["question_id"]]
            verdict, matched, score = "contaminated", f"{f['benchmark']}/{f['item_id']}", f.get("score")
            reason = f"tier {f['tier']} {f['method']}: {f['benchmark']} item {f['item_id']}"
        out.append((r["question_id"], skey, verdict, reason, matched, None if score is None else float(score),
                    [int(k) for k in r["band_keys"]], bytes(r["shingle_set"]), r["number_key"], run_id))
    schema = T.StructType([f for f in SYNTH_SCREEN.fields if f.name != "screened_at"])
    df = spark.createDataFrame(out, schema).withColumn("screened_at", F.current_timestamp())
    lake.append(keys.SCREEN, df, txn=(f"webinstruct.synthesize.screen.{run_id}", 0))
    return Counter(f"screened_{v[2]}" for v in out)


def _copies(lake: Lake, cfg: Config, sketched, skey: str, lsh: LshParams):
    """(question_id, matched, jaccard): the best earlier question each new problem copies.
    Earlier = a published question, a registered file row, a kept new problem, or a new
    problem of this batch with a smaller id."""
    existing = [keys.web_questions(lake)]
    if lake.exists(keys.QUESTIONS):
        files = latest_attempt(lake.read(keys.QUESTIONS), ["question_id"]).where(
            F.col("seed_question_id").isNull() & (F.col("status") == "ok"))
        existing.append(files.select("question_id", "question"))
    known = [e.select("question_id", "question") for e in existing if e is not None]
    olds = None
    if known:
        union = known[0]
        for k in known[1:]:
            union = union.unionByName(k)
        olds = union.mapInPandas(sketch_map(lsh), SKETCH).withColumn("_new", F.lit(False))
    if lake.exists(keys.SCREEN):
        kept = lake.read(keys.SCREEN).where((F.col("screen_key") == skey) & (F.col("verdict") == "kept"))
        kept = kept.select("question_id", "band_keys", "shingle_set", "number_key").withColumn("_new", F.lit(False))
        olds = kept if olds is None else olds.unionByName(kept)
    news = sketched.select("question_id", "band_keys", "shingle_set", "number_key").withColumn("_new", F.lit(True))
    everyone = news if olds is None else olds.unionByName(news)
    a = everyone.select(F.col("question_id").alias("a"), F.col("_new").alias("a_new"), F.col("shingle_set").alias("set_a"),
                        F.col("number_key").alias("num_a"), F.posexplode("band_keys").alias("band", "key"))
    b = news.select(F.col("question_id").alias("b"), F.col("shingle_set").alias("set_b"), F.col("number_key").alias("num_b"),
                    F.posexplode("band_keys").alias("band", "key"))
    # a crowded bucket (a template question on thousands of pages) is compared through its
    # first BUCKET_HEADS members only, as in publish's pair dedup
    a = a.withColumn("_r", F.row_number().over(Window.partitionBy("band", "key").orderBy("a_new", "a"))).where(
        F.col("_r") <= BUCKET_HEADS).drop("_r")
    cands = (a.join(b, ["band", "key"]).where((F.col("a") != F.col("b")) & (~F.col("a_new") | (F.col("a") < F.col("b"))))
             .where(F.col("num_a").eqNullSafe(F.col("num_b"))).select("a", "b", "set_a", "set_b").dropDuplicates(["a", "b"]))
    verified = cands.mapInPandas(jaccard_map(), JACCARD).where(F.col("jaccard") >= cfg.gate.dedup_threshold)
    best = verified.groupBy("b").agg(F.max(F.struct("jaccard", "a")).alias("m"))
    return best.select(F.col("b").alias("question_id"), F.col("m.a").alias("matched"), F.col("m.jaccard").alias("jaccard"))


def summary_rows(counters: dict, lake: Lake | None = None) -> list[tuple[str, object]]:
    rows = []
    if counters.get("file_rows"):
        rows += [("file rows read", counters["file_rows"]), ("  new questions registered", counters.get("file_questions_added", 0))]
    if "augment_seeds" in counters:
        rows += [("seed questions augmented (new)", counters["augment_seeds"])]
        rows += [(f"  new problems {k[10:]}", v) for k, v in sorted(counters.items()) if k.startswith("augmented_")]
        rows += [(f"  screened {k[9:]}", v) for k, v in sorted(counters.items()) if k.startswith("screened_")]
    rows += llm_summary(counters, "questions with samples to draw", "questions_in")
    rows += [("questions voted (new)", counters.get("questions_voted", 0)),
             ("  with a majority (min_votes, min_agreement)", counters.get("questions_with_majority", 0)),
             ("  with kept solutions", counters.get("questions_kept", 0)),
             ("solutions kept", counters.get("solutions_kept", 0)),
             ("majority agrees with the page's answer", f"{counters.get('reference_agrees', 0)} of {counters.get('reference_compared', 0)}")]
    if "verifier_pairs_open" in counters or "votes_merged_by_llm" in counters:
        rows += [("answer pairs the rules left open (LLM verifier)", counters.get("verifier_pairs_open", 0)),
                 ("  asked now, both orders", counters.get("verifier_pairs_asked", 0)),
                 ("  judged equal / different / undecided",
                  f"{counters.get('verifier_pairs_equal', 0)} / {counters.get('verifier_pairs_different', 0)} / "
                  f"{counters.get('verifier_pairs_undecided', 0)}"),
                 ("  replies that did not parse", counters.get("verifier_replies_parse_error", 0)),
                 ("  questions waiting for a reply (engine errors, asked again next run)", counters.get("verifier_questions_waiting", 0)),
                 ("votes whose groups the LLM joined", counters.get("votes_merged_by_llm", 0)),
                 ("majority equals the page's answer by the LLM only", counters.get("reference_agrees_by_llm", 0))]
    return rows
