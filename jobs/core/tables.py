"""Declared schemas of the tables the jobs write; writes are cast to these."""

from pyspark.sql import types as T

DOCUMENT_FIELDS = [
    ("doc_id", T.StringType()),  # blake2b-128 of url + text hash: same page, same id
    ("url", T.StringType()),
    ("host", T.StringType()),
    ("domain", T.StringType()),  # registered domain (public suffix list)
    ("crawl", T.StringType()),  # e.g. CC-MAIN-2024-22, from warcinfo isPartOf or the path
    ("warc_path", T.StringType()),
    ("warc_offset", T.LongType()),  # compressed offset of the record's gzip member
    ("warc_record_id", T.StringType()),
    ("fetch_time", T.TimestampType()),
    ("http_status", T.IntegerType()),
    ("content_type", T.StringType()),
    ("charset", T.StringType()),
    ("charset_source", T.StringType()),  # bom | http | meta | detected | fallback
    ("lang", T.StringType()),
    ("lang_score", T.DoubleType()),
    ("title", T.StringType()),
    ("text", T.StringType()),
    ("text_hash", T.StringType()),
    ("html_bytes", T.LongType()),
    ("text_chars", T.LongType()),
    ("word_count", T.LongType()),
]

# Question-answer pairs a page states in schema.org markup (lib.qa.markup), one per answer.
MARKUP_PAIR_FIELDS = [
    ("position", T.IntegerType()),  # order on the page
    ("question", T.StringType()),
    ("answer", T.StringType()),
    ("accepted", T.BooleanType()),  # acceptedAnswer (else a suggestedAnswer)
    ("votes", T.LongType()),  # upvoteCount, where given
    ("schema_type", T.StringType()),  # QAPage | FAQPage | Question
    ("syntax", T.StringType()),  # json-ld | microdata | rdfa
    ("question_url", T.StringType()),
    ("answer_url", T.StringType()),
    ("author", T.StringType()),  # the answer's author
    ("date_created", T.StringType()),  # the answer's date, as the page gives it
]

QA_MARKUP = T.StructType(
    [T.StructField("doc_id", T.StringType())]
    + [T.StructField(n, t) for n, t in MARKUP_PAIR_FIELDS]
    + [T.StructField(n, t) for n, t in [("url", T.StringType()), ("warc_path", T.StringType()),
                                          ("warc_offset", T.LongType()), ("warc_record_id", T.StringType()),
                                          ("run_id", T.StringType()), ("ingested_at", T.TimestampType())]]
)

DOCUMENTS = T.StructType(
    [T.StructField(n, t) for n, t in DOCUMENT_FIELDS]
    + [T.StructField("run_id", T.StringType()), T.StructField("ingested_at", T.TimestampType())]
)

FILE_REPORT_FIELDS = [
    ("path", T.StringType()),
    ("status", T.StringType()),  # ok | partial | failed
    ("error", T.StringType()),
    ("format", T.StringType()),  # warc | arc
    ("compression", T.StringType()),  # none | gzip | lz4 | zstd
    ("crawl", T.StringType()),
    ("records", T.LongType()),
    ("responses", T.LongType()),
    ("html", T.LongType()),  # HTTP 200 responses with an HTML payload
    ("kept", T.LongType()),  # documents that passed every filter
    ("drops", T.MapType(T.StringType(), T.LongType())),  # reason -> count
    ("seconds", T.DoubleType()),
]

WARC_FILES = T.StructType(
    [T.StructField(n, t) for n, t in FILE_REPORT_FIELDS]
    + [
        T.StructField("run_id", T.StringType()),
        T.StructField("started_at", T.TimestampType()),
        T.StructField("finished_at", T.TimestampType()),
    ]
)

# What an ingest task streams out: document rows, then one report row per archive.
INGEST_OUTPUT = T.StructType(
    [T.StructField("kind", T.StringType())]  # "doc" or "file"
    + [T.StructField(n, t) for n, t in DOCUMENT_FIELDS]
    + [T.StructField("markup", T.ArrayType(T.StructType([T.StructField(n, t) for n, t in MARKUP_PAIR_FIELDS]))),
       T.StructField("markup_errors", T.MapType(T.StringType(), T.LongType()))]
    + [T.StructField("report", T.StructType([T.StructField(n, t) for n, t in FILE_REPORT_FIELDS]))]
)

