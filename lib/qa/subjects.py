"""The subject of a question (WebInstruct-verified's `category`), zero-shot.

Why zero-shot: a classifier trained on benchmark questions would learn the benchmarks we
decontaminate against, and a web crawl has no labels. Each category is described in words
written here, with a few example questions also written here (never taken from a benchmark
or a crawl); a question goes to the category whose description and examples it is closest
to, by sentence embedding (the MiniLM encoder decontamination already ships). Evaluation
on MMLU's test questions, mapped to these categories, is in bench/subjects.py: evaluation
only, nothing here is fitted to it.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

SUBJECT_VERSION = "subjects-1"  # bump when a description changes: every pair is labelled again
MAX_QUESTION_CHARS = 2_000  # the encoder reads 256 tokens at most; the rest would be cut anyway

# name -> (description, example questions). The descriptions name the topics a web page's
# question on the subject is about; the examples show the register of such questions.
CATEGORIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "math": (
        "Mathematics: algebra, equations, polynomials, arithmetic, fractions, geometry, triangles and circles, "
        "trigonometry, calculus, derivatives and integrals, limits, series, linear algebra, matrices, number theory, "
        "primes and divisibility, combinatorics, counting, probability, statistics, group theory, proofs.",
        ("Solve for x: 3x + 7 = 22.", "What is the derivative of sin(x) times x squared?",
         "How many ways can 5 books be arranged on a shelf?", "Prove that the square root of 2 is irrational.",
         "Find the area of a triangle with sides 5, 12 and 13.", "What is the probability of rolling two sixes?"),
    ),
    "physics": (
        "Physics: mechanics, forces, motion, velocity and acceleration, energy, momentum, gravity, orbits, "
        "electricity and magnetism, circuits, waves, optics, light, thermodynamics, heat, quantum mechanics, "
        "relativity, particles, astronomy, stars and planets.",
        ("A ball is thrown upward at 20 m/s; how high does it go?", "What is the force on a charge moving in a magnetic field?",
         "Why does light bend when it enters water?", "How long does light from the Sun take to reach Earth?",
         "What is the entropy change when ice melts?", "How does time dilation depend on speed?"),
    ),
    "chemistry": (
        "Chemistry: atoms, elements, the periodic table, chemical bonds, molecules, reactions, balancing equations, "
        "moles and stoichiometry, acids and bases, pH, redox, organic chemistry, compounds, solutions, "
        "reaction rates, equilibrium, electron configuration.",
        ("Balance the equation for the combustion of methane.", "What is the pH of a 0.01 M HCl solution?",
         "How many moles are in 18 grams of water?", "Which element has the electron configuration 1s2 2s2 2p6?",
         "Why is benzene so stable?", "What happens to the equilibrium if pressure increases?"),
    ),
    "biology": (
        "Biology: cells, DNA, genes, genetics, heredity, evolution, natural selection, ecology, organisms, "
        "plants and photosynthesis, animals, proteins and enzymes, metabolism, microbiology, bacteria, "
        "molecular biology, species.",
        ("What is the function of mitochondria in a cell?", "How does natural selection lead to new species?",
         "What is the probability that two carriers have an affected child?", "How do enzymes speed up reactions?",
         "What do plants need for photosynthesis?", "How is DNA copied before cell division?"),
    ),
    "computer science": (
        "Computer science: programming, code, algorithms, data structures, complexity, sorting, graphs, "
        "software, databases, operating systems, computer networks, security and cryptography, "
        "machine learning, neural networks, compilers, bits and binary.",
        ("What is the time complexity of binary search?", "Why does my Python loop raise an index error?",
         "How does a hash table handle collisions?", "What is the difference between TCP and UDP?",
         "How does gradient descent train a neural network?", "What does this SQL query return?"),
    ),
    "engineering": (
        "Engineering: electrical engineering, circuits and signals, electronics, transistors, control systems, "
        "mechanical engineering, materials and stress, structures, civil engineering, fluid flow, "
        "power systems, motors, design of machines.",
        ("What is the cutoff frequency of an RC low-pass filter?", "How much load can this steel beam carry?",
         "How does a PID controller reduce steady-state error?", "What is the efficiency of this transformer?",
         "How is the Reynolds number used in pipe flow?", "Why does a MOSFET need a gate driver?"),
    ),
    "economics and business": (
        "Economics and business: markets, supply and demand, prices, inflation, GDP, money and banking, "
        "interest rates, trade, firms, costs and profit, accounting, finance, investment, stocks, "
        "management, marketing, business ethics, econometrics.",
        ("What happens to price when demand rises and supply is fixed?", "How is net present value calculated?",
         "Why does the central bank raise interest rates?", "How do you record depreciation in accounting?",
         "What is a company's marketing mix?", "What is the elasticity of demand for this good?"),
    ),
    "law": (
        "Law: legal rules, courts, judges, contracts, torts, criminal law, constitutional law, rights, "
        "statutes, evidence, lawsuits, property law, international law and treaties, jurisprudence, "
        "a defendant and a plaintiff.",
        ("Is a verbal contract legally binding?", "Can the plaintiff recover damages for negligence here?",
         "What must the prosecution prove for a theft conviction?", "Does the statute apply retroactively?",
         "Which court has jurisdiction over this dispute?", "Is this evidence admissible as hearsay?"),
    ),
    "medicine": (
        "Medicine and health: diseases, symptoms, diagnosis, treatment, drugs and pharmacology, patients, "
        "anatomy of the human body, physiology, organs, nutrition and diet, viruses and infections, "
        "clinical practice, nursing, aging.",
        ("What is the first-line treatment for high blood pressure?", "Which nerve supplies the muscles of the hand?",
         "What are the symptoms of vitamin D deficiency?", "How does the flu virus infect cells?",
         "A patient presents with chest pain; what is the diagnosis?", "How much protein should an adult eat a day?"),
    ),
    "humanities": (
        "Humanities and social sciences: history, wars and empires, philosophy, ethics and morality, religion, "
        "logic and arguments, literature, art, music, languages, psychology, sociology, politics and "
        "government, geography, culture, society.",
        ("What caused the fall of the Roman Empire?", "Is it morally wrong to lie to protect a friend?",
         "What did Kant mean by the categorical imperative?", "Which fallacy does this argument commit?",
         "How does conditioning shape behaviour?", "Why did the Cold War begin?"),
    ),
    "other": (
        "Everyday life and general knowledge: cooking and recipes, sports and games, travel, hobbies, "
        "fashion, home repair, gardening, entertainment, films, celebrities, trivia, facts about countries.",
        ("How long should I boil an egg?", "Who won the World Cup in 2014?", "What is the best way to fix a leaking tap?",
         "Which country has the most islands?", "How do I get wine stains out of a carpet?", "What time zone is Tokyo in?"),
    ),
}
CATEGORY_NAMES = tuple(CATEGORIES)

Encoder = Callable[[list[str]], np.ndarray]  # texts -> unit rows


class SubjectClassifier:
    """Nearest category by cosine to the category's prototype: the unit mean of its
    description's and examples' embeddings."""

    def __init__(self, encode: Encoder, categories: dict[str, tuple[str, tuple[str, ...]]] = CATEGORIES):
        self.names = tuple(categories)
        self._encode = encode
        rows = []
        for description, examples in categories.values():
            vectors = encode([description, *examples])
            mean = vectors.mean(axis=0)
            rows.append(mean / max(float(np.linalg.norm(mean)), 1e-12))
        self.prototypes = np.stack(rows).astype(np.float32)

    def classify(self, questions: list[str]) -> list[tuple[str, float]]:
        """(category, cosine) per question."""
        if not questions:
            return []
        vectors = self._encode([(q or "")[:MAX_QUESTION_CHARS] for q in questions])
        scores = vectors @ self.prototypes.T
        best = scores.argmax(axis=1)
        return [(self.names[i], float(scores[row, i])) for row, i in enumerate(best)]
