"""A load interrupted by Ctrl-C or killed outright leaves the store as before (or whole, when the
signal came after the commit), and Ctrl-C says which."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cartwise.core.settings import get_settings
from cartwise.store import open_store

ROWS = 1_000_000


def big_csv(path: Path) -> Path:
    with path.open("w") as handle:
        handle.write("event_id,ts,user_id,type,item_id\n")
        for i in range(ROWS):
            handle.write(f"b{i},2024-03-01T10:{i % 60:02d}:00Z,u{i % 5000},view,i{i % 700}\n")
    return path


def bytes_read(pid: int) -> int:
    """Bytes the process has read so far (rchar in /proc/PID/io)."""
    try:
        for line in Path(f"/proc/{pid}/io").read_text().splitlines():
            if line.startswith("rchar:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def bytes_read_by_imports() -> int:
    """Bytes a CLI process reads before it works (modules, shared libraries), measured in a child."""
    code = (
        "import pathlib, cartwise.cli; "
        "print(next(l for l in pathlib.Path('/proc/self/io').read_text().splitlines() if l.startswith('rchar:')).split()[1])"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return int(out.stdout.strip())


def counts(db: Path) -> tuple[int, int]:
    settings = get_settings(db=db, memory_limit="1GB")
    with open_store(db, settings=settings) as store:
        return store.count("events"), store.count("loads")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sig", "delay"),
    [(signal.SIGINT, 0.0), (signal.SIGINT, 0.3), (signal.SIGKILL, 0.0)],
    ids=["ctrl-c-while-parsing", "ctrl-c-in-duckdb", "kill"],
)
def test_an_interrupted_load_is_all_or_nothing_and_says_which(
    tmp_path: Path, sig: signal.Signals, delay: float
) -> None:
    db = tmp_path / "shop.duckdb"
    small = tmp_path / "small.csv"
    small.write_text("event_id,ts,user_id,type\na1,2024-01-01T00:00:00Z,u1,view\n")
    subprocess.run(
        [sys.executable, "-m", "cartwise", "ingest", "events", str(small), "--db", str(db)],
        check=True,
        capture_output=True,
    )
    before = counts(db)
    path = big_csv(tmp_path / "big.csv")
    process = subprocess.Popen(
        [sys.executable, "-m", "cartwise", "ingest", "events", str(path), "--db", str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # Interrupt once the process has read its imports and the file (in one read, so half its
    # size is margin enough): the load is then under way. Imports alone read tens of MB, as
    # much as the file, and a signal during them stops Python before Cartwise can answer it.
    threshold = bytes_read_by_imports() + path.stat().st_size // 2
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None and bytes_read(process.pid) < threshold:
        time.sleep(0.02)
    # `delay` seconds later the file is parsed and the load's DuckDB statements are running.
    time.sleep(delay)
    assert process.poll() is None, "the load finished before it could be interrupted; make the file bigger"
    process.send_signal(sig)
    stdout, stderr = process.communicate(timeout=60)
    after = counts(db)
    loaded = (before[0] + ROWS, before[1] + 1)
    # All or nothing: a late signal may land after the commit (during the rollup refresh).
    assert after in (before, loaded), after
    if sig == signal.SIGINT:
        # Python turns Ctrl-C into a message and exit code 130, unless the signal lands while
        # DuckDB has its own handler installed; then the process ends by the signal itself.
        # Or DuckDB's handler takes it as the last statement ends, which nothing interrupts then:
        # the load is complete, and says so.
        if process.returncode == 130:
            assert ("every file was loaded" if after == loaded else "nothing was changed") in stderr, stderr
        elif process.returncode == 0:
            assert after == loaded and f"loaded {ROWS:,}" in stdout, (after, stdout, stderr)
        else:
            assert process.returncode == -signal.SIGINT, stderr
    else:
        assert process.returncode == -signal.SIGKILL
    if sig == signal.SIGINT or after == loaded:
        return
    # After a kill the store opens cleanly and the same file then loads completely.
    subprocess.run(
        [sys.executable, "-m", "cartwise", "ingest", "events", str(path), "--db", str(db)],
        check=True,
        capture_output=True,
    )
    assert counts(db) == (before[0] + ROWS, before[1] + 1)
