"""The gate's rules on real text: maths that looks like debris is not debris, a person's
own wording is not the refiner's meta-talk, and a broken rewrite is caught."""

from __future__ import annotations

import json

from tests.conftest import shared
from webinstruct.lib.qa.gate import GateOptions, PairInput, check, copies, debris, number_key, strip_math, unbalanced

OPTS = GateOptions(check_language=False)


def _stack():
    return [json.loads(line) for line in open(shared("qa", "stackmathqa_700.jsonl"), encoding="utf-8")]


def test_real_stack_exchange_pairs_pass_as_stated():
    rows = _stack()
    failed = [(r["Q"][:60], check(PairInput(r["Q"], r["A"], r["Q"], r["A"], page_text=r["Q"] + r["A"]), OPTS).reasons)
              for r in rows]
    failed = [f for f in failed if f[1]]
    assert len(failed) <= len(rows) * 0.01, failed[:5]


def test_tex_is_not_debris_but_templates_tags_and_json_are():
    assert debris(r"$\omega_{{z}}$ and $a<b$ and $c>d$, so $\dfrac{{ix}}{2}$") == []
    assert debris(r"\begin{align*} x_{{y}} &= 1 \end{align*}") == []
    assert debris("Hello {{ user.name }}, your answer:") == ["template_braces"]
    assert debris("{{") == ["template_braces"]
    assert debris("The result is <div class='x'>4</div>") == ["html_tags"]
    assert debris('{"answer": null, "steps": [') == ["json_fragment"]
    assert debris("Price is 4&nbsp;dollars") == ["entity_debris"]


def test_unbalanced_counts_delimiters_braces_and_environments():
    assert unbalanced(r"$x^2$ and $$\frac{a}{b}$$ and \(y\) with \\[2pt] a line break") == []
    assert unbalanced(r"$\frac{a}{b$") == ["braces"]
    assert unbalanced(r"\begin{pmatrix} 1 \end{bmatrix}") == ["environments"]
    assert unbalanced(r"$$x = 1") == ["display_math"]
    assert unbalanced(r"it costs $5 and $6") == []  # money, not maths


def test_copies_needs_the_same_words_not_the_same_topic():
    q = "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May."
    assert copies(q, q, 0.9) and copies("sold half as many clips in May", q, 0.9)
    assert not copies("Natalia sold 48/2 = 24 clips in May. Natalia sold 48+24 = 72 clips altogether. #### 72", q, 0.9)


def test_meta_talk_counts_only_when_the_refiner_added_it():
    q = "I cannot figure out why this integral diverges: $\\int_1^\\infty 1/x\\,dx$. Any hints?"
    a = "Compare with the harmonic series: the partial integrals are $\\ln N$, which grows without bound."
    assert check(PairInput(q, a, q, a), OPTS).passed  # "I cannot" is the asker's own
    bad = check(PairInput(q, a, q, "I apologize, but as an AI I cannot evaluate integrals."), OPTS)
    assert not bad.passed and "answer_meta_talk" in bad.reasons


def test_a_rewrite_that_breaks_the_tex_or_drops_the_final_answer_fails():
    q, a = "Solve $x^2 = 9$ for positive $x$.", "Taking square roots, $x = 3$.\n\n\\boxed{3}"
    assert check(PairInput(q, a, q, a), OPTS).passed
    broken = check(PairInput(q, a, "Solve $x^2 = 9 for positive $x$.", "Taking roots gives three", ), OPTS)
    assert {"unbalanced_inline_math", "final_answer_missing"} <= set(broken.reasons)


def test_a_question_off_its_page_fails_grounding():
    q, a = "How long do I boil an egg for a runny yolk?", "About six minutes in boiling water."
    page = "The derivative of x squared is 2x by the power rule."
    result = check(PairInput(q, a, q, a, page_text=page), OPTS)
    assert result.reasons == ["question_not_on_page"] and result.grounded == 0.0


def test_short_questions_of_numbers_and_one_value_answers_are_not_rejected():
    q = "What is 15% of 80?"
    result = check(PairInput(q, "12", q, "12", page_text="Homework: What is 15% of 80? I got 12."), OPTS)
    assert result.passed and result.grounded == 1.0
    assert not copies("4", "Compute 14 - 10.", 0.9) and not copies("x = 2", "If 2x = 24 find x", 0.9)
    assert debris("so the slope is undefined") == [] and debris("when 0<a<1 and b>2") == []


def test_math_stripping_handles_unclosed_and_nested_regions():
    text = r"a $x<y$ b \(c<d\) e $$f$$ g \begin{align} h<i \end{align} j \begin{foo} k $m"
    assert strip_math(text).split() == ["a", "b", "e", "g", "j", r"\begin{foo}", "k", "$m"]
    hostile = r"\begin{x}" * 5000 + "$a$ " * 5000 + r"\(" * 5000
    assert "a" not in strip_math(hostile).replace(r"\begin{x}", "").replace(r"\(", "")  # every $a$ blanked, nothing lost


def test_a_question_with_new_numbers_is_not_faithful():
    q = "A train travels 120 km in 2 hours. What is its average speed?"
    changed = check(PairInput(q, "60 km/h", q.replace("120", "150"), "60 km/h"), OPTS)
    assert {"question_numbers_lost", "question_numbers_changed"} <= set(changed.reasons)
    assert number_key("Add 3 and 3, then 1,000") == "1000 3 3"
