"""Pure-Python building blocks (no Spark): archive reading, HTML to text, hashing."""
