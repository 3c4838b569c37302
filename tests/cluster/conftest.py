"""Fixtures of the cluster tests (`make test-cluster`): one standalone cluster with two
one-core workers, each with one (fake) GPU, for the whole session, and the project shipped
only as the `make dist` zip. Everything started here is stopped at the end, also when a
test fails."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cluster.compare import UNTIL, ok
from tests.cluster.harness import REPO, Cluster, Submitter, bare_python
from tests.conftest import shared


@pytest.fixture(scope="session")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cluster")


@pytest.fixture(scope="session")
def python(work) -> Path:
    return bare_python(work / "venv")


@pytest.fixture(scope="session")
def dist(work) -> Path:
    out = work / "dist"
    subprocess.run(["make", "-s", "dist", f"DIST={out}"], check=True, cwd=REPO, capture_output=True)
    return next(out.glob("webinstruct-*.zip"))


@pytest.fixture(scope="session")
def cluster(work, python):
    c = Cluster(work / "standalone", python, workers=2, cores=1, memory="2g", gpus=True)
    try:
        c.start()
        yield c
    finally:
        c.stop()


@pytest.fixture(scope="session")
def submitter(work, python, dist) -> Submitter:
    return Submitter(work / "submits", python, dist)


@pytest.fixture(scope="session")
def pipeline_config(work) -> Path:
    """The config of the cluster runs: real seeds, one recall round without the judge, GSM8K
    and MATH500 as page-level benchmarks, the offline LLM kept short."""
    qa, bench = shared("qa", "stackmathqa_700.jsonl"), shared("benchmarks")
    path = work / "cluster.toml"
    path.write_text(f'''
[spark]
shuffle_partitions = 4

[recall]
positives = [{{path = "{qa}", text = ["Q", "A"], name = "stackmathqa"}}]
negatives_from_documents = 400
rounds = 1
judge = false
dim = 64
bucket = 50000
epoch = 10
recalled = "score"
threshold = 0.3

[dedup]
input = "documents"

[decontam]
benchmarks = [{{builtin = ["gsm8k", "math500"], dir = "{bench}"}}]
embed = false

[llm]
engine_args = {{ compilation_config = {{ mode = 0 }} }}  # CPU: no torch.compile at engine start
max_model_len = 768

[extract]
repetition_penalty = 1.2
max_tokens = 64
max_chunks = 1

[refine]
max_tokens = 64
''')
    return path


def copy_lake(source: Path, target: Path, keep: list[str]) -> Path:
    """A lake holding only the named tables (and the models folder) of `source`."""
    target.mkdir(parents=True)
    for name in keep:
        shutil.copytree(source / name, target / name)
    if (source / "_models").exists():
        shutil.copytree(source / "_models", target / "_models")
    return target


@dataclass
class Reference:
    cluster: Path
    local: Path
    cluster_s: float
    local_s: float


@pytest.fixture(scope="session")
def reference(cluster, submitter, pipeline_config, work) -> Reference:
    """ingest -> recall -> dedup -> page decontamination of the real archives, undisturbed,
    once on the cluster and once on local[2]."""
    real = str(shared("warc", "real"))
    lakes = {}
    seconds = {}
    for name, master in (("cluster", cluster.url), ("local", "local[2]")):
        lakes[name] = work / f"reference-{name}"
        args = ["--config", str(pipeline_config), "--lake", str(lakes[name]), "run", real, "--until", UNTIL]
        out = ok(result := submitter.run(master, args))
        seconds[name] = result[2]
        assert "decontam pages summary" in out and "extract summary" not in out
        # on the cluster, said once each: the lake and the archives are local paths every node must see
        assert ("is a local folder on a cluster session" in out) == (name == "cluster")
        assert ("archive(s) were local paths on a cluster session" in out) == (name == "cluster")
    return Reference(lakes["cluster"], lakes["local"], seconds["cluster"], seconds["local"])
