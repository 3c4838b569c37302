"""The LLM verifier through Spark (`synthesize.verifier = llm`): recorded sampled answers in
(the offline model rarely states one), the pairs the rules leave open asked in both orders
of an OpenAI-compatible server on loopback that answers from a script (a GPU-served judge
cannot run here), replies stored raw, votes and pass rates that use the verdicts, counted
apart from the rules' matches, and a rerun that asks nothing."""

from __future__ import annotations

import json
import re

import pytest
from pyspark.sql import functions as F

from tests.chat_server import ChatServer
from webinstruct.jobs.core import labels, verdicts
from webinstruct.jobs.core.config import load_config
from webinstruct.jobs.core.lake import open_lake
from webinstruct.jobs.core.synthesis import synth_key, vote_key, web_question_id
from webinstruct.jobs.core.tables import SOLUTIONS, WEBINSTRUCT
from webinstruct.jobs.stages import difficulty, synthesize
from webinstruct.lib.llm.prompts import load_prompt

EQUAL = [{"12", "twelve"}, {"5 cm", "50 mm"}, {"7", "seven"}]
UNSURE = "half a metre"  # the server replies with prose in one order for pairs with this answer
PAGES = {  # page answer (its final answer is boxed), recorded sample answers
    "apples": ("Tom picks 7 apples and then 5 more. How many apples does he have?", "7 + 5 = \\boxed{12}",
               ["twelve", "twelve", "12", "13"]),
    "rope": ("A rope of 20 cm is cut into 4 equal parts. How long is each part?", "20 / 4 = \\boxed{5 cm}",
             ["50 mm", "5 cm", "50 mm", UNSURE]),
}


class _ScriptedVerifier(ChatServer):
    """Reads the two answers out of each verify_answer request and replies from EQUAL."""

    def __init__(self):
        self.asked: list[tuple[str, str]] = []
        self.failing = False  # answer 400 (final, not retried): the requests end as engine errors
        super().__init__(self._reply)

    def _reply(self, body: dict) -> str | None:
        if self.failing:
            return None
        user = body["messages"][-1]["content"]
        a = re.search(r"<answer_1>\n(.*?)\n</answer_1>", user, re.S).group(1)
        b = re.search(r"<answer_2>\n(.*?)\n</answer_2>", user, re.S).group(1)
        self.asked.append((a, b))
        if UNSURE in (a, b):
            return "I cannot tell." if a == UNSURE else '{"equivalent": true}'
        return json.dumps({"equivalent": {a, b} in EQUAL})


@pytest.fixture(scope="module")
def env(spark, offline_model, tmp_path_factory):
    server = _ScriptedVerifier()
    root = str(tmp_path_factory.mktemp("verify") / "lake")
    common = ["llm.engine=openai", f"llm.base_url={server.url}", "llm.model=served", f"llm.tokenizer={offline_model}",
              "llm.max_model_len=1024", "synthesize.n=4", "spark.shuffle_partitions=2"]
    rules = load_config(lake=root, overrides=common)
    llm = load_config(lake=root, overrides=[*common, "synthesize.verifier=llm"])
    lake = open_lake(spark, rules)
    web = [{f: None for f in WEBINSTRUCT.fieldNames()} | {
        "index": i, "qa_id": f"qa-{name}", "refiner": "m", "doc_id": f"doc-{name}", "question": q, "answer": a, "orig_question": q,
        "orig_answer": a, "source": "example.org", "url": f"https://example.org/{name}"} for i, (name, (q, a, _)) in enumerate(PAGES.items())]
    lake.append("webinstruct", spark.createDataFrame(web, WEBINSTRUCT))
    ids = {r["qa_id"][3:]: r["question_id"] for r in lake.read("webinstruct").select("qa_id", web_question_id().alias("question_id")).collect()}
    skey = synth_key(rules, load_prompt("solve").version)
    sols = [{f: None for f in SOLUTIONS.fieldNames()} | {
        "solution_id": f"{name}-{s}", "question_id": ids[name], "sample": s, "seed": s, "synth_key": skey, "status": "ok",
        "answer": ans, "answer_method": "boxed", "source": "web", "qa_id": f"qa-{name}", "refiner": "m", "doc_id": f"doc-{name}",
        "raw_output": f"... \\boxed{{{ans}}}", "finish_reason": "stop", "model": "served", "run_id": "recorded"}
        for name, (_, _, answers) in PAGES.items() for s, ans in enumerate(answers)]
    lake.append("solutions", spark.createDataFrame(sols, SOLUTIONS))
    yield {"lake": lake, "rules": rules, "llm": llm, "server": server, "ids": ids, "skey": skey}
    server.close()


def _votes(lake, cfg, skey):
    rows = lake.read("solution_votes").where(F.col("vote_key") == vote_key(cfg, skey)).collect()
    return {r["qa_id"][3:]: r for r in rows}


