"""HTML pages written for this project's demo (not copied from anywhere)."""
