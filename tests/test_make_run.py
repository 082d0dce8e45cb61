"""`make run` (scripts/run_dev.sh): it starts only on a free port, shows its banner once the web server
answers, and a Ctrl-C, TERM or HUP stops the web server and the job worker quietly, with status 0 and
no process left behind.

The slow tests run the real servers on a free port over a temporary SQLite database; the others give
the script a stand-in for Python (PYTHON_BIN) whose "servers" start, crash or sleep as the test needs.
"""

import contextlib
import fcntl
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import termios
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "run_dev.sh"
BANNER = re.compile(r"storemonitor \(development server\) on (\S+) \(web server pid (\d+), job worker pid (\d+)\)")
STOPPED_BOTH = "Stopped the web server and the job worker."

needs_proc = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux's /proc")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def environment(var_dir: Path, port: int, **extra: str) -> dict[str, str]:
    """The environment of a developer's shell: SQLite under var_dir, the real settings, no make of ours."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "MFLAGS"} and not name.startswith("MAKE")
    }
    return {**env, "STOREMONITOR_VAR_DIR": str(var_dir), "DEBUG": "1", "HOST": "127.0.0.1", "PORT": str(port), **extra}


def session_processes(session: int) -> list[str]:
    """The processes still running in a session (a zombie has ended, it only waits to be collected)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name, _, rest = text.partition(" (")[2].rpartition(")")
        state, _ppid, _group, member_of = rest.split()[:4]
        if int(member_of) == session and state != "Z":
            found.append(f"{stat.parent.name} {name}")
    return found


def kill_session(session: int) -> None:
    """After a failure: SIGKILL every process of the session (the servers run in groups of their own)."""
    for member in session_processes(session):
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(member.split()[0]), signal.SIGKILL)


def assert_nothing_left(session: int) -> None:
    deadline = time.monotonic() + 10
    while session_processes(session) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = session_processes(session)
    kill_session(session)
    assert left == []


class Output:
    """Everything a process writes to the file descriptor ``fd``, read in a thread; ``close`` stops
    reading and closes it (as a `tee` that is gone)."""

    def __init__(self, fd: int):
        self.fd = fd
        self.chunks: list[bytes] = []
        self.closing = threading.Event()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        while not self.closing.is_set():
            if not select.select([self.fd], [], [], 0.1)[0]:
                continue
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:  # a terminal whose last process has gone: EIO
                break
            if not chunk:
                break
            self.chunks.append(chunk)
        os.close(self.fd)

    @property
    def text(self) -> str:
        return b"".join(self.chunks).decode(errors="replace").replace("\r\n", "\n")

    def wait_for(self, found: Callable[[str], object], seconds: float, process: subprocess.Popen) -> object:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            result = found(self.text)
            if result:
                return result
            if process.poll() is not None and not self.thread.is_alive():
                break
            time.sleep(0.1)
        raise AssertionError(f"not seen within {seconds} s; the output was:\n{self.text}")

    def close(self) -> None:
        self.closing.set()
        self.thread.join(5)

    def finish(self) -> str:
        self.thread.join(10)
        return self.text


def start_script(env: dict[str, str]) -> tuple[subprocess.Popen, Output]:
    """The script in a session and process group of its own, as a shell starts a job; output to a pipe."""
    read_end, write_end = os.pipe()
    process = subprocess.Popen(
        [str(SCRIPT)], cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=write_end, stderr=write_end,
        start_new_session=True,
    )  # fmt: skip
    os.close(write_end)
    return process, Output(read_end)


@pytest.fixture(scope="module")
def migrated_var_dir(tmp_path_factory) -> Path:
    var_dir = tmp_path_factory.mktemp("var")
    subprocess.run(
        [sys.executable, "scripts/migrate.py"], cwd=ROOT, env=environment(var_dir, 0), check=True, capture_output=True
    )
    return var_dir


@pytest.fixture
def stand_in_python(tmp_path) -> Callable[..., dict[str, str]]:
    """PYTHON_BIN for the script: its checks of the port run for real, `manage.py runserver` and
    `manage.py qcluster` do what the test says (shell commands), and every call is written down."""

    def make(runserver: str, qcluster: str) -> dict[str, str]:
        stand_in = tmp_path / "python"
        stand_in.write_text(
            "#!/bin/sh\n"
            f'echo "$*" >> {tmp_path / "calls"}\n'
            f'case "$2" in runserver) {runserver} ;; qcluster) {qcluster} ;; esac\n'
            f'exec {sys.executable} "$@"\n'
        )
        stand_in.chmod(0o755)
        return {"PYTHON_BIN": str(stand_in)}

    return make


def calls(tmp_path: Path) -> list[str]:
    path = tmp_path / "calls"
    return path.read_text().splitlines() if path.exists() else []