def test_the_verifier_asks_open_pairs_in_both_orders_and_its_verdicts_join_groups(env):
    lake, server = env["lake"], env["server"]
    plain = synthesize.run(lake.spark, env["rules"], lake)
    assert plain["questions_voted"] == 2 and server.asked == [] and not lake.exists(verdicts.TABLE)  # rules only: no LLM
    before = _votes(lake, env["rules"], env["skey"])
    assert [(g["answer"], g["votes"]) for g in before["apples"]["groups"]] == [("twelve", 2), ("12", 1), ("13", 1)]
    assert before["apples"]["reference_agrees"] is False

    got = synthesize.run(lake.spark, env["llm"], lake)
    # apples: 12~twelve, 13~twelve; rope: 5 cm~50 mm, and each against "half a metre"
    assert got["verifier_pairs_open"] == 5 and got["verifier_pairs_asked"] == 5 and len(server.asked) == 10
    assert {frozenset(p) for p in server.asked} == {frozenset(p) for p in [("12", "twelve"), ("13", "twelve"), ("5 cm", "50 mm"),
                                                                               ("5 cm", UNSURE), ("50 mm", UNSURE)]}
    assert (got["verifier_pairs_equal"], got["verifier_pairs_different"], got["verifier_pairs_undecided"]) == (2, 1, 2)
    rows = lake.read(verdicts.TABLE).collect()
    assert len(rows) == 10 and {r["order"] for r in rows} == {"a_first", "b_first"}
    assert all(r["raw_output"] and r["model"] == "served" and r["prompt_version"] == load_prompt("verify_answer").version for r in rows)
    unparsed = [r for r in rows if r["status"] == "parse_error"]
    assert len(unparsed) == 2 and all(r["equivalent"] is None and r["raw_output"] == "I cannot tell." for r in unparsed)
    assert got["verifier_replies_parse_error"] == 2

    after = _votes(lake, env["llm"], env["skey"])
    apples, rope = after["apples"], after["rope"]
    assert [(g["answer"], g["votes"]) for g in apples["groups"]] == [("twelve", 3), ("13", 1)]
    assert apples["reference_agrees"] is True and sorted(apples["kept_samples"]) == [0, 1, 2]
    assert [(g["answer"], g["votes"]) for g in rope["groups"]] == [("50 mm", 3), (UNSURE, 1)]  # undecided: not joined
    assert rope["reference_agrees"] is True
    assert got["votes_merged_by_llm"] == 2 and got["reference_agrees_by_llm"] == 2 and got["questions_voted"] == 2
    assert _votes(lake, env["rules"], env["skey"])["apples"]["reference_agrees"] is False  # the rules' votes stay as they were

    again = synthesize.run(lake.spark, env["llm"], lake)  # a rerun asks and votes nothing
    assert len(server.asked) == 10 and again["questions_voted"] == 0 and again.get("verifier_pairs_asked", 0) == 0
    assert lake.count(verdicts.TABLE) == 10
    # what the report shows, apart from the rules
    assert verdicts.summary(lake, env["llm"]) == {"equal": 2, "different": 1, "undecided": 2, "parse_errors": 2}
    assert verdicts.summary(lake, env["rules"]) is None


def test_pass_rates_use_the_verdicts_and_say_so(env):
    lake = env["lake"]
    difficulty.run(lake.spark, env["rules"], lake)
    difficulty.run(lake.spark, env["llm"], lake)
    rows = lake.read("question_difficulty").where(F.col("vote_key") == vote_key(env["llm"], env["skey"]))
    mine = {r["qa_id"][3:]: r for r in rows.where(F.col("difficulty_key") == labels.difficulty_key(env["llm"])).collect()}
    assert {k: (r["passes"], r["pass_rate"], r["reference_kind"], r["difficulty"]) for k, r in mine.items()} == {
        "apples": (3, 0.75, "page_llm", "easy"), "rope": (3, 0.75, "page_llm", "easy")}
    plain = lake.read("question_difficulty").where((F.col("vote_key") == vote_key(env["rules"], env["skey"]))
                                                    & (F.col("difficulty_key") == labels.difficulty_key(env["rules"])))
    by_rules = {r["qa_id"][3:]: (r["passes"], r["reference_kind"]) for r in plain.collect()}
    assert by_rules == {"apples": (1, "page"), "rope": (1, "page")}  # the rules alone: only "12" and "5 cm"


def test_a_pair_without_a_final_reply_holds_its_question_back_until_it_has_one(env, spark):
    lake, server = env["lake"], env["server"]
    q = "A jar holds 3 coins and another jar holds 4. How many coins are there?"
    web = [{f: None for f in WEBINSTRUCT.fieldNames()} | {
        "index": 9, "qa_id": "qa-coins", "refiner": "m", "doc_id": "doc-coins", "question": q, "answer": "\\boxed{7}",
        "orig_question": q, "orig_answer": "\\boxed{7}", "source": "example.org", "url": "https://example.org/coins"}]
    lake.append("webinstruct", spark.createDataFrame(web, WEBINSTRUCT))
    qid = lake.read("webinstruct").where("qa_id = 'qa-coins'").select(web_question_id().alias("q")).first()["q"]
    sols = [{f: None for f in SOLUTIONS.fieldNames()} | {
        "solution_id": f"coins-{s}", "question_id": qid, "sample": s, "seed": s, "synth_key": env["skey"], "status": "ok",
        "answer": ans, "answer_method": "boxed", "source": "web", "qa_id": "qa-coins", "refiner": "m", "doc_id": "doc-coins",
        "raw_output": "...", "finish_reason": "stop", "model": "served", "run_id": "recorded"}
        for s, ans in enumerate(["seven", "7", "7", "seven"])]
    lake.append("solutions", spark.createDataFrame(sols, SOLUTIONS))
    server.failing = True
    try:
        held = synthesize.run(lake.spark, env["llm"], lake)
    finally:
        server.failing = False
    assert held["verifier_questions_waiting"] == 1 and held.get("questions_voted", 0) == 0
    assert {r["status"] for r in lake.read(verdicts.TABLE).where(F.col("question_id") == qid).collect()} == {"engine_error"}
    done = synthesize.run(lake.spark, env["llm"], lake)  # asked again (synthesize.retry_errors), then voted
    assert done["verifier_pairs_asked"] == 1 and done["questions_voted"] == 1 and done.get("verifier_questions_waiting", 0) == 0
    vote = _votes(lake, env["llm"], env["skey"])["coins"]
    assert vote["majority_answer"] in ("seven", "7") and vote["votes"] == 4  # "seven" and "7" joined by the verdict