# Common Crawl's columnar URL index, the columns select reads (cc-index/table/cc-main/warc/,
# partitioned by crawl= and subset=), as the index stores them.
CC_INDEX_COLUMNS = [
    ("url", T.StringType()),
    ("url_host_name", T.StringType()),
    ("url_host_registered_domain", T.StringType()),
    ("url_path", T.StringType()),
    ("fetch_status", T.ShortType()),
    ("content_digest", T.StringType()),
    ("content_mime_detected", T.StringType()),
    ("content_languages", T.StringType()),  # ISO 639-3, comma-separated, most likely first
    ("warc_filename", T.StringType()),  # relative to the crawl's base URL
    ("warc_record_offset", T.IntegerType()),
    ("warc_record_length", T.IntegerType()),
    ("warc_segment", T.StringType()),
]

# One row per WARC record to fetch, with why it was chosen.
SELECTION = T.StructType(
    [
        T.StructField("warc_filename", T.StringType()),
        T.StructField("warc_record_offset", T.LongType()),
        T.StructField("warc_record_length", T.LongType()),
        T.StructField("url", T.StringType()),
        T.StructField("host", T.StringType()),
        T.StructField("domain", T.StringType()),  # url_host_registered_domain
        T.StructField("crawl", T.StringType()),
        T.StructField("content_digest", T.StringType()),
        T.StructField("content_mime_detected", T.StringType()),
        T.StructField("content_languages", T.StringType()),
        T.StructField("reason", T.StringType()),  # domains | domains_file | accepted_domains | filter
        T.StructField("round", T.IntegerType()),  # recall round whose verdicts chose the domain (else null)
        T.StructField("select_key", T.StringType()),  # the filters, hashed: what one `select` asked for
        T.StructField("run_id", T.StringType()),
        T.StructField("selected_at", T.TimestampType()),
    ]
)

# One row per selected record a fetch run settled: ok (a document), dropped (a filter
# said no: not_200, language, too_short, ...), duplicate (the same URL and digest fetched
# from another crawl), failed (the range could not be read or parsed; retried next run).
FETCHES = T.StructType(
    [
        T.StructField("warc_filename", T.StringType()),
        T.StructField("warc_record_offset", T.LongType()),
        T.StructField("url", T.StringType()),
        T.StructField("content_digest", T.StringType()),
        T.StructField("crawl", T.StringType()),
        T.StructField("location", T.StringType()),  # the file read, without credentials
        T.StructField("status", T.StringType()),
        T.StructField("reason", T.StringType()),
        T.StructField("doc_id", T.StringType()),
        T.StructField("span_start", T.LongType()),  # the request that held the record
        T.StructField("span_bytes", T.LongType()),
        T.StructField("run_id", T.StringType()),
        T.StructField("fetched_at", T.TimestampType()),
    ]
)

# What a fetch task streams out: document rows (as ingest's), one row per selected record
# it settled, and one row of request counters per task.
FETCH_OUTPUT = T.StructType(
    [T.StructField("kind", T.StringType())]  # "doc", "record" or "task"
    + [T.StructField(n, t) for n, t in DOCUMENT_FIELDS]
    + [T.StructField("markup", T.ArrayType(T.StructType([T.StructField(n, t) for n, t in MARKUP_PAIR_FIELDS]))),
       T.StructField("markup_errors", T.MapType(T.StringType(), T.LongType()))]
    + [T.StructField("record", T.StructType([
        T.StructField("warc_filename", T.StringType()), T.StructField("warc_record_offset", T.LongType()),
        T.StructField("status", T.StringType()), T.StructField("reason", T.StringType()),
        T.StructField("doc_id", T.StringType()), T.StructField("span_start", T.LongType()),
        T.StructField("span_bytes", T.LongType())])),
       T.StructField("task", T.MapType(T.StringType(), T.LongType()))]
)

