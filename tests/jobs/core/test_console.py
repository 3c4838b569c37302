"""The console of the `webinstruct` command, in child processes with stdout a pipe (no
terminal), as CI sees it: our lines on the console, every library line in the run's log.
The demo run's console is checked in tests/jobs/test_pipeline.py."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from webinstruct.jobs.core.console import StageProgress

CHILD = textwrap.dedent("""
    import logging, os, subprocess, sys, warnings
    from pathlib import Path
    from webinstruct.jobs.core.console import CONSOLE
    CONSOLE.capture(Path(sys.argv[1]), verbose=sys.argv[2] == "1")
    print("our line")
    logging.getLogger("vllm.engine").info("INFO 12-01 engine config: model=SmolLM2")
    warnings.warn("torch.distributed.reduce_op is deprecated", FutureWarning)
    os.write(2, b"WARN NativeCodeLoader: Unable to load native-hadoop library\\n")  # the JVM, through fd 2
    subprocess.run([sys.executable, "-c", "print('a child process line')"], check=True)  # a Python worker, through fd 1
    logging.getLogger("webinstruct.recall").warning("recall round 2 skipped: too few judged domains")
    with CONSOLE.stage("extract", "pairs from pages") as progress:
        progress.slices("extract", 10, 2)
        progress.slice_done("extract", 1, 6, 10, 9, 6, 480)
    CONSOLE.error("extract: boom")
    CONSOLE.release()
""")
LIBRARY = ("engine config", "FutureWarning", "native-hadoop", "a child process line")


def _run(tmp_path, verbose: bool):
    log = tmp_path / "_logs" / "run.log"
    done = subprocess.run([sys.executable, "-c", CHILD, str(log), "1" if verbose else "0"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done, log.read_text()


def test_library_output_goes_to_the_log_and_ours_to_the_console(tmp_path):
    done, log = _run(tmp_path, verbose=False)
    before_error = done.stderr.split("extract: boom")[0]
    for line in LIBRARY:
        assert line in log and line not in done.stdout + before_error, line
    out = done.stdout.splitlines()
    assert out[0] == "our line" and "warning: recall round 2 skipped: too few judged domains" in done.stderr
    assert "▶ extract: pairs from pages" in out
    # no terminal: no bar, a plain line per committed slice with requests, tokens and speed
    (slice_line,) = [line for line in out if "slice 1/2" in line]
    assert "6/10 records" in slice_line and "6 requests" in slice_line and "480 tokens out" in slice_line and "tok/s" in slice_line
    assert not any("\x1b[" in line for line in out)  # no terminal codes in a CI log
    # an error: the error, the log's last lines (here the library's) and the log's path
    err = done.stderr
    assert "\nextract: boom\n" in err and "native-hadoop" in err.split("last")[1] and f"log: {tmp_path}" in err


def test_verbose_streams_the_log(tmp_path):
    done, log = _run(tmp_path, verbose=True)
    assert "engine config" in done.stderr and "native-hadoop" in done.stderr and "engine config" not in done.stdout
    assert "last" not in done.stderr  # streamed already: no tail under the error


def test_progress_outside_a_stage_block_prints_nothing(capsys):
    """Stages called from code (tests, notebooks) keep a quiet stdout."""
    from webinstruct.jobs.core.console import CONSOLE

    assert CONSOLE.current is None
    StageProgress(CONSOLE, "x")  # constructing one does not print
    assert capsys.readouterr().out == ""


BAR_CHILD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from webinstruct.jobs.core.console import CONSOLE
    CONSOLE.capture(Path(sys.argv[1]))
    with CONSOLE.stage("refine", "pairs rewritten") as progress:
        progress.slices("refine0", 40, 4)
        for i in range(1, 5):
            time.sleep(0.3)
            progress.slice_done("refine0", i, 10 * i, 40, 10, 10, 800)
        print("refine summary")
    CONSOLE.release()
""")


def test_on_a_terminal_an_llm_stage_shows_a_bar_with_slices_tokens_and_eta(tmp_path):
    import os
    import pty

    master, slave = pty.openpty()
    child = subprocess.Popen([sys.executable, "-c", BAR_CHILD, str(tmp_path / "run.log")], stdout=slave, stderr=subprocess.PIPE)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    assert child.wait(timeout=60) == 0, child.stderr.read()
    screen = b"".join(chunks).decode(errors="replace")
    assert "▶ refine: pairs rewritten" in screen and "refine summary" in screen
    assert "refine0: records" in screen and "ETA" in screen and "\x1b[" in screen  # a live bar, drawn with terminal codes
    assert "slice 4/4 · 40 requests · 3200 tokens out" in screen and "tok/s" in screen
    assert "refine0: 40/40 records" not in screen  # no plain per-slice lines on a terminal
