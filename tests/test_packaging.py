"""The wheel and the --py-files zip work alone, the way a cluster gets them.

Each is used from a Python outside the repo that sees the runtime dependencies (this
venv's site-packages, by one .pth line: its .pth files, the editable install's among
them, are not run) but not the source tree. From there: every module of the repo imports
from the artifact, `webinstruct --help` answers, the packaged config and every prompt
load, and a real archive is ingested (by the installed CLI for the wheel, by
`spark-submit --py-files` for the zip). An artifact with a folder left out fails the same
checks, which the last tests show.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO, shared

FOLDERS = {"jobs": "webinstruct.jobs", "lib": "webinstruct.lib", "udfs": "webinstruct.udfs"}

# Run by the bare Python: import everything, load the packaged config and every prompt.
SMOKE = """
import importlib, json, sys
modules, prompts, venv = json.loads(sys.argv[1])
for name in modules:
    module = importlib.import_module(name)
    assert not module.__file__.startswith(%(repo)r), (name, module.__file__)
from webinstruct.jobs.core.config import load_config
from webinstruct.lib.llm.prompts import load_prompt, packaged_prompts
cfg = load_config()
assert sorted(packaged_prompts()) == sorted(prompts), packaged_prompts()
versions = {p: load_prompt(p).version for p in prompts}
print(json.dumps({"extract_max_tokens": cfg.extract.max_tokens, "bucket": cfg.recall.bucket, "versions": versions,
                  "where": importlib.import_module("webinstruct.jobs.cli").__file__}))
"""


def repo_modules() -> list[str]:
    """Every module the source tree holds, by its installed name."""
    names = []
    for folder, package in FOLDERS.items():
        for path in sorted((REPO / folder).rglob("*.py")):
            parts = path.relative_to(REPO / folder).with_suffix("").parts
            if parts[-1] == "__main__":
                continue
            parts = parts[:-1] if parts[-1] == "__init__" else parts
            names.append(".".join([package, *parts]))
    return names


def repo_prompts() -> list[str]:
    return sorted(p.stem for p in (REPO / "prompts").glob("*.txt"))


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    """(wheel, zip) from `make dist`."""
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(["make", "-s", "dist", f"DIST={out}"], check=True, cwd=REPO, capture_output=True)
    return next(out.glob("webinstruct-*.whl")), next(out.glob("webinstruct-*.zip"))


def bare_python(folder: Path) -> Path:
    """A venv that sees this venv's installed packages but neither the repo nor the editable install."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    python = folder / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    Path(site, "_runtime_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


def bare_env(python: Path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYSPARK_", "SPARK_", "PYTHON"))}
    env.update(PYSPARK_PYTHON=str(python), PYSPARK_DRIVER_PYTHON=str(python), **extra)
    return env


def smoke(python: Path, env: dict, cwd: Path) -> subprocess.CompletedProcess:
    payload = json.dumps([repo_modules(), repo_prompts(), str(python.parent.parent)])
    return subprocess.run([str(python), "-c", SMOKE % {"repo": str(REPO)}, payload], env=env, cwd=cwd,
                          capture_output=True, text=True)


def install(python: Path, wheel: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--no-index", str(wheel)],
                   check=True)


def documents_in(lake: Path) -> int:
    from deltalake import DeltaTable

    return DeltaTable(str(lake / "documents")).to_pyarrow_table().num_rows


SMALL_SPARK = ["--set", "spark.master=local[1]", "--set", "spark.driver_memory=1g"]


def test_the_wheel_has_one_top_level_name_and_every_file(artifacts):
    wheel, _ = artifacts
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"webinstruct"}
    for folder, package in {**FOLDERS, "prompts": "webinstruct.prompts", "conf": "webinstruct.conf"}.items():
        shipped = {n for n in names if n.startswith(package.replace(".", "/") + "/")}
        for path in (REPO / folder).rglob("*"):
            if path.is_file() and path.suffix in (".py", ".txt", ".json", ".toml", ".html"):
                want = package.replace(".", "/") + "/" + path.relative_to(REPO / folder).as_posix()
                assert want in shipped, f"{want} is not in the wheel"


def test_the_installed_wheel_works_alone(artifacts, tmp_path):
    wheel, _ = artifacts
    python = bare_python(tmp_path / "venv")
    install(python, wheel)
    env = bare_env(python)
    result = smoke(python, env, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    facts = json.loads(result.stdout.strip().splitlines()[-1])
    assert facts["where"].startswith(str(tmp_path / "venv"))
    assert (facts["extract_max_tokens"], facts["bucket"]) == (512, 200000)  # conf/local.toml, not the built-in defaults
    assert set(facts["versions"]) == set(repo_prompts())

    webinstruct = str(tmp_path / "venv" / "bin" / "webinstruct")
    helped = subprocess.run([webinstruct, "--help"], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert helped.returncode == 0 and "pipeline (webinstruct run), in order:" in helped.stdout
    assert subprocess.run([str(python), "-m", "webinstruct.jobs", "--help"], env=env, cwd=tmp_path,
                          capture_output=True).returncode == 0

    archive = shared("warc", "real", "dolma_wget_sample-0001.warc.gz")
    lake = tmp_path / "lake"
    ran = subprocess.run([webinstruct, "--lake", str(lake), *SMALL_SPARK, "ingest", str(archive)], env=env, cwd=tmp_path,
                         capture_output=True, text=True)
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert "ingest summary" in ran.stdout
    assert documents_in(lake) == 13


def test_the_zip_works_with_spark_submit_py_files(artifacts, tmp_path):
    _, archive_zip = artifacts
    python = bare_python(tmp_path / "venv")
    env = bare_env(python, PYTHONPATH=str(archive_zip))
    result = smoke(python, env, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1])["where"].startswith(str(archive_zip))

    spark_submit = Path(sysconfig.get_paths()["purelib"]) / "pyspark" / "bin" / "spark-submit"
    lake = tmp_path / "lake"
    archive = shared("warc", "real", "dolma_wget_sample-0001.warc.gz")
    env = bare_env(python)  # the zip reaches driver and executors through --py-files alone
    ran = subprocess.run([str(spark_submit), "--master", "local[1]", "--driver-memory", "1g", "--py-files", str(archive_zip),
                          str(REPO / "jobs" / "__main__.py"), "--lake", str(lake), "ingest", str(archive)],
                         env=env, cwd=tmp_path, capture_output=True, text=True)
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert documents_in(lake) == 13


def _without(source: Path, target: Path, prefix: str) -> Path:
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w") as zout:
        for item in zin.infolist():
            if not item.filename.startswith(prefix):
                zout.writestr(item, zin.read(item.filename))
    return target


@pytest.mark.parametrize("kind, missing, message", [
    ("wheel", "webinstruct/lib/llm/", "No module named 'webinstruct.lib.llm'"),
    ("zip", "webinstruct/prompts/", "webinstruct.prompts"),
    ("zip", "webinstruct/conf/", "webinstruct.conf"),
])
def test_an_artifact_missing_a_folder_fails_the_checks(artifacts, tmp_path, kind, missing, message):
    wheel, archive_zip = artifacts
    python = bare_python(tmp_path / "venv")
    if kind == "wheel":
        install(python, _without(wheel, tmp_path / wheel.name, missing))
        env = bare_env(python)
    else:
        env = bare_env(python, PYTHONPATH=str(_without(archive_zip, tmp_path / "broken.zip", missing)))
    result = smoke(python, env, tmp_path)
    assert result.returncode != 0 and message in result.stderr, result.stderr[-2000:]