# Dedup's intermediate frames (never stored): a sketched document, a verified pair.
DEDUP_SKETCH = T.StructType(
    [
        T.StructField("doc_id", T.StringType()),
        T.StructField("fetch_time", T.TimestampType()),
        T.StructField("score", T.DoubleType()),
        T.StructField("exact_hash", T.StringType()),
        T.StructField("shingles", T.LongType()),
        T.StructField("band_keys", T.ArrayType(T.LongType())),
        T.StructField("shingle_set", T.BinaryType()),  # only with verification; never stored
    ]
)

DEDUP_PAIR = T.StructType(
    [T.StructField("src", T.LongType()), T.StructField("dst", T.LongType()), T.StructField("jaccard", T.DoubleType())]
)

RUNS = T.StructType(
    [
        T.StructField("run_id", T.StringType()),
        T.StructField("stage", T.StringType()),
        T.StructField("status", T.StringType()),
        T.StructField("started_at", T.TimestampType()),
        T.StructField("finished_at", T.TimestampType()),
        T.StructField("config_hash", T.StringType()),
        T.StructField("args", T.StringType()),
        T.StructField("counters", T.MapType(T.StringType(), T.LongType())),
    ]
)

DEDUP = T.StructType(
    [
        T.StructField("doc_id", T.StringType()),
        T.StructField("exact_hash", T.StringType()),  # blake2b-128 of the normalised text
        T.StructField("cluster_id", T.StringType()),  # doc_id of the cluster's keeper
        T.StructField("cluster_size", T.LongType()),  # members when this row was written
        T.StructField("is_keeper", T.BooleanType()),
        T.StructField("reason", T.StringType()),  # unique (kept) | exact | near (dropped)
        T.StructField("band_keys", T.ArrayType(T.LongType())),  # LSH keys: later batches match on them
        T.StructField("shingles", T.LongType()),  # distinct word n-grams
        T.StructField("lsh", T.StringType()),  # sketch parameters; band keys match only under equal ones
        T.StructField("fetch_time", T.TimestampType()),  # keeper order, kept for later batches
        T.StructField("score", T.DoubleType()),  # recall score used for the keeper order, if any
        T.StructField("run_id", T.StringType()),
        T.StructField("deduped_at", T.TimestampType()),
    ]
)

_GENERATION_FIELDS = [
    T.StructField("raw_output", T.StringType()),  # the reply exactly as the engine returned it
    T.StructField("finish_reason", T.StringType()),  # stop | length | error
    T.StructField("error", T.StringType()),  # engine or parse error
    T.StructField("model", T.StringType()),
    T.StructField("prompt_version", T.StringType()),  # hash of the prompt template + schema
    # tokens of the generation this row came from (shared by the pairs of one reply)
    T.StructField("prompt_tokens", T.LongType()),
    T.StructField("completion_tokens", T.LongType()),
    T.StructField("generation_id", T.StringType()),  # one per engine request: sum tokens per id
    T.StructField("run_id", T.StringType()),
]

QA_EXTRACTED = T.StructType(
    [
        T.StructField("qa_id", T.StringType()),  # hash of doc, model, prompt version, normalised question
        T.StructField("doc_id", T.StringType()),
        T.StructField("url", T.StringType()),
        T.StructField("chunk", T.IntegerType()),  # which window of the page the reply read
        T.StructField("chunks", T.IntegerType()),  # windows of the page that were read
        T.StructField("chunks_skipped", T.IntegerType()),  # windows past extract.max_chunks, not read
        # ok | rejected | none | merged (its pairs were found better in another window) |
        # truncated | parse_error | engine_error
        T.StructField("status", T.StringType()),
        T.StructField("reject_reason", T.StringType()),  # why a parsed pair failed validation
        T.StructField("orig_question", T.StringType()),
        T.StructField("orig_answer", T.StringType()),
    ]
    + _GENERATION_FIELDS
    + [T.StructField("method", T.StringType()),  # llm | markup (stated by the page's schema.org markup)
       T.StructField("extracted_at", T.TimestampType())]
)

