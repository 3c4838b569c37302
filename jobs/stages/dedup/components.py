"""Connected components over a DataFrame of edges, distributed (no GraphFrames).

Alternating large-star and small-star rounds (Kiveris et al., "Connected Components in
MapReduce and Beyond", SoCC 2014) until every edge points from a node straight to its
component's smallest id. Each round is grouped aggregations and joins only: no
collect_list, so a hub with millions of neighbours costs rows, not one giant row; no
reliance on adaptive query execution for skew. Every round is materialised (parquet in a
scratch folder, or a local checkpoint) so lineage stays one round deep.
"""

from __future__ import annotations

from typing import Callable

from pyspark.sql import functions as F

from webinstruct.jobs.core.errors import DedupError


class ComponentsDidNotConverge(DedupError):
    """More rounds than dedup.max_iterations (log-depth in practice)."""


def connected_components(edges, materialize: Callable, max_iterations: int = 60):
    """`edges` (src, dst: long) -> DataFrame (node, component), component = smallest node id
    in it. Nodes without edges are not in the output. `materialize(df, name)` returns a
    DataFrame equal to `df` with its lineage cut. Returns (frame, rounds)."""
    # Oriented edges: a > b, no self loops, no repeats.
    e = edges.select(F.greatest("src", "dst").alias("a"), F.least("src", "dst").alias("b")).where("a != b").distinct()
    e = materialize(e, "edges-0")
    for round_no in range(1, max_iterations + 1):
        e = materialize(_small_star(_large_star(e)), f"edges-{round_no}")
        if _is_star_forest(e):
            nodes = e.select(F.col("a").alias("node"), F.col("b").alias("component"))
            centers = e.select(F.col("b").alias("node"), F.col("b").alias("component")).distinct()
            return nodes.unionByName(centers), round_no
    raise ComponentsDidNotConverge(f"connected components did not converge in {max_iterations} rounds (raise dedup.max_iterations)")


def _large_star(e):
    """Each node u links its larger neighbours to the smallest id in u's closed neighbourhood."""
    both = e.select(F.col("a").alias("u"), F.col("b").alias("v")).unionByName(
        e.select(F.col("b").alias("u"), F.col("a").alias("v"))
    )
    low = both.groupBy("u").agg(F.min("v").alias("m")).select("u", F.least("u", "m").alias("m"))
    return both.where("v > u").join(low, "u").select(F.col("v").alias("a"), F.col("m").alias("b")).distinct()


def _small_star(e):
    """Each node u links itself and its smaller neighbours to the smallest of them."""
    low = e.groupBy("a").agg(F.min("b").alias("m"))
    joined = e.join(low, "a")
    moved = joined.where("b != m").select(F.col("b").alias("a"), F.col("m").alias("b"))
    own = low.select("a", F.col("m").alias("b"))
    return moved.unionByName(own).distinct()


def _is_star_forest(e) -> bool:
    """Every child has exactly one parent and no parent is itself a child: each star is
    then a whole component centred on its smallest id. (Small-star can leave a node with
    two smaller parents; such a graph is not done yet.)"""
    two_parents = e.groupBy("a").agg(F.count("*").alias("n")).where("n > 1")
    if two_parents.limit(1).count():
        return False
    parents = e.select(F.col("b").alias("a")).distinct()
    return parents.join(e.select("a"), "a", "left_semi").limit(1).count() == 0
