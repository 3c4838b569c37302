"""What a person running `webinstruct` sees, and where everything else goes.

A run's console holds our lines only: one start line per stage, a live progress bar (on a
terminal), the stage's summary table, warnings of our own, and on an error the error with
the last lines of the log. Everything libraries print (vLLM and its engine configs, Spark's
log4j, torch and transformers warnings, tqdm bars, the Python workers' output) goes to a
log file per run, `<lake>/_logs/<run_id>.log`.

This works on file descriptors, not on Python objects: the JVM and the Python workers it
forks inherit descriptors 1 and 2 when Spark starts, so both are pointed at the log before
that, and our own lines go to a copy of the terminal's descriptor. It is done only by the
command-line entry point (`capture`); code that imports the package (tests, notebooks)
keeps its streams.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import threading
import time
from collections import deque
from pathlib import Path

from rich.console import Console as RichConsole
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from webinstruct.jobs.core.session import is_connect

TAIL_LINES = 25  # log lines shown under an error
POLL_S = 0.5  # how often a Spark stage's task counts are read
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class Console:
    """The one console of a process (`CONSOLE`). Until `capture` is called it prints to
    sys.stdout as any code would, with no progress bars."""

    def __init__(self) -> None:
        self.log_path: Path | None = None
        self.captured = False
        self._err = None  # the terminal's stderr while captured
        self._follow: threading.Thread | None = None
        self._stop = threading.Event()
        self._progress: Progress | None = None
        self.current: StageProgress | None = None  # the stage block in progress, if any

    # -- set-up --------------------------------------------------------------------------

    def capture(self, log_path: Path, verbose: bool = False) -> None:
        """Point descriptors 1 and 2 (and sys.stderr, Python logging and warnings) at
        `log_path`; our lines keep the terminal. With `verbose`, the log is streamed to the
        terminal's stderr as it grows."""
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._start = log_path.stat().st_size if log_path.exists() else 0
        sys.stdout.flush()
        sys.stderr.flush()
        out_fd, err_fd = os.dup(1), os.dup(2)
        log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        os.close(log_fd)
        sys.stdout = io.TextIOWrapper(os.fdopen(out_fd, "wb", buffering=0), encoding="utf-8", line_buffering=True)
        self._err = io.TextIOWrapper(os.fdopen(err_fd, "wb", buffering=0), encoding="utf-8", line_buffering=True)
        sys.stderr = io.TextIOWrapper(os.fdopen(os.dup(2), "wb", buffering=0), encoding="utf-8", line_buffering=True)
        # vLLM logs to sys.stdout by default; in the driver that is now the terminal
        os.environ["VLLM_LOGGING_STREAM"] = "ext://sys.stderr"
        root = logging.getLogger()
        for h in list(root.handlers):
            root.removeHandler(h)
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        ours = logging.StreamHandler(self._err)  # our own warnings also reach the person (stdout stays the result)
        ours.setLevel(logging.WARNING)
        ours.setFormatter(logging.Formatter("warning: %(message)s"))
        logging.getLogger("webinstruct").addHandler(ours)
        logging.captureWarnings(True)
        self.log_path = log_path
        self.captured = True
        if verbose:
            self._follow = threading.Thread(target=self._stream_log, name="webinstruct-log-follow", daemon=True)
            self._follow.start()

    def release(self) -> None:
        """Stop following the log and flush it (descriptors stay on the log: the JVM may
        still be writing at exit)."""
        self._stop.set()
        if self._follow is not None:
            self._follow.join(timeout=2)
        sys.stderr.flush()

    def _stream_log(self) -> None:
        with open(self.log_path, encoding="utf-8", errors="replace") as fh:
            fh.seek(self._start)
            while not self._stop.is_set():
                line = fh.readline()
                if line:
                    self._err.write(line)
                else:
                    time.sleep(0.2)
            self._err.write(fh.read())

    @property
    def tty(self) -> bool:
        """Progress bars only on a terminal; a CI log or a pipe gets plain lines."""
        return self.captured and sys.stdout.isatty()

    # -- what we print ---------------------------------------------------------------------

    def line(self, text: str = "") -> None:
        if self._progress is not None:
            self._progress.console.print(text, markup=False, highlight=False)
        else:
            print(text, flush=True)

    def note(self, message: str) -> None:
        """A line for the person that is not the command's result (stderr, so `--format
        json` output stays parseable)."""
        print(message, file=self._err if self.captured else sys.stderr, flush=True)

    def error(self, message: str, tail: bool = True) -> None:
        """The error, then (when captured) the last lines of the log (unless `tail` is
        false: an error that says all there is) and its path."""
        stream = self._err if self.captured else sys.stderr
        print(message, file=stream, flush=True)
        if not self.captured:
            return
        sys.stderr.flush()
        lines = self.tail() if tail and self._follow is None else []  # --verbose streamed it already
        if lines:
            print(f"\nlast {len(lines)} lines of the log:", file=stream)
            for line in lines:
                print(f"  {line}", file=stream)
        print(f"\nlog: {self.log_path}", file=stream, flush=True)

    def tail(self, n: int = TAIL_LINES) -> list[str]:
        if self.log_path is None or not self.log_path.exists():
            return []
        with open(self.log_path, encoding="utf-8", errors="replace") as fh:
            return [line.rstrip("\n") for line in deque(fh, maxlen=n)]

    # -- progress -----------------------------------------------------------------------

    @contextlib.contextmanager
    def stage(self, name: str, about: str = "", spark=None):
        """One start line, then (on a terminal) a bar of the stage's Spark tasks, done of
        total, until the block ends. Yields a StageProgress the LLM loop reports slices to."""
        self.line(f"\n▶ {name}" + (f": {about}" if about else ""))
        progress = StageProgress(self, name)
        self.current = progress
        if not self.tty:
            try:
                yield progress
            finally:
                self.current = None
            return
        bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                       TextColumn("{task.fields[extra]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                       console=RichConsole(file=sys.stdout), transient=True)
        self._progress = bar
        progress.bar = bar
        poller = SparkTasks(spark, bar, f"{name}: Spark tasks") if spark is not None else None
        with bar:
            if poller is not None:
                poller.start()
            try:
                yield progress
            finally:
                if poller is not None:
                    poller.stop()
                self._progress = None
                self.current = None


class StageProgress:
    """Slices of an LLM stage: records, requests and output tokens done, with throughput;
    a bar with ETA on a terminal, a plain line per committed slice elsewhere."""

    def __init__(self, console: Console, name: str) -> None:
        self.console = console
        self.name = name
        self.bar: Progress | None = None
        self._task = None
        self._started = time.monotonic()
        self.tokens = 0
        self.requests = 0

    def slices(self, label: str, records: int, n_slices: int) -> None:
        self._started = time.monotonic()
        self.n_slices = n_slices
        if self.bar is not None:
            self._task = self.bar.add_task(f"{label}: records", total=records, extra=f"slice 0/{n_slices}")

    def slice_done(self, label: str, index: int, records_done: int, records: int, rows: int, requests: int, tokens: int) -> None:
        self.requests += requests
        self.tokens += tokens
        seconds = max(time.monotonic() - self._started, 1e-6)
        speed = f"{self.tokens / seconds:.1f} tok/s" if self.tokens else "tokens: -"
        text = f"slice {index}/{self.n_slices} · {self.requests} requests · {self.tokens} tokens out · {speed}"
        if self._task is not None:
            self.bar.update(self._task, completed=records_done, extra=text)
        else:
            self.console.line(f"  {label}: {records_done}/{records} records, {rows} rows written; {text}")


class SparkTasks:
    """Polls the status tracker for the active Spark stages and shows their tasks, done of
    total, summed over every Spark stage seen since the block began. A Spark Connect
    session has no status tracker: the bar then shows elapsed time only."""

    def __init__(self, spark, bar: Progress, label: str) -> None:
        self.tracker = None if is_connect(spark) else spark.sparkContext.statusTracker()
        self.bar = bar
        self.task = bar.add_task(label, total=None, extra="")
        self.seen: dict[int, tuple[int, int]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="webinstruct-spark-progress", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)

    def _run(self) -> None:
        while not self._stop.wait(POLL_S):
            if self.tracker is None:
                continue
            try:
                active = set(self.tracker.getActiveStageIds())
                for sid in active:
                    info = self.tracker.getStageInfo(sid)
                    if info is not None:
                        self.seen[sid] = (info.numCompletedTasks, info.numTasks)
                for sid, (_, total) in list(self.seen.items()):
                    if sid not in active:  # ended between two polls: all its tasks are done
                        self.seen[sid] = (total, total)
            except Exception:  # noqa: BLE001 - the session is stopping; the bar just stops moving
                return
            done, total = sum(d for d, _ in self.seen.values()), sum(t for _, t in self.seen.values())
            if total:
                self.bar.update(self.task, completed=done, total=total, extra=f"{len(self.seen)} Spark stages")


CONSOLE = Console()