QA_REFINED = T.StructType(
    [
        T.StructField("qa_id", T.StringType()),
        T.StructField("refiner", T.StringType()),  # the refiner's model
        T.StructField("doc_id", T.StringType()),
        T.StructField("status", T.StringType()),  # ok | rejected | truncated | parse_error | engine_error
        T.StructField("reject_reason", T.StringType()),
        T.StructField("question", T.StringType()),
        T.StructField("answer", T.StringType()),
        T.StructField("orig_question", T.StringType()),
        T.StructField("orig_answer", T.StringType()),
    ]
    + _GENERATION_FIELDS
    + [T.StructField("refined_at", T.TimestampType())]
)

MODELS = T.StructType(
    [
        T.StructField("model_id", T.StringType()),  # sha256 of the model file (first 16 hex)
        T.StructField("kind", T.StringType()),  # recall
        T.StructField("round", T.IntegerType()),
        T.StructField("path", T.StringType()),  # the file in the lake (_models/<kind>/<sha256>.bin)
        T.StructField("file_bytes", T.LongType()),
        T.StructField("training_key", T.StringType()),  # hash of the training lines + params: same key, same model
        T.StructField("train_positives", T.LongType()),
        T.StructField("train_negatives", T.LongType()),
        T.StructField("test_positives", T.LongType()),
        T.StructField("test_negatives", T.LongType()),
        T.StructField("params", T.StringType()),  # JSON: fastText hyperparameters and text preparation
        T.StructField("sources", T.StringType()),  # JSON: where positives and negatives came from, with counts
        T.StructField("metrics", T.MapType(T.StringType(), T.DoubleType())),  # held-out precision, recall, f1, auc, ...
        T.StructField("run_id", T.StringType()),
        T.StructField("created_at", T.TimestampType()),
    ]
)

RECALL_SCORES = T.StructType(
    [
        T.StructField("doc_id", T.StringType()),
        T.StructField("round", T.IntegerType()),
        T.StructField("score", T.DoubleType()),  # P(educational Q&A page) from the round's model
        T.StructField("model_id", T.StringType()),
        T.StructField("run_id", T.StringType()),
        T.StructField("scored_at", T.TimestampType()),
    ]
)

DOMAINS = T.StructType(
    [
        T.StructField("domain", T.StringType()),  # registered domain (public suffix list)
        T.StructField("round", T.IntegerType()),
        T.StructField("model_id", T.StringType()),  # the round's model the counts come from
        T.StructField("documents", T.LongType()),  # scored documents of the domain
        T.StructField("recalled", T.LongType()),  # of which score >= recall.threshold
        T.StructField("recalled_fraction", T.DoubleType()),
        T.StructField("mean_score", T.DoubleType()),
        T.StructField("candidate", T.BooleanType()),  # meets min_docs and min_fraction: goes to the judge
        T.StructField("min_docs", T.LongType()),  # the thresholds in force (min_docs scales with the corpus)
        T.StructField("min_fraction", T.DoubleType()),
        # the domain's latest verdict from domain_verdicts (any round): educational | not_educational
        T.StructField("verdict", T.StringType()),
        T.StructField("reason", T.StringType()),
        T.StructField("judge_status", T.StringType()),  # ok | parse_error | truncated | engine_error
        T.StructField("judge_model", T.StringType()),
        T.StructField("prompt_version", T.StringType()),
        T.StructField("run_id", T.StringType()),  # the run that last changed this row
    ]
)

DOMAIN_VERDICTS = T.StructType(
    [
        T.StructField("domain", T.StringType()),
        T.StructField("round", T.IntegerType()),  # the round whose candidates asked for it
        T.StructField("status", T.StringType()),  # ok | parse_error | truncated | engine_error
        T.StructField("educational", T.BooleanType()),
        T.StructField("reason", T.StringType()),
        T.StructField("samples", T.IntegerType()),  # pages shown to the judge
    ]
    + [f for f in _GENERATION_FIELDS]
    + [T.StructField("judged_at", T.TimestampType())]
)

BENCHMARKS = T.StructType(
    [
        T.StructField("benchmark", T.StringType()),
        T.StructField("split", T.StringType()),
        T.StructField("item_id", T.StringType()),  # the dataset's id, else the record's position in its file
        T.StructField("question", T.StringType()),  # multiple-choice options included, as a model sees them
        T.StructField("answer", T.StringType()),
        T.StructField("question_hash", T.StringType()),  # exact_hash of the normalised question (tier-3 shortcut)
        T.StructField("source", T.StringType()),  # the folder or file it was loaded from
        T.StructField("run_id", T.StringType()),
        T.StructField("added_at", T.TimestampType()),
    ]
)

