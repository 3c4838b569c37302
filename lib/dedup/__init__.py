"""Near-duplicate detection: MinHash signatures, LSH bands, shingle sets."""
