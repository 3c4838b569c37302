"""Decontamination: benchmark loading, the n-gram index, embeddings, the same-problem judge task."""
