"""One module (or folder, for multi-step stages) per pipeline stage. A stage imports core,
udfs and lib, never another stage: stages share data only through tables and views."""