CONTAMINATION = T.StructType(
    [
        T.StructField("level", T.StringType()),  # page (a document) | pair (a refined pair)
        T.StructField("doc_id", T.StringType()),  # the page, or the page the pair came from
        T.StructField("qa_id", T.StringType()),  # null at page level
        T.StructField("refiner", T.StringType()),  # null at page level
        T.StructField("tier", T.IntegerType()),  # 1 n-gram | 2 embedding | 3 judge
        T.StructField("method", T.StringType()),  # ngram | embedding | exact | judge
        T.StructField("field", T.StringType()),  # text | question | answer | orig_question | orig_answer
        T.StructField("benchmark", T.StringType()),
        T.StructField("item_id", T.StringType()),
        T.StructField("score", T.DoubleType()),  # cosine similarity (tiers 2 and 3); null for n-grams
        T.StructField("evidence", T.StringType()),  # the shared n-gram, or the start of the benchmark question
        T.StructField("verdict", T.StringType()),  # contaminated | candidate | clean | unparsed
        T.StructField("check_key", T.StringType()),  # benchmarks + settings of the check: a new key rechecks
        T.StructField("run_id", T.StringType()),
        T.StructField("checked_at", T.TimestampType()),
    ]
)

DECONTAM_CHECKED = T.StructType(
    [
        T.StructField("level", T.StringType()),
        T.StructField("unit_id", T.StringType()),  # doc_id (page) or qa_id|refiner (pair)
        T.StructField("tier", T.IntegerType()),
        T.StructField("check_key", T.StringType()),
        T.StructField("hits", T.IntegerType()),  # contamination rows this check wrote
        T.StructField("run_id", T.StringType()),
        T.StructField("checked_at", T.TimestampType()),
    ]
)

DECONTAM_JUDGEMENTS = T.StructType(
    [
        T.StructField("qa_id", T.StringType()),
        T.StructField("refiner", T.StringType()),
        T.StructField("benchmark", T.StringType()),
        T.StructField("item_id", T.StringType()),
        T.StructField("pair_hash", T.StringType()),  # the normalised texts judged: an edited pair or item is asked again
        T.StructField("item_hash", T.StringType()),
        T.StructField("order", T.StringType()),  # pair_first | benchmark_first
        T.StructField("status", T.StringType()),  # ok | parse_error | truncated | engine_error
        T.StructField("same", T.BooleanType()),
    ]
    + [f for f in _GENERATION_FIELDS]
    + [T.StructField("judged_at", T.TimestampType())]
)

QA_QUALITY = T.StructType(
    [
        T.StructField("qa_id", T.StringType()),
        T.StructField("refiner", T.StringType()),
        T.StructField("doc_id", T.StringType()),
        T.StructField("method", T.StringType()),  # llm | markup
        T.StructField("pair_hash", T.StringType()),  # the refined texts checked: a new rewrite is checked again
        T.StructField("gate_key", T.StringType()),  # gate version + thresholds: changing one re-checks every pair
        T.StructField("passed", T.BooleanType()),
        T.StructField("reasons", T.ArrayType(T.StringType())),  # the checks that failed (lib/qa/gate.py)
        T.StructField("score", T.DoubleType()),  # the gate's heuristic score in [0, 1]
        T.StructField("similarity", T.DoubleType()),  # cosine of extracted and refined question (null: not computed)
        T.StructField("grounded", T.DoubleType()),  # share of the question's content words on the page
        T.StructField("numbers_kept", T.DoubleType()),
        T.StructField("pair_lang", T.StringType()),
        T.StructField("quality", T.DoubleType()),  # sortable heuristic at check time (webinstruct.quality is current)
        T.StructField("exact_key", T.StringType()),  # pair dedup: normalised question + answer
        T.StructField("band_keys", T.ArrayType(T.LongType())),  # pair dedup: MinHash LSH bands of the question
        T.StructField("shingle_set", T.BinaryType()),  # pair dedup: the question's shingle hashes, for verification
        T.StructField("number_key", T.StringType()),  # pair dedup: the question's numbers (near copies hold the same)
        T.StructField("run_id", T.StringType()),
        T.StructField("checked_at", T.TimestampType()),
    ]
)

