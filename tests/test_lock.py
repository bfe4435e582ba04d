"""One daemon per corpus: the flock on `<corpus>.lock`, held by real processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from crawler.errors import LockedError
from jobs.lock import CorpusLock, lock_holder, lock_path

# Takes the lock, optionally starts a long-lived child, reports, then waits to be killed.
HOLDER = """
import subprocess, sys, time
from jobs.lock import CorpusLock
lock = CorpusLock(sys.argv[1]); lock.acquire()
child = subprocess.Popen(["sleep", "30"]) if sys.argv[2] == "child" else None
print(child.pid if child else 0, flush=True)
time.sleep(60)
"""


def start_holder(corpus: Path, with_child: bool = False) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(corpus), "child" if with_child else "-"],
                            stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()  # the lock is held once this line is printed
    assert line, "the holder process died"
    return proc, int(line)


def stop(proc: subprocess.Popen) -> None:
    proc.kill()
    proc.wait()
    proc.stdout.close()


def test_lock_file_sits_next_to_the_corpus() -> None:
    assert lock_path(Path("/data/news/corpus.db")) == Path("/data/news/corpus.db.lock")


def test_a_held_lock_refuses_others_naming_pid_and_file(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.db"
    holder, _ = start_holder(corpus)
    try:
        with pytest.raises(LockedError) as refused:
            CorpusLock(corpus).acquire()
        assert refused.value.exit_code == 3
        assert f"pid {holder.pid}" in str(refused.value)
        assert str(lock_path(corpus)) in str(refused.value)
        assert lock_holder(corpus) == holder.pid
    finally:
        stop(holder)
    assert lock_holder(corpus) is None  # kill -9 leaves a file but no lock
    with CorpusLock(corpus):
        assert lock_holder(corpus) == os.getpid()
        with pytest.raises(LockedError):  # a second lock in the same process too
            CorpusLock(corpus).acquire()
    assert lock_path(corpus).exists()  # never unlinked: no two inodes under one name
    assert lock_holder(corpus) is None


def test_the_lock_dies_with_its_process_not_with_its_children(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.db"
    holder, child = start_holder(corpus, with_child=True)
    stop(holder)
    try:
        assert Path(f"/proc/{child}").exists()  # the child outlives the holder...
        lock = CorpusLock(corpus)
        lock.acquire()  # ...without keeping the lock alive: the fd is not inherited
        assert lock_path(corpus).read_text().strip() == str(os.getpid())
        lock.release()
    finally:
        os.kill(child, 9)


def test_no_lock_file_means_no_daemon(tmp_path: Path) -> None:
    assert lock_holder(tmp_path / "never.db") is None
    started = time.monotonic()
    with CorpusLock(tmp_path / "never.db"):
        pass
    assert time.monotonic() - started < 1


CRAWL_HOLDER = """
import sys, time
from crawler.locks import crawl_lock
lock = crawl_lock(sys.argv[1]); lock.acquire()
print(0, flush=True)
time.sleep(60)
"""


def test_a_crawl_is_refused_while_another_crawls_the_corpus_and_the_daemons_waits(tmp_path: Path) -> None:
    """`<corpus>.crawl.lock`: a crawl started while another crawls the corpus exits 3 naming
    the holder and fetches nothing; the daemon's crawl (`--run-id`) waits for it instead."""
    import threading

    from crawler.locks import crawl_lock

    corpus = tmp_path / "corpus.db"
    settings = tmp_path / "settings.toml"
    settings.write_text(f'[corpus]\npath = "{corpus}"\n[crawl]\ntimeout = 2\nretries = 0\n'
                        '[[sources]]\nname = "s"\nkind = "feed"\nurl = "http://127.0.0.1:9/feed.xml"\n'
                        '[[topics]]\nname = "all"\nkeep_all = true\n', encoding="utf-8")
    holder = subprocess.Popen([sys.executable, "-c", CRAWL_HOLDER, str(corpus)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline(), "the holder process died"
        refused = subprocess.run([sys.executable, "-m", "crawler", "crawl", "--settings", str(settings)],
                                 capture_output=True, text=True, timeout=60)
        assert refused.returncode == 3, refused.stderr
        assert (f"another crawl of this corpus is running (pid {holder.pid}): it holds "
                f"{corpus}.crawl.lock") in refused.stderr
        assert "crawling" not in refused.stderr
        # waiting: told once who holds it, and taken as soon as the holder is gone
        told, taken = [], threading.Event()
        lock = crawl_lock(corpus)
        waiter = threading.Thread(target=lambda: (lock.acquire(wait=True, waiting=told.append), taken.set()))
        waiter.start()
        time.sleep(1.0)
        assert not taken.is_set() and told == [holder.pid]
    finally:
        stop(holder)
    waiter.join(timeout=10)
    assert taken.is_set() and told == [holder.pid]
    lock.release()
