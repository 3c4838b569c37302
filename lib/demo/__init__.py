"""What `make demo` runs on, written by the project: the sample archive, seeds and benchmark."""