# Labels of each refined pair (jobs/stages/label.py): what its final answer is and whether a
# checker could verify it. One row per (pair, refiner, refined texts, rules version).
PAIR_LABELS = T.StructType(
    [
        T.StructField("qa_id", T.StringType()),
        T.StructField("refiner", T.StringType()),
        T.StructField("doc_id", T.StringType()),
        T.StructField("pair_hash", T.StringType()),  # the refined texts labelled: a new rewrite is labelled again
        T.StructField("label_key", T.StringType()),  # rules' and subjects' versions, encoder: changing one relabels every pair
        T.StructField("final_answer", T.StringType()),  # null for proofs, essays and empty answers
        T.StructField("answer_type", T.StringType()),  # lib/qa/answer_types.py ANSWER_TYPES
        T.StructField("verifiable", T.BooleanType()),  # short and closed-form: math-verify or exact match can check it
        T.StructField("answer_method", T.StringType()),  # how the final answer was found: boxed, gsm8k, stated, choice, ...
        T.StructField("category", T.StringType()),  # the question's subject (lib/qa/subjects.py); null with label.subject off
        T.StructField("category_score", T.DoubleType()),  # cosine to the category's description and examples
        T.StructField("run_id", T.StringType()),
        T.StructField("labelled_at", T.TimestampType()),
    ]
)

WEBINSTRUCT = T.StructType(
    [
        T.StructField("index", T.LongType()),  # stable across runs and exports (hash of qa_id and refiner)
        T.StructField("orig_question", T.StringType()),
        T.StructField("orig_answer", T.StringType()),
        T.StructField("question", T.StringType()),
        T.StructField("answer", T.StringType()),
        T.StructField("source", T.StringType()),  # the page's registered domain
        T.StructField("qa_id", T.StringType()),
        T.StructField("refiner", T.StringType()),
        T.StructField("doc_id", T.StringType()),
        T.StructField("url", T.StringType()),
        T.StructField("crawl", T.StringType()),
        T.StructField("warc_path", T.StringType()),
        T.StructField("warc_offset", T.LongType()),
        T.StructField("warc_record_id", T.StringType()),
        T.StructField("extract_model", T.StringType()),
        T.StructField("extract_prompt_version", T.StringType()),
        T.StructField("refine_prompt_version", T.StringType()),
        T.StructField("method", T.StringType()),  # llm | markup (the page stated the pair in its schema.org markup)
        T.StructField("quality", T.DoubleType()),  # qa_quality.quality: a heuristic to sort and cut on
        T.StructField("duplicates", T.LongType()),  # other published-quality pairs this one stands for (pair dedup)
    ]
)

# Synthesis (jobs/stages/synthesize.py). A question is a published pair (source `web`), a
# row of a registered Q-A file (`file:<name>`) or a new problem written from a seed
# (`augmented:<prompt>`); its question_id is stable (lib.qa.synthesis.question_id).
_LINEAGE_FIELDS = [
    T.StructField("source", T.StringType()),  # web | file:<name> | augmented:<prompt>
    T.StructField("qa_id", T.StringType()),  # the published pair (of the seed, for augmented problems)
    T.StructField("refiner", T.StringType()),
    T.StructField("doc_id", T.StringType()),  # the page: documents holds its WARC file and offset
]

SYNTH_QUESTIONS = T.StructType(
    [
        T.StructField("question_id", T.StringType()),
        T.StructField("seed_question_id", T.StringType()),  # the question it was written from (augmented)
        T.StructField("kind", T.StringType()),  # the augmentation prompt, or file:<name>
        T.StructField("status", T.StringType()),  # ok | rejected | truncated | too_long | parse_error | engine_error
        T.StructField("question", T.StringType()),
        T.StructField("answer", T.StringType()),  # a registered file's reference answer; null for augmented
    ]
    + _LINEAGE_FIELDS
    + _GENERATION_FIELDS
    + [T.StructField("generated_at", T.TimestampType())]
)

