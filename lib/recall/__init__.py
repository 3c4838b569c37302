"""The recall classifier: text preparation, fastText training and scoring, seed specs, the domain judge task."""