def test_a_taken_port_is_named_with_one_to_use_instead_and_nothing_starts(tmp_path, stand_in_python):
    with socket.socket() as other_server:
        other_server.bind(("127.0.0.1", 0))
        other_server.listen()
        port = other_server.getsockname()[1]
        env = environment(tmp_path / "var", port, **stand_in_python(runserver="exit 0", qcluster="exit 0"))
        done = subprocess.run([str(SCRIPT)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert re.fullmatch(
        rf"Port {port} on 127\.0\.0\.1 is taken \(by another server\?\): set PORT=(\d+) to use another\.\n",
        done.stdout + done.stderr,
    )
    assert calls(tmp_path) == [f"scripts/server_port.py free 127.0.0.1 {port}"]


@pytest.mark.parametrize(
    ("settings", "sentence"),
    [
        ({"PORT": "eighty"}, "PORT=eighty is not a port number: set PORT to one from 1 to 65535, e.g. PORT=8000."),
        ({"PORT": "70000"}, "PORT=70000 is not a port number: set PORT to one from 1 to 65535, e.g. PORT=8000."),
        (
            {"HOST": "no-such-host.invalid"},
            "HOST=no-such-host.invalid is not a host name or address this machine knows: set HOST=127.0.0.1 "
            "(or 0.0.0.0).",
        ),
    ],
)
def test_a_host_or_port_that_cannot_be_served_is_a_sentence_saying_what_to_set(tmp_path, settings, sentence):
    env = {**environment(tmp_path / "var", 8000), **settings}
    done = subprocess.run([str(SCRIPT)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout + done.stderr) == (1, sentence + "\n")


@needs_proc
def test_a_web_server_that_crashes_on_start_gets_no_banner_and_its_status_is_the_scripts(tmp_path, stand_in_python):
    env = environment(
        tmp_path / "var",
        free_port(),
        **stand_in_python(runserver="echo 'Error: the web server broke.' >&2; exit 3", qcluster="exec sleep 60"),
    )
    process, output = start_script(env)
    assert process.wait(60) == 3
    text = output.finish()
    assert "Error: the web server broke.\nThe web server exited (status 3).\nStopped the job worker.\n" in text
    assert "development server" not in text
    assert_nothing_left(process.pid)


@pytest.mark.slow
@needs_proc
@pytest.mark.parametrize(
    ("signum", "to_group", "output_gone"),
    [
        pytest.param(signal.SIGINT, True, False, id="Ctrl-C: SIGINT to the group"),
        pytest.param(signal.SIGTERM, False, False, id="SIGTERM to the script"),
        pytest.param(signal.SIGHUP, True, True, id="a closed terminal: SIGHUP to the group, output gone"),
    ],
)
def test_a_stop_signal_stops_both_servers_with_status_0(migrated_var_dir, signum, to_group, output_gone):
    process, output = start_script({**environment(migrated_var_dir, free_port()), "PYTHON_BIN": sys.executable})
    try:
        url, web, worker = output.wait_for(lambda text: BANNER.search(text), 90, process).groups()
        with urllib.request.urlopen(url, timeout=30) as answer:  # the banner waited for it to answer
            assert answer.status == 200
        assert [os.getpgid(int(web)), os.getpgid(int(worker))] == [int(web), int(worker)]  # groups of their own
        if output_gone:
            output.close()
        if to_group:
            os.killpg(process.pid, signum)
        else:
            process.send_signal(signum)
        assert process.wait(60) == 0
    except BaseException:
        kill_session(process.pid)
        process.wait(10)
        raise
    assert_nothing_left(process.pid)
    if not output_gone:
        text = output.finish()
        assert text.endswith(STOPPED_BOTH + "\n")
        assert [unwanted for unwanted in ("Traceback", "pid -") if unwanted in text] == []


def start_in_terminal(argv: list[str], env: dict[str, str]) -> tuple[subprocess.Popen, Output, int]:
    """argv as a shell runs a command in a terminal: a session whose controlling terminal is a new
    pseudo-terminal, in the foreground; returns the process, its output and the terminal's master end."""
    master, slave = os.openpty()

    def take_the_terminal() -> None:  # in the child, after setsid: stdin is the terminal
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    # preexec_fn: Popen has no option for a controlling terminal; the function makes one system call.
    process = subprocess.Popen(
        argv, cwd=ROOT, env=env, stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
        preexec_fn=take_the_terminal,
    )  # fmt: skip
    os.close(slave)
    return process, Output(os.dup(master)), master


@pytest.mark.slow
@needs_proc
@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_ctrl_c_in_make_run_stops_quietly_and_make_reports_no_interrupt(tmp_path):
    port = free_port()
    # The venv this test runs in, made already: make installs nothing.
    argv = ["make", "--no-print-directory", f"VENV={sys.prefix}", "-o", "install", "run"]
    process, output, terminal = start_in_terminal(argv, environment(tmp_path / "var", port))
    try:
        output.wait_for(lambda text: "Stop both:" in text, 120, process)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/favicon.ico", timeout=30) as answer:
            assert (answer.status, answer.read(4)) == (200, b"\x00\x00\x01\x00")  # an ICO file
            assert answer.headers["Content-Type"].startswith("image/")
        output.wait_for(lambda text: "GET /favicon.ico" in text, 30, process)
        os.write(terminal, b"\x03")  # Ctrl-C: the terminal sends SIGINT to its foreground group
        # make dies of that SIGINT itself, but only after the script: silently (GNU make re-raises it).
        assert process.wait(60) in (0, -signal.SIGINT)
    except BaseException:
        kill_session(process.pid)
        process.wait(10)
        raise
    finally:
        os.close(terminal)
    assert_nothing_left(process.pid)
    text = output.finish()
    assert "Database ready (" in text
    assert "Applying" not in text
    # The last line is the script's own, on a line of its own. (Where the terminal's echo of ^C
    # lands among the worker's log lines is a matter of timing, so it is not checked.)
    assert text.endswith(STOPPED_BOTH + "\n")
    assert text.splitlines()[-1] == STOPPED_BOTH
    assert [unwanted for unwanted in ("Interrupt", "make:", "pid -", "Traceback") if unwanted in text] == []
    # One line per log message, in one format, the web server's request log included.
    assert text.count("Watching for file changes") == 1
    assert re.search(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO django\.server: \"GET /favicon\.ico ", text, re.M)
    assert text.count("GET /favicon.ico") == 1