SYNTH_SCREEN = T.StructType(
    [
        T.StructField("question_id", T.StringType()),
        T.StructField("screen_key", T.StringType()),  # dedup + decontam settings: a new key screens again
        T.StructField("verdict", T.StringType()),  # kept | duplicate | contaminated
        T.StructField("reason", T.StringType()),  # the copy it matched, or the benchmark tier and item
        T.StructField("matched", T.StringType()),  # the question_id copied, or benchmark/item_id
        T.StructField("score", T.DoubleType()),  # Jaccard of the copy, or the benchmark cosine
        T.StructField("band_keys", T.ArrayType(T.LongType())),  # for later problems' dedup against this one
        T.StructField("shingle_set", T.BinaryType()),
        T.StructField("number_key", T.StringType()),
        T.StructField("run_id", T.StringType()),
        T.StructField("screened_at", T.TimestampType()),
    ]
)

SOLUTIONS = T.StructType(
    [
        T.StructField("solution_id", T.StringType()),  # hash of question, sample and synth_key
        T.StructField("question_id", T.StringType()),
        T.StructField("sample", T.IntegerType()),  # 0 .. synthesize.n - 1
        T.StructField("seed", T.LongType()),  # this sample's sampling seed
        T.StructField("synth_key", T.StringType()),  # teacher, prompt version and sampling settings
        T.StructField("status", T.StringType()),  # ok | no_answer | truncated | too_long | engine_error
        T.StructField("answer", T.StringType()),  # the extracted final answer
        T.StructField("answer_method", T.StringType()),  # boxed | gsm8k | stated | choice | last_number | none
    ]
    + _LINEAGE_FIELDS
    + _GENERATION_FIELDS  # raw_output is the solution
    + [T.StructField("solved_at", T.TimestampType())]
)

ANSWER_GROUP = T.StructType([T.StructField("answer", T.StringType()), T.StructField("votes", T.IntegerType())])

SOLUTION_VOTES = T.StructType(
    [
        T.StructField("question_id", T.StringType()),
        T.StructField("vote_key", T.StringType()),  # synth_key + n + keep policy: a new key votes again
        T.StructField("synth_key", T.StringType()),
    ]
    + _LINEAGE_FIELDS
    + [
        T.StructField("question", T.StringType()),
        T.StructField("samples", T.IntegerType()),
        T.StructField("parsed", T.IntegerType()),  # samples with a stated final answer
        T.StructField("groups", T.ArrayType(ANSWER_GROUP)),  # answers grouped by equivalence, largest first
        T.StructField("majority_answer", T.StringType()),
        T.StructField("votes", T.IntegerType()),
        T.StructField("agreement", T.DoubleType()),  # votes / parsed
        T.StructField("majority_ok", T.BooleanType()),  # min_votes and min_agreement met
        T.StructField("reference_answer", T.StringType()),  # the page's (or file's) own final answer
        T.StructField("reference_agrees", T.BooleanType()),  # null: no reference or no majority
        T.StructField("keep_policy", T.StringType()),
        T.StructField("expected_answer", T.StringType()),  # what the kept solutions answer
        T.StructField("kept_samples", T.ArrayType(T.IntegerType())),
        T.StructField("run_id", T.StringType()),
        T.StructField("voted_at", T.TimestampType()),
    ]
)

PII_COUNT = T.StructType([T.StructField("type", T.StringType()), T.StructField("count", T.IntegerType())])

# Personal data found in a refined pair (jobs/core/pii.py): one row per (pair, refined texts,
# pii settings); the redacted texts where a field had findings (null: unchanged).
PAIR_PII = T.StructType(
    [
        T.StructField("qa_id", T.StringType()),
        T.StructField("refiner", T.StringType()),
        T.StructField("pair_hash", T.StringType()),  # the refined texts checked: a new rewrite is checked again
        T.StructField("pii_key", T.StringType()),  # rules version, types and phone region
        T.StructField("findings", T.IntegerType()),  # all fields together
        T.StructField("counts", T.ArrayType(PII_COUNT)),  # per type, types with findings only
        T.StructField("question", T.StringType()),
        T.StructField("answer", T.StringType()),
        T.StructField("orig_question", T.StringType()),
        T.StructField("orig_answer", T.StringType()),
        T.StructField("run_id", T.StringType()),
        T.StructField("checked_at", T.TimestampType()),
    ]
)

