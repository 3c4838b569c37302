"""Question-answer pairs: the extract and refine tasks and the parsing of their replies."""
