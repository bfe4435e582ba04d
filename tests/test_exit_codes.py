"""Every exit code of crawler/errors.py `ExitCode`, made to happen in a real process, with the
one-line message that goes with it and never a traceback.  The README's table is the same."""

from __future__ import annotations

import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from fixturesite import FixtureSite, shipped_topics
from test_e2e_crawl import ROOT

from crawler.errors import ExitCode
from crawler.store import corpus
from crawler.store.db import open_db, write_transaction
from jobs.lock import CorpusLock

README = (ROOT / "README.md").read_text(encoding="utf-8")
NOBODY = 65534


def run(*args: str, timeout: int = 120, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    proc = subprocess.run([*prefix, sys.executable, "-m", "crawler", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT)
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    return proc


def settings_file(folder: Path, corpus_path: Path, extra: str = "") -> Path:
    path = folder / "settings.toml"
    path.write_text(f'[corpus]\npath = "{corpus_path}"\n[crawl]\ntimeout = 3\nretries = 0\n{extra}'
                    '[[topics]]\nname = "all"\nkeep_all = true\n', encoding="utf-8")
    return path


def error_line(proc: subprocess.CompletedProcess) -> str:
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error: ")]
    assert len(lines) == 1, proc.stderr[-2000:]
    return lines[0]


def test_the_readme_table_lists_every_exit_code():
    table = {int(m) for m in re.findall(r"^\| (\d+) \|", README, re.M)}
    assert table == {int(code) for code in ExitCode}


def test_0_success_and_1_something_topicwatch_could_not_do(tmp_path):
    assert run("--version").returncode == ExitCode.OK
    open_db(tmp_path / "c.db").close()
    proc = run("export", "--settings", str(settings_file(tmp_path, tmp_path / "c.db")), "--since", "soon")
    assert proc.returncode == ExitCode.ERROR and "--since 'soon'" in error_line(proc)


def test_2_settings_with_a_close_match(tmp_path):
    path = settings_file(tmp_path, tmp_path / "c.db", "max_age_dayz = 3\n")
    proc = run("crawl", "--settings", str(path))
    assert proc.returncode == ExitCode.SETTINGS
    assert "[crawl] max_age_dayz: unknown key (did you mean max_age_days?)" in error_line(proc)
    path = settings_file(tmp_path, tmp_path / "c.db")
    proc = run("rematch", "--settings", str(path), "--topic", "al")
    assert proc.returncode == ExitCode.SETTINGS and "no such topic (did you mean all?" in error_line(proc)


def test_3_the_corpus_is_locked(tmp_path):
    path = settings_file(tmp_path, tmp_path / "c.db", '[[schedules]]\nname = "s"\ninterval_minutes = 30\n')
    with CorpusLock(tmp_path / "c.db"):
        proc = run("daemon", "--settings", str(path))
    assert proc.returncode == ExitCode.LOCKED and f"pid {os.getpid()}" in error_line(proc)


def test_4_nothing_fetched_and_offline(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_text(f'[corpus]\npath = "{tmp_path / "c.db"}"\n[crawl]\nretries = 0\n'
                    '[[sources]]\nname = "one"\nkind = "feed"\nurl = "https://one.invalid/feed"\n'
                    '[[sources]]\nname = "two"\nkind = "feed"\nurl = "https://two.invalid/rss"\n'
                    '[[topics]]\nname = "all"\nkeep_all = true\n', encoding="utf-8")
    # a network namespace of its own with no interface up: every name lookup fails at once and
    # no packet leaves the machine, as on a machine that is offline
    unshare = shutil.which("unshare")
    assert unshare, "the offline test needs util-linux's unshare"
    proc = subprocess.run([unshare, "-rn", sys.executable, "-m", "crawler", "crawl", "--settings", str(path)],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == ExitCode.NOTHING_FETCHED, proc.stderr[-2000:]
    assert error_line(proc) == ("error: every source failed to resolve its host name (DNS, 2 source(s)): "
                                "this machine looks offline")
    with sqlite3.connect(tmp_path / "c.db") as db:
        assert db.execute("SELECT status FROM runs").fetchone()[0] == "nothing-fetched"
        assert {r[0] for r in db.execute("SELECT reason FROM skipped")} == {"dns"}


@pytest.mark.slow
def test_5_some_sources_failed(site: FixtureSite, tmp_path):
    text = site.settings_toml(tmp_path / "corpus.db") + (
        '\n[[sources]]\nname = "gone"\nkind = "feed"\nurl = "http://127.0.0.1:9/feed.xml"\n'
        '\n[[sources]]\nname = "blocked"\nkind = "feed"\nurl = "' + site.base("c") + '/search/feed.xml"\n'
        '\n[[sources]]\nname = "bot-check"\nkind = "feed"\nurl = "' + site.base("b") + '/wall/feed.xml"\n'
        # two URLs in settings.toml, one gone: the source failed, though the other was read
        '\n[[sources]]\nname = "half"\nkind = "feed"\nurls = ["' + site.base("b") + '/fine/feed.xml", "'
        + site.base("b") + '/gone/feed.xml"]\n')
    site.add_page("b", "/fine/feed.xml", b'<?xml version="1.0"?><rss version="2.0"><channel><title>t'
                  b"</title></channel></rss>", content_type="application/rss+xml")
    # what a bot wall answers where the feed was: 200, an HTML page, no feed
    site.add_page("b", "/wall/feed.xml", b"<html><head><title>Just a moment</title></head><body>"
                  b"<script>check()</script>Checking your browser</body></html>")
    path = tmp_path / "settings.toml"
    path.write_text(text + "\n" + shipped_topics(), encoding="utf-8")
    proc = run("crawl", "--settings", str(path), timeout=240)
    assert proc.returncode == ExitCode.SOURCES_FAILED, proc.stderr[-2000:]
    assert "error: 4 of 9 source(s) failed:" in proc.stderr, proc.stderr[-3000:]
    gone = site.base("b") + "/gone/feed.xml"
    assert f"  half: http-404 ({gone}: Ignoring non-200 response)" in proc.stderr
    assert "  blocked: robots-disallowed" in proc.stderr and "  gone: connection-refused" in proc.stderr
    assert "  bot-check: bad-feed" in proc.stderr
    assert "corpus: 15 articles" in proc.stdout  # the others were crawled and stored


# ---------------------------------------------------------------- 6: files and folders

def not_sqlite(tmp_path: Path) -> Path:
    path = tmp_path / "c.db"
    path.write_text("these are notes, not a database\n" * 200, encoding="utf-8")
    return path


@pytest.mark.parametrize("command", [["crawl"], ["ingest"], ["rematch"], ["status"], ["export"],
                                     ["browse", "--port", "9"], ["daemon"]])
def test_6_a_corpus_that_is_not_sqlite(tmp_path, command):
    extra = '[[schedules]]\nname = "s"\ninterval_minutes = 30\n' if command == ["daemon"] else ""
    extra += '[[sources]]\nname = "x"\nkind = "feed"\nurl = "http://127.0.0.1:9/f"\n'
    path = settings_file(tmp_path, not_sqlite(tmp_path), extra)
    proc = run(*command, "--settings", str(path))
    assert proc.returncode == ExitCode.PATH, proc.stderr
    assert error_line(proc).startswith(f"error: {tmp_path / 'c.db'}: not a SQLite database")
    assert (tmp_path / "c.db").read_text(encoding="utf-8").startswith("these are notes")


def test_6_a_folder_that_cannot_be_created(tmp_path):
    (tmp_path / "file").write_text("x", encoding="utf-8")
    path = settings_file(tmp_path, tmp_path / "file" / "sub" / "c.db",
                         '[[sources]]\nname = "x"\nkind = "feed"\nurl = "http://127.0.0.1:9/f"\n')
    proc = run("crawl", "--settings", str(path))
    assert proc.returncode == ExitCode.PATH
    assert "cannot create its folder" in error_line(proc) and str(tmp_path / "file") in error_line(proc)


def test_6_export_into_a_missing_folder_and_explain_of_a_missing_file(tmp_path):
    open_db(tmp_path / "c.db").close()
    path = settings_file(tmp_path, tmp_path / "c.db")
    proc = run("export", "--settings", str(path), "--output", str(tmp_path / "nope" / "out.jsonl"))
    assert proc.returncode == ExitCode.PATH
    assert error_line(proc) == f"error: {tmp_path / 'nope' / 'out.jsonl'}: no such folder: {tmp_path / 'nope'}"
    proc = run("topics", "--settings", str(path), "--explain", str(tmp_path / "saved.html"))
    assert proc.returncode == ExitCode.PATH and f"{tmp_path / 'saved.html'}: no such file" in error_line(proc)


@pytest.fixture
def shared_folder():
    """A folder straight under the system temp dir that another user can read: not under
    pytest's basetemp, whose owner-only mode pytest restores while other test runs start."""
    folder = Path(tempfile.mkdtemp(prefix="topicwatch-ro-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def as_nobody(folder: Path) -> tuple[str, ...]:
    """A command prefix under which `folder` can be read but not written, when the tests run as
    root (root writes read-only files anyway): run as user nobody, or, when nobody cannot read
    the checkout (a private folder above it, like mktemp -d's 0700), as root in a mount
    namespace of its own where `folder` is a read-only bind mount."""
    folder.chmod(0o755)
    if os.geteuid() != 0:
        return ()
    setpriv = shutil.which("setpriv")
    assert setpriv, "as root, the read-only test needs util-linux's setpriv to drop to nobody"
    prefix = (setpriv, "--reuid", str(NOBODY), "--regid", str(NOBODY), "--clear-groups")
    if _imports_crawler(prefix):
        return prefix
    unshare = shutil.which("unshare")
    assert unshare, f"user nobody cannot read {ROOT} and util-linux's unshare is missing"
    script = ('mount --bind "$0" "$0" && mount -o remount,ro,bind "$0" "$0" && exec "$@"')
    prefix = (unshare, "--mount", "sh", "-c", script, str(folder))
    assert _imports_crawler(prefix), (
        f"user nobody cannot read {ROOT} (a private folder above it?) and a read-only bind "
        "mount (unshare --mount) is not allowed here: clone the project where other users can "
        "read it")
    return prefix


def _imports_crawler(prefix: tuple[str, ...]) -> bool:
    probe = subprocess.run([*prefix, sys.executable, "-c", "import crawler"], capture_output=True,
                           text=True, cwd="/")
    return probe.returncode == 0


def test_6_a_read_only_corpus_is_read_but_not_written(shared_folder):
    folder = shared_folder
    db = open_db(folder / "c.db")
    with write_transaction(db):
        corpus.insert_article(db, {"url": "http://x/1", "canonical_url": "http://x/1", "source": "s",
                                   "title": "t", "text": "大模型", "topics": '["all"]', "content_hash": "h",
                                   "first_seen": "2026-01-01T00:00:00+00:00"})
    db.close()
    (folder / "c.db").chmod(0o444)
    path = settings_file(folder, folder / "c.db", '[[sources]]\nname = "x"\nkind = "feed"\nurl = "http://127.0.0.1:9/f"\n')
    path.chmod(0o444)
    who = as_nobody(folder)
    exported = run("export", "--settings", str(path), prefix=who)
    assert exported.returncode == 0 and '"url": "http://x/1"' in exported.stdout, exported.stderr
    status = run("status", "--settings", str(path), prefix=who)
    assert status.returncode == 0 and "corpus: 1 articles" in status.stdout, status.stderr
    crawl = run("crawl", "--settings", str(path), prefix=who)
    assert crawl.returncode == ExitCode.PATH
    assert error_line(crawl).startswith(f"error: {folder / 'c.db'}: read-only")
    assert sorted(p.name for p in folder.iterdir()) == ["c.db", "settings.toml"], "nothing written"
    # a new corpus in a folder this user cannot write
    other = folder / "new.toml"
    other.write_text(path.read_text(encoding="utf-8").replace(str(folder / "c.db"), str(folder / "new.db")),
                     encoding="utf-8")
    crawl = run("crawl", "--settings", str(other), prefix=who)
    assert crawl.returncode == ExitCode.PATH
    assert error_line(crawl) == (f"error: {folder / 'new.db'}: cannot open it: {folder} is not writable "
                                 "(SQLite also writes new.db-wal and -shm beside it)")


# ---------------------------------------------------------------- signals and pipes

def spooled_or_stored(db_path: Path) -> int:
    try:
        with sqlite3.connect(db_path, timeout=30) as db:
            return db.execute("SELECT (SELECT count(*) FROM spool) + (SELECT count(*) FROM articles)").fetchone()[0]
    except sqlite3.Error:
        return 0


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_130_and_143_a_crawl_stopped_by_a_signal(tmp_path, sig):
    with FixtureSite(slow_seconds=5.0) as site:  # the slow page is in flight at the signal
        path = tmp_path / "settings.toml"
        settings, changed = re.subn(r"(?m)^timeout = .*$", "timeout = 20", site.settings_toml(tmp_path / "corpus.db"))
        assert changed == 1
        path.write_text(settings + "\n" + shipped_topics(), encoding="utf-8")
        proc = subprocess.Popen([sys.executable, "-m", "crawler", "crawl", "--settings", str(path)],
                                cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while spooled_or_stored(tmp_path / "corpus.db") < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, "the crawl ended before the signal"
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == ExitCode.for_signal(sig), err[-2000:]
    name = signal.Signals(sig).name
    assert f"interrupted ({name})" in out and f"interrupted by {name}" in err and "Traceback" not in err
    # said at once, before the crawl winds down
    assert (f"{name}: stopping; the pages in flight finish and what was found is kept "
            "(press Ctrl-C again to stop at once)") in err
    with sqlite3.connect(tmp_path / "corpus.db") as db:
        status, new = db.execute("SELECT status, new FROM runs").fetchone()
        assert status == "interrupted" and new >= 1
        assert db.execute("SELECT count(*) FROM spool").fetchone()[0] == 0, "what was found is ingested"


class SlowArticles:
    """A feed of `count` articles on 127.0.0.9, each answered after `seconds`; when each
    request came, in `self.log`."""

    WORDS = ("Analysts compared the cost of training runs across several labs this year and "
             "found that cheaper chips and better schedules cut the price of each experiment. ")

    def __init__(self, count: int, seconds: float):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        site = self
        self.seconds = seconds
        self.log: list[tuple[float, str]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                site.log.append((time.monotonic(), self.path))
                if self.path == "/feed.xml":
                    items = "".join(f"<item><title>Cost report {n}</title><link>{site.base}/a/{n}"
                                    "</link></item>" for n in range(count))
                    body = f'<rss version="2.0"><channel><title>t</title>{items}</channel></rss>'
                    ctype = "application/rss+xml"
                elif self.path.startswith("/a/"):
                    time.sleep(seconds)
                    n = self.path.rsplit("/", 1)[1]
                    body = (f"<html><head><title>Cost report {n}</title></head><body><article>"
                            f"<h1>Cost report {n}</h1><p>{site.WORDS * 8} Report {n}.</p></article>"
                            "</body></html>")
                    ctype = "text/html; charset=utf-8"
                else:
                    self.send_error(404)
                    return
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: object, client_address: object) -> None:
                pass  # a crawl stopped at once hangs up on the pages in flight

        self.server = Server(("127.0.0.9", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.9:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def articles_requested(self, after: float = 0.0) -> list[str]:
        return [path for t, path in self.log if path.startswith("/a/") and t >= after]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_stopped_crawl_sends_no_new_request_and_the_next_one_fetches_the_rest(tmp_path, sig):
    """What the downloader already queued for a slow host is not sent after the signal (it
    was: one request after another, minutes against a slow host); the in-flight ones finish
    and are stored, and the next crawl fetches the others, each article once in all."""
    site = SlowArticles(count=8, seconds=1.0)
    try:
        path = tmp_path / "settings.toml"
        path.write_text(f'[corpus]\npath = "{tmp_path / "c.db"}"\n[crawl]\ndelay = 0\ntimeout = 20\n'
                        f'concurrency_per_host = 2\n[[sources]]\nname = "slow"\nkind = "feed"\n'
                        f'url = "{site.base}/feed.xml"\n[[topics]]\nname = "all"\nkeep_all = true\n',
                        encoding="utf-8")
        proc = subprocess.Popen([sys.executable, "-m", "crawler", "crawl", "--settings", str(path)],
                                cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while not site.articles_requested() and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)  # the downloader holds the rest of the feed's articles by now
        in_flight = len(site.articles_requested())
        signalled = time.monotonic()
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
        stopped_after = time.monotonic() - signalled
        assert proc.returncode == ExitCode.for_signal(sig), err[-2000:]
        assert in_flight == 2 and site.articles_requested(after=signalled) == [], site.log
        assert stopped_after < site.seconds + 5, "it waits for the two in flight, not for the queue"
        with sqlite3.connect(tmp_path / "c.db") as db:
            assert db.execute("SELECT count(*) FROM articles").fetchone()[0] == 2
            assert db.execute("SELECT count(*) FROM skipped").fetchone()[0] == 0  # nothing failed
        again = run("crawl", "--settings", str(path))
        assert again.returncode == 0, again.stderr[-2000:]
        requested = site.articles_requested()
        assert sorted(requested) == sorted(f"/a/{n}" for n in range(8)), "each article once"
        with sqlite3.connect(tmp_path / "c.db") as db:
            assert db.execute("SELECT count(*) FROM articles").fetchone()[0] == 8
    finally:
        site.server.shutdown()


def test_a_second_signal_stops_at_once_and_the_run_keeps_what_it_counted(tmp_path):
    """The second Ctrl-C does not wait for the pages in flight; the run is recorded
    interrupted with the counters so far (the spider never closed to write them), and what
    was spooled is ingested by the next `topicwatch ingest`."""
    site = SlowArticles(count=4, seconds=3.0)
    try:
        path = tmp_path / "settings.toml"
        path.write_text(f'[corpus]\npath = "{tmp_path / "c.db"}"\n[crawl]\ndelay = 0\ntimeout = 20\n'
                        f'[[sources]]\nname = "slow"\nkind = "feed"\nurl = "{site.base}/feed.xml"\n'
                        '[[topics]]\nname = "all"\nkeep_all = true\n', encoding="utf-8")
        proc = subprocess.Popen([sys.executable, "-m", "crawler", "crawl", "--settings", str(path)],
                                cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while not site.articles_requested() and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        time.sleep(0.3)
        signalled = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        assert time.monotonic() - signalled < 2.5, "it did not wait for the pages in flight (3 s)"
        assert proc.returncode == ExitCode.INTERRUPTED, err[-2000:]
        assert "fetched 1, extracted 0" in out, out  # the feed; the articles never came
        with sqlite3.connect(tmp_path / "c.db") as db:
            status, fetched, error = db.execute("SELECT status, fetched, error FROM runs").fetchone()
            assert (status, fetched) == ("interrupted", 1) and "second SIGINT" in error
            assert db.execute("SELECT fetched, ok FROM source_runs").fetchall() == [(1, 1)]
    finally:
        site.server.shutdown()


def test_141_the_reader_of_the_output_went_away(tmp_path):
    db = open_db(tmp_path / "c.db")
    with write_transaction(db):
        for i in range(400):
            corpus.insert_article(db, {"url": f"http://x/{i}", "canonical_url": f"http://x/{i}",
                                       "source": "s", "title": "t", "text": "大模型。" * 300,
                                       "content_hash": str(i), "first_seen": "2026-01-01T00:00:00+00:00"})
    db.close()
    path = settings_file(tmp_path, tmp_path / "c.db")
    proc = subprocess.run(f'"{sys.executable}" -m crawler export --settings "{path}" | head -c 10; '
                          'echo "${PIPESTATUS[0]}" >&2', shell=True, executable="/bin/bash",
                          capture_output=True, timeout=120, cwd=ROOT)
    assert proc.stdout.startswith(b'{"id": 1')
    assert proc.stderr.decode().split() == [str(int(ExitCode.PIPE_CLOSED))], proc.stderr[-2000:]
