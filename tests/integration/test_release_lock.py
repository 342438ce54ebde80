"""One release operation at a time per home: processes racing for the release lock."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gpcast.errors import ReleaseBusyError
from gpcast.release.lock import read_holder, release_lock

# Each racer waits for the start file, then tries the lock once; the winner holds it a while.
RACER = """
import sys, time, pathlib
from gpcast.errors import ReleaseBusyError
from gpcast.release.lock import release_lock
home, go = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
while not go.exists():
    time.sleep(0.001)
try:
    with release_lock(home, "racer " + sys.argv[3]):
        print("proceeded", flush=True)
        time.sleep(1.5)
except ReleaseBusyError as exc:
    print("busy:", exc.message, flush=True)
    sys.exit(exc.exit_code)
"""


def test_of_commands_started_at_the_same_moment_exactly_one_proceeds(tmp_path: Path) -> None:
    home, go = tmp_path / "home", tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", RACER, str(home), str(go), str(i)],
                              stdout=subprocess.PIPE, text=True) for i in range(4)]
    time.sleep(1.0)  # every interpreter up and polling
    go.touch()
    outs = [(p.communicate(timeout=60)[0], p.returncode) for p in procs]
    assert sorted(code for _, code in outs) == [0, 11, 11, 11]
    winner = next(out for out, code in outs if code == 0)
    assert winner.strip() == "proceeded"
    for out, code in outs:
        if code:
            assert "'racer " in out and "holds the release lock" in out and "pid" in out


def test_a_dead_holders_lock_is_taken_over_and_a_live_one_names_itself(tmp_path: Path) -> None:
    home = tmp_path / "home"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time, pathlib\n"
         "from gpcast.release.lock import release_lock\n"
         "with release_lock(pathlib.Path(sys.argv[1]), 'approve 3'):\n"
         "    print('held', flush=True); time.sleep(600)\n", str(home)],
        stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    found = read_holder(home)
    assert found is not None and (found.pid, found.command) == (holder.pid, "approve 3")
    with pytest.raises(ReleaseBusyError) as busy, release_lock(home, "rollback", wait_s=0.3):
        pass
    assert f"'approve 3' (pid {holder.pid}" in busy.value.message
    holder.kill()  # SIGKILL: no clean-up ran, the file still names the dead holder
    holder.wait()
    holder.stdout.close()
    assert json.loads((home / "release.lock").read_text())["pid"] == holder.pid
    with release_lock(home, "rollback") as me:
        assert me.pid == os.getpid()
        assert read_holder(home) == me
    assert read_holder(home) is None


def test_homes_sharing_a_postgresql_ledger_release_one_at_a_time(
        tmp_path: Path, postgres_url: str) -> None:
    import sqlalchemy as sa

    db = sa.create_engine(postgres_url)
    other = sa.create_engine(postgres_url)
    try:
        with release_lock(tmp_path / "machine-a", "approve 2", db=db), \
                pytest.raises(ReleaseBusyError, match="ledger database"), \
                release_lock(tmp_path / "machine-b", "rollback", wait_s=0.3, db=other):
            pass
        with release_lock(tmp_path / "machine-b", "rollback", db=other):
            pass
    finally:
        db.dispose()
        other.dispose()