# Semantic dedup (jobs/core/semdedup.py): one embedding per pair and question text and
# encoder; the k-means centroids of each fit; the pairs the last publish left out as
# rewordings of a kept pair (rebuilt with every publish).
PAIR_EMBEDDINGS = T.StructType(
    [
        T.StructField("qa_id", T.StringType()),
        T.StructField("refiner", T.StringType()),
        T.StructField("question_hash", T.StringType()),  # sha-256 of the refined question
        T.StructField("model", T.StringType()),
        T.StructField("embedding", T.ArrayType(T.FloatType())),
        T.StructField("run_id", T.StringType()),
        T.StructField("embedded_at", T.TimestampType()),
    ]
)

SEMDEDUP_CENTROIDS = T.StructType(
    [
        T.StructField("fit_id", T.StringType()),  # the run that fitted them
        T.StructField("model", T.StringType()),
        T.StructField("cluster_id", T.IntegerType()),
        T.StructField("centroid", T.ArrayType(T.DoubleType())),
        T.StructField("k", T.IntegerType()),
        T.StructField("pairs", T.LongType()),  # embedded pairs the fit saw
        T.StructField("fitted_at", T.TimestampType()),
    ]
)

SEMDEDUP_GROUPS = T.StructType(
    [
        T.StructField("qa_id", T.StringType()),  # a pair left out
        T.StructField("refiner", T.StringType()),
        T.StructField("keeper_qa_id", T.StringType()),  # the published pair it rewords
        T.StructField("keeper_refiner", T.StringType()),
        T.StructField("cluster_id", T.IntegerType()),
        T.StructField("similarity", T.DoubleType()),  # cosine to the keeper's question
        T.StructField("threshold", T.DoubleType()),
        T.StructField("fit_id", T.StringType()),
        T.StructField("run_id", T.StringType()),
    ]
)

# The LLM verifier's replies (lib/qa/verify.py): one row per answer pair and order, for the
# pairs of a question's sampled answers (and its page's answer) that the rules left open.
ANSWER_VERDICTS = T.StructType(
    [
        T.StructField("question_id", T.StringType()),
        T.StructField("pair_hash", T.StringType()),  # question + both normalised answers
        T.StructField("answer_a", T.StringType()),
        T.StructField("answer_b", T.StringType()),
        T.StructField("order", T.StringType()),  # a_first | b_first
        T.StructField("status", T.StringType()),  # ok | parse_error | truncated | too_long | engine_error
        T.StructField("equivalent", T.BooleanType()),  # null unless status is ok
    ]
    + _GENERATION_FIELDS
    + [T.StructField("verified_at", T.TimestampType())]
)

# Difficulty of each voted question for its teacher (jobs/stages/difficulty.py): one row per
# (question, vote key: teacher, prompt and sampling settings, n), difficulty settings.
QUESTION_DIFFICULTY = T.StructType(
    [
        T.StructField("question_id", T.StringType()),
        T.StructField("vote_key", T.StringType()),
        T.StructField("synth_key", T.StringType()),  # the teacher and its sampling settings
        T.StructField("difficulty_key", T.StringType()),  # rule version and the label.easy / label.medium bins
    ]
    + _LINEAGE_FIELDS
    + [
        T.StructField("samples", T.IntegerType()),
        T.StructField("passes", T.IntegerType()),  # samples whose answer equals the reference
        T.StructField("pass_rate", T.DoubleType()),
        T.StructField("reference", T.StringType()),
        # page (its own answer) | page_llm (matched by the LLM verifier) | majority | none
        T.StructField("reference_kind", T.StringType()),
        T.StructField("difficulty", T.StringType()),  # easy | medium | hard | unsolved
        T.StructField("run_id", T.StringType()),
        T.StructField("computed_at", T.TimestampType()),
    ]
)
