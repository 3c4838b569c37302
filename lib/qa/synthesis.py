"""Synthesis as OpenMathInstruct-2 does it, without Spark: `n` sampled solutions per
question, their final answers voted on by equivalence (lib.qa.answers), a keep policy
that can also ask the page's own answer, and new problems written from seed questions.

A sample's seed is derived from the base seed, the question and the sample number, so a
rerun, a resume or a larger `n` draws exactly the solutions it would have drawn before.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from webinstruct.lib.llm.prompts import Prompt
from webinstruct.lib.llm.tasks import Work, generation_fields, generation_id
from webinstruct.lib.llm.types import ChatRequest, Generation, clean_text
from webinstruct.lib.qa.answers import equivalent, extract, majority, normalise
from webinstruct.lib.qa.parse import Pair, Parsed, reply_json
from webinstruct.lib.qa.verify import Judged, merge_groups

KEEP_POLICIES = ("majority", "reference", "both")
# how a final answer may be found in a generated solution; the last number of a solution
# that never states an answer is not one (kept in `answer` for reading, never voted)
STATED_METHODS = ("boxed", "gsm8k", "stated", "choice")
MIN_PROBLEM_CHARS = 20
LINEAGE = ("source", "qa_id", "refiner", "doc_id")  # copied from the question to every row made for it


def _hash(*parts: str) -> str:
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=16).hexdigest()


def question_id(kind: str, *parts: str) -> str:
    """file: (file name, row, question text); augmented: (seed id, prompt, version, model).
    A published pair's id is computed in Spark (jobs.core.synthesis.web_question_id)."""
    return _hash("question", kind, *parts)


