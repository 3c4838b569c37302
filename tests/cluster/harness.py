"""A real Spark cluster on loopback for the cluster tests: a standalone master and workers
(separate JVMs started with pyspark's own `spark-class`), a Spark Connect server
(`sbin/start-connect-server.sh`), and spark-submit runs that ship the project only as the
`make dist` zip. Every process is started here and ended by its own pid, also when a test
fails.

Executors and Python workers use a "bare" Python: a venv that sees this venv's installed
packages (one .pth line) but not the project, so anything the zip does not carry fails
loudly.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
from pathlib import Path

import pyspark

SPARK_HOME = Path(pyspark.__file__).parent
REPO = Path(__file__).resolve().parents[2]
LAUNCHER = REPO / "jobs" / "__main__.py"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check, timeout: float, what: str, every: float = 0.5):
    """Poll `check()` until it returns something truthy; its value, or AssertionError."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def get_json(url: str):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return json.load(r)
    except (OSError, ValueError):
        return None


def bare_python(folder: Path) -> Path:
    """A venv with this venv's packages (not the project, not the editable install)."""
    if not (folder / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
        site = subprocess.run([str(folder / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                              check=True, capture_output=True, text=True).stdout.strip()
        Path(site, "_runtime_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return folder / "bin" / "python"


def base_env(python: Path) -> dict:
    """The environment every cluster process gets: the bare Python for drivers and
    executors, loopback only, nothing inherited that points at the repo."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYSPARK_", "SPARK_", "PYTHON"))}
    env.update(SPARK_HOME=str(SPARK_HOME), SPARK_LOCAL_IP="127.0.0.1", PYSPARK_PYTHON=str(python),
               PYSPARK_DRIVER_PYTHON=str(python), SPARK_NO_DAEMONIZE="1")
    return env


class Proc:
    """A process we started, ended by its pid."""

    def __init__(self, name: str, popen: subprocess.Popen, log: Path):
        self.name, self.popen, self.log = name, popen, log

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self, sig=signal.SIGKILL) -> None:
        if self.alive():
            os.kill(self.pid, sig)
            try:
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.popen.wait(timeout=30)


class Cluster:
    """A standalone master and `workers` workers of `cores` cores and `memory` each."""

    def __init__(self, root: Path, python: Path, workers: int = 2, cores: int = 1, memory: str = "2g",
                 gpus: bool = False):
        self.root, self.python = root, python
        self.n_workers, self.cores, self.memory, self.gpus = workers, cores, memory, gpus
        self.env = base_env(python)
        self.port, self.web = free_port(), free_port()
        self.url = f"spark://127.0.0.1:{self.port}"
        self.master: Proc | None = None
        self.workers: dict[int, Proc] = {}
        self.started: list[Proc] = []
        root.mkdir(parents=True, exist_ok=True)

    def _spawn(self, name: str, cmd: list[str], env: dict) -> Proc:
        log = self.root / f"{name}.log"
        popen = subprocess.Popen(cmd, env=env, stdout=open(log, "ab"), stderr=subprocess.STDOUT, cwd=self.root,
                                 start_new_session=True)
        proc = Proc(name, popen, log)
        self.started.append(proc)
        return proc

    def start(self) -> "Cluster":
        env = {**self.env, "SPARK_MASTER_OPTS": "-Dspark.deploy.defaultCores=64",
               "SPARK_DAEMON_MEMORY": "512m"}
        self.master = self._spawn("master", [str(SPARK_HOME / "bin" / "spark-class"), "org.apache.spark.deploy.master.Master",
                                             "--host", "127.0.0.1", "--port", str(self.port), "--webui-port", str(self.web)], env)
        wait_for(lambda: get_json(f"http://127.0.0.1:{self.web}/json/"), 60, "the master")
        for i in range(self.n_workers):
            self.start_worker(i)
        return self

    def start_worker(self, i: int) -> Proc:
        opts = []
        if self.gpus:
            script = self.root / f"gpu-{i}.sh"
            script.write_text(f'#!/bin/sh\necho \'{{"name": "gpu", "addresses": ["{i}"]}}\'\n')
            script.chmod(0o755)
            opts = ["-Dspark.worker.resource.gpu.amount=1", f"-Dspark.worker.resource.gpu.discoveryScript={script}"]
        env = {**self.env, "SPARK_WORKER_OPTS": " ".join(opts), "SPARK_DAEMON_MEMORY": "512m"}
        work = self.root / f"worker-{i}"
        work.mkdir(exist_ok=True)
        before = self.alive_workers()
        proc = self._spawn(f"worker-{i}", [
            str(SPARK_HOME / "bin" / "spark-class"), "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1",
            "--cores", str(self.cores), "--memory", self.memory, "--work-dir", str(work), "--webui-port", str(free_port()),
            self.url,
        ], env)
        self.workers[i] = proc
        wait_for(lambda: self.alive_workers() > before, 60, f"worker {i} to register")
        return proc

    def alive_workers(self) -> int:
        state = get_json(f"http://127.0.0.1:{self.web}/json/") or {}
        return sum(1 for w in state.get("workers", []) if w.get("state") == "ALIVE")

    def kill_worker(self, i: int) -> None:
        """SIGKILL the worker JVM; its executor notices the lost worker and exits."""
        self.workers[i].kill()

    def stop(self) -> None:
        for proc in reversed(self.started):
            proc.kill(signal.SIGTERM)
        kill_leftovers([p.pid for p in self.started])


def session_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[3])  # the fields after the command: state, ppid, pgrp, session


def kill_leftovers(leaders: list[int]) -> None:
    """Executors and Python workers a killed worker left behind. Every process here is
    started as a session leader, and what it starts stays in its session: each one still
    alive in one of those sessions is ended by its pid."""
    sessions = set(leaders)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid() and session_of(int(entry.name)) in sessions:
            try:
                os.kill(int(entry.name), signal.SIGKILL)
            except OSError:
                pass


class Submitter:
    """spark-submit runs of the launcher with the zip on --py-files and the bare Python."""

    def __init__(self, root: Path, python: Path, zip_path: Path):
        self.root, self.python, self.zip = root, python, zip_path
        self.env = base_env(python)
        self.count = 0
        root.mkdir(parents=True, exist_ok=True)

    def command(self, master: str, args: list[str], conf: dict | None = None) -> tuple[list[str], int]:
        ui = free_port()
        settings = {"spark.ui.port": ui, "spark.pyspark.python": self.python, "spark.pyspark.driver.python": self.python,
                    "spark.executor.memory": "1g", "spark.port.maxRetries": 64, **(conf or {})}
        cmd = [str(SPARK_HOME / "bin" / "spark-submit"), "--master", master, "--driver-memory", "1g",
               "--py-files", str(self.zip)]
        for k, v in settings.items():
            cmd += ["--conf", f"{k}={v}"]
        return cmd + [str(LAUNCHER), *args], ui

    def start(self, master: str, args: list[str], conf: dict | None = None) -> tuple[Proc, int]:
        self.count += 1
        cmd, ui = self.command(master, args, conf)
        log = self.root / f"submit-{self.count}.log"
        popen = subprocess.Popen(cmd, env=self.env, stdout=open(log, "wb"), stderr=subprocess.STDOUT, cwd=self.root,
                                 start_new_session=True)
        return Proc(f"submit-{self.count}", popen, log), ui

    def run(self, master: str, args: list[str], conf: dict | None = None, timeout: float = 900) -> tuple[int, str, float]:
        """(exit code, output, seconds)."""
        started = time.monotonic()
        proc, _ = self.start(master, args, conf)
        try:
            proc.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
        return proc.popen.returncode, proc.log.read_text(errors="replace"), time.monotonic() - started


def active_tasks(ui_port: int) -> int:
    """Tasks running now in the driver's application (its REST API)."""
    apps = get_json(f"http://127.0.0.1:{ui_port}/api/v1/applications") or []
    total = 0
    for app in apps:
        for stage in get_json(f"http://127.0.0.1:{ui_port}/api/v1/applications/{app['id']}/stages?status=active") or []:
            total += stage.get("numActiveTasks", 0)
    return total


class ConnectServer:
    """`sbin/start-connect-server.sh` in the foreground (SPARK_NO_DAEMONIZE), ended by pid."""

    def __init__(self, root: Path, python: Path, master: str, conf: dict | None = None):
        self.root, self.python, self.master = root, python, master
        self.port = free_port()
        self.conf = conf or {}
        self.proc: Proc | None = None

    @property
    def url(self) -> str:
        return f"sc://127.0.0.1:{self.port}"

    def start(self) -> "ConnectServer":
        env = {**base_env(self.python), "SPARK_LOG_DIR": str(self.root), "SPARK_PID_DIR": str(self.root),
               "SPARK_IDENT_STRING": "webinstruct-test"}
        settings = {"spark.connect.grpc.binding.port": self.port, "spark.connect.grpc.binding.address": "127.0.0.1",
                    "spark.pyspark.python": self.python, "spark.ui.enabled": "false", "spark.driver.memory": "2g", **self.conf}
        cmd = [str(SPARK_HOME / "sbin" / "start-connect-server.sh"), "--master", self.master]
        for k, v in settings.items():
            cmd += ["--conf", f"{k}={v}"]
        log = self.root / "connect.log"
        self.root.mkdir(parents=True, exist_ok=True)
        popen = subprocess.Popen(cmd, env=env, stdout=open(log, "ab"), stderr=subprocess.STDOUT, cwd=self.root,
                                 start_new_session=True)
        self.proc = Proc("connect", popen, log)

        def listening():
            if not self.proc.alive():
                raise AssertionError(f"the Connect server exited:\n{log.read_text(errors='replace')[-3000:]}")
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", self.port)) == 0

        wait_for(listening, 120, "the Spark Connect server")
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill(signal.SIGTERM)
            kill_leftovers([self.proc.pid])