def sample_seed(base: int, qid: str, sample: int) -> int:
    digest = hashlib.blake2b(f"{base}\x1f{qid}\x1f{sample}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % (2**31 - 1)


def solution_id(qid: str, sample: int, synth_key: str) -> str:
    return _hash("solution", qid, str(sample), synth_key)


class SolveTask:
    """One record = one question and the sample numbers still missing; one request per
    sample, each with its own seed, all in the same engine call."""

    def __init__(self, prompt: Prompt, model: str, tokenizer, max_model_len: int, max_tokens: int, base_seed: int,
                 max_question_chars: int, synth_key: str):
        self.prompt, self.model, self.tok = prompt.with_controls(tokenizer.control_tokens()), model, tokenizer
        self.max_model_len, self.max_tokens, self.base_seed = max_model_len, max_tokens, base_seed
        self.max_question_chars, self.synth_key = max_question_chars, synth_key

    def work(self, record: dict) -> Work:
        samples = [int(s) for s in record["samples"]]
        question = (record["question"] or "")[: self.max_question_chars]
        messages = self.prompt.messages(question=question)
        prompt_tokens = self.tok.count_chat(messages)
        if prompt_tokens + self.max_tokens > self.max_model_len:  # never sent: it cannot fit
            return Work(record, [], [(s, prompt_tokens) for s in samples], 0)
        requests = [ChatRequest(messages, None, seed=sample_seed(self.base_seed, record["question_id"], s)) for s in samples]
        return Work(record, requests, [(s, prompt_tokens) for s in samples], len(samples) * (prompt_tokens + self.max_tokens))

    def rows(self, work: Work, generations: list[Generation]) -> list[dict]:
        r, out = work.record, []
        qid = r["question_id"]
        if not work.requests:
            generations = [Generation(prompt_tokens=tokens, finish_reason="") for _, tokens in work.meta]
        for (sample, _), gen in zip(work.meta, generations):
            seed = sample_seed(self.base_seed, qid, sample)
            gen_row = generation_fields(gen, generation_id(qid, self.model, self.prompt.version, str(sample), str(seed)))
            status, answer, method, error = _solved(gen, bool(work.requests))
            out.append({
                **gen_row, "solution_id": solution_id(qid, sample, self.synth_key), "question_id": qid, "sample": sample,
                "seed": seed, "synth_key": self.synth_key, "status": status, "answer": answer, "answer_method": method,
                "error": error or gen_row["error"], "model": self.model, "prompt_version": self.prompt.version,
                **{k: r.get(k) for k in LINEAGE},
            })
        return out


def _solved(gen: Generation, sent: bool) -> tuple[str, str | None, str, str | None]:
    """(status, answer, how it was found, error) of one sampled solution."""
    if not sent:
        return "too_long", None, "none", "prompt + synthesize.max_tokens exceeds llm.max_model_len"
    if gen.error:
        return "engine_error", None, "none", None
    if gen.finish_reason == "length":
        return "truncated", None, "none", "stopped at max_tokens before a final answer"
    found = extract(gen.text)
    if found.answer is None or found.method not in STATED_METHODS:
        return "no_answer", found.answer, found.method, None
    return "ok", found.answer, found.method, None


@dataclass(frozen=True)
class KeepRule:
    policy: str = "majority"  # majority | reference | both
    min_votes: int = 2
    min_agreement: float = 0.5
    timeout_s: int = 5


@dataclass
class Decision:
    """One question's vote: the groups, the majority, the page's answer and what is kept."""

    samples: int
    parsed: int
    groups: list[tuple[str, int]]
    majority_answer: str | None
    votes: int
    agreement: float
    reference: str | None
    reference_agrees: bool | None  # None: no page answer or no majority to compare
    majority_ok: bool
    expected_answer: str | None  # what the kept solutions answer
    kept: list[int] = field(default_factory=list)  # sample numbers
    llm_merges: int = 0  # rule groups the LLM verifier joined (lib.qa.verify)
    reference_by: str | None = None  # rule | llm: which check found the majority equal to the page's answer


def decide(answers: list[tuple[int, str | None]], reference: str | None, rule: KeepRule, judged: Judged | None = None,
           max_groups: int = 0) -> Decision:
    """`answers`: (sample, answer or None when unusable), in sample order. `judged`: the LLM
    verifier's verdicts on the pairs the rules left open, which join groups (of the
    `max_groups` largest) and match the page's answer; None = rules only."""
    answers = sorted(answers)
    texts = [a for _, a in answers]
    vote = majority(texts, rule.timeout_s)
    merges, rule_reps = 0, {answer for answer, _ in vote.groups}
    if judged:
        vote, merges = merge_groups(vote, judged.same, max_groups)
    reference = reference if reference and normalise(reference) else None

    def llm_match(i: int) -> bool:
        """Group i reaches the page's answer only through the verifier: one of its answers was
        called equal to the page's, or equals it by the rules inside a group the LLM joined."""
        if not judged:
            return False
        members = dict.fromkeys(texts[p] for p in vote.group_members[i])
        joined = [m for m in members if m in rule_reps]  # more than one: the LLM joined rule groups here
        return any(judged.same(m, reference) for m in members) or (
            len(joined) > 1 and any(equivalent(m, reference, rule.timeout_s) for m in joined))

    by = None
    if vote.answer is not None and reference:
        by = "rule" if equivalent(vote.answer, reference, rule.timeout_s) else "llm" if llm_match(0) else None
    agrees = (by is not None) if vote.answer is not None and reference else None
    majority_ok = vote.answer is not None and vote.votes >= rule.min_votes and vote.agreement >= rule.min_agreement
    winners = [answers[i][0] for i in vote.members]
    if rule.policy == "majority":
        kept, expected = (winners, vote.answer) if majority_ok else ([], None)
    elif rule.policy == "reference":
        by_llm = {p for i in range(len(vote.groups)) if reference and llm_match(i) for p in vote.group_members[i]}
        kept = [s for pos, (s, a) in enumerate(answers)
                if reference and a is not None and (pos in by_llm or equivalent(a, reference, rule.timeout_s))]
        expected = reference if kept else None
    else:  # both
        kept, expected = (winners, vote.answer) if majority_ok and agrees else ([], None)
    return Decision(samples=len(answers), parsed=len(answers) - vote.unparsed, groups=vote.groups, majority_answer=vote.answer,
                    votes=vote.votes, agreement=round(vote.agreement, 4), reference=reference, reference_agrees=agrees,
                    majority_ok=majority_ok, expected_answer=expected, kept=kept, llm_merges=merges, reference_by=by)


class AugmentTask:
    """One record = one seed question; one request per augmentation prompt (a similar
    problem, a harder one), each reply one new problem."""

    def __init__(self, prompts: list[Prompt], model: str, tokenizer, max_model_len: int, max_tokens: int,
                 max_question_chars: int, base_seed: int):
        controls = tokenizer.control_tokens()
        self.prompts = [p.with_controls(controls) for p in prompts]
        self.model, self.tok, self.max_model_len, self.max_tokens = model, tokenizer, max_model_len, max_tokens
        self.max_question_chars, self.base_seed = max_question_chars, base_seed

    def work(self, record: dict) -> Work:
        question = (record["question"] or "")[: self.max_question_chars]
        requests, meta, tokens = [], [], 0
        for p in self.prompts:
            messages = p.messages(question=question)
            n = self.tok.count_chat(messages)
            if n + self.max_tokens > self.max_model_len:
                meta.append((p, n, False))
                continue
            requests.append(ChatRequest(messages, p.schema, seed=sample_seed(self.base_seed, record["question_id"], 0)))
            meta.append((p, n, True))
            tokens += n + self.max_tokens
        return Work(record, requests, meta, tokens)

    def rows(self, work: Work, generations: list[Generation]) -> list[dict]:
        r, out, gens = work.record, [], iter(generations)
        seed_qid = r["question_id"]
        for prompt, n, sent in work.meta:
            gen = next(gens) if sent else Generation(prompt_tokens=n, finish_reason="")
            qid = question_id("augmented", seed_qid, prompt.name, prompt.version, self.model)
            gen_row = generation_fields(gen, generation_id(seed_qid, self.model, prompt.name, prompt.version))
            parsed = parse_problem(gen.text, gen.finish_reason, gen.error, r["question"] or "") if sent else \
                Parsed("too_long", error="prompt + synthesize.augment_max_tokens exceeds llm.max_model_len")
            out.append({
                **gen_row, "question_id": qid, "seed_question_id": seed_qid, "kind": prompt.name,
                "status": parsed.status, "question": parsed.pairs[0].question if parsed.pairs else None,
                "error": parsed.error or gen_row["error"], "model": self.model, "prompt_version": prompt.version,
                "answer": None, **{k: r.get(k) for k in LINEAGE}, "source": f"augmented:{prompt.name}",
            })
        return out


def parse_problem(text: str, finish_reason: str, error: str | None, seed: str) -> Parsed:
    """ok | rejected (too short, or the seed itself) | truncated | parse_error | engine_error."""
    data, final = reply_json(text, finish_reason, error)
    if final:
        return final
    problem = data.get("problem") if isinstance(data, dict) else None
    if not isinstance(problem, str):
        return Parsed("parse_error", error="schema: expected an object with a string 'problem'")
    problem = clean_text(problem).strip()
    if len(problem) < MIN_PROBLEM_CHARS:
        return Parsed("rejected", [Pair(problem, "")], error="problem_too_short")
    if normalise(problem) == normalise(seed):
        return Parsed("rejected", [Pair(problem, "")], error="copy_of_seed")
    return Parsed("ok", [Pair(problem, "")])
