"""Source health (the `source_health` view), daemon state and `topicwatch status`, on a real
SQLite file with runs written through crawler.store."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path

import pytest
from sqlite_utils import Database

from crawler import cli
from crawler.config import Settings, load_settings
from crawler.store import corpus as corpus_store
from crawler.store import health, pages, runs, schedules, schema
from crawler.store.db import open_db

SETTINGS = """
[corpus]
path = "corpus.db"

[daemon]
failure_threshold = {threshold}

[[sources]]
name = "wire"
kind = "feed"
url = "http://127.0.0.1:9/wire.xml"
quiet_days = 2

[[sources]]
name = "weekly"
kind = "feed"
url = "http://127.0.0.1:9/weekly.xml"
quiet_days = 0

[[sources]]
name = "paused"
kind = "feed"
url = "http://127.0.0.1:9/paused.xml"
enabled = false

[[topics]]
name = "models"
terms = ["大模型"]

[[schedules]]
name = "wires"
interval_minutes = 30
sources = ["wire"]

[[schedules]]
name = "nightly"
cron = "0 3 * * *"
"""


def write_settings(tmp_path: Path, threshold: int = 3) -> Settings:
    path = tmp_path / "settings.toml"
    path.write_text(SETTINGS.format(threshold=threshold), encoding="utf-8")
    return load_settings(path)


@pytest.fixture
def settings(tmp_path: Path, db: Database) -> Settings:
    """The settings above; their thresholds copied into the conftest corpus (tmp_path/corpus.db,
    the settings' own corpus), as a crawl or the daemon does at start."""
    loaded = write_settings(tmp_path)
    health.refresh_source_settings(db, loaded)
    return loaded


def ago(days: float) -> str:
    return (dt.datetime.now(dt.UTC) - dt.timedelta(days=days)).isoformat(timespec="seconds")


_article_seq = iter(range(1, 10_000))


def run(db: Database, source: str, ok: bool, days_ago: float = 0.0, *, new: int = 0,
        reasons: tuple[str, ...] = (), error: str | None = None) -> int:
    """One finished run of `source`, `days_ago` days old, with `new` articles and skipped rows."""
    run_id = runs.start_run(db, "test", [source])
    runs.record_source_run(db, run_id, source, {"fetched": 1, "errors": int(not ok)}, ok=ok)
    runs.finish_run(db, run_id, "ok" if ok else "failed", error)
    for reason in reasons:
        pages.record_skipped(db, f"http://x/{reason}", source, reason, detail="detail", run_id=run_id)
    for _ in range(new):
        n = next(_article_seq)
        corpus_store.insert_article(db, {"url": f"http://x/{n}", "canonical_url": f"http://x/{n}",
                                  "source": source, "title": "t", "text": "大模型", "content_hash": str(n),
                                  "first_seen": ago(days_ago), "run_id": run_id})
    db.execute("UPDATE source_runs SET new = ?, at = ? WHERE run_id = ?", [new, ago(days_ago), run_id])
    return run_id


def row(db: Database, source: str) -> dict:
    return next(r for r in health.source_health(db) if r["source"] == source)


def test_consecutive_failures_flag_a_source_at_the_threshold(db: Database, settings: Settings) -> None:
    run(db, "wire", ok=True, new=1)
    run(db, "wire", ok=False)
    run(db, "wire", ok=False)
    r = row(db, "wire")
    assert (r["consecutive_failures"], r["flagged"], r["runs"]) == (2, 0, 3)
    run(db, "wire", ok=False)
    r = row(db, "wire")
    assert r["flagged"] == 1 and r["flag_reason"] == "failed 3 runs in a row"
    assert [f["source"] for f in health.source_health(db, flagged_only=True)] == ["wire"]
    run(db, "wire", ok=True, new=2)
    r = row(db, "wire")
    assert (r["consecutive_failures"], r["flagged"], r["new_last_run"]) == (0, 0, 2)
    assert r["last_success"] >= r["last_error"]


def test_the_error_reason_is_the_source_failure_not_an_article_skip(db: Database, settings: Settings) -> None:
    run(db, "wire", ok=False, reasons=("off-topic", "http-503", "not-article"))
    assert row(db, "wire")["last_error_reason"] == "http-503: detail"
    run(db, "wire", ok=False, error="crawl process exit 2: error: settings.toml: not valid TOML")
    assert row(db, "wire")["last_error_reason"].endswith("not valid TOML")  # no skipped rows


def test_quiet_sources_are_flagged_after_their_quiet_days(db: Database, settings: Settings) -> None:
    run(db, "wire", ok=True, days_ago=5, new=1)
    run(db, "wire", ok=True, days_ago=0.5)
    r = row(db, "wire")
    assert r["flagged"] == 1 and r["flag_reason"] == "nothing new for 5.0 days"
    assert r["last_new_article"] == ago(5)[:16] + r["last_new_article"][16:]
    run(db, "weekly", ok=True, days_ago=30)  # quiet_days = 0: never flagged as quiet
    run(db, "weekly", ok=True)
    assert row(db, "weekly")["flagged"] == 0
    run(db, "wire", ok=True, new=1)
    assert row(db, "wire")["flagged"] == 0


def test_a_source_that_never_brought_anything_is_quiet_since_its_first_run(db: Database, settings: Settings) -> None:
    run(db, "wire", ok=True, days_ago=3)
    run(db, "wire", ok=True)
    r = row(db, "wire")
    assert r["last_new_article"] is None
    assert r["flagged"] == 1 and r["flag_reason"].startswith("nothing new for 3.0")


def test_disabled_and_removed_sources_show_history_but_are_never_flagged(db: Database, settings: Settings) -> None:
    for _ in range(4):
        run(db, "paused", ok=False, days_ago=20)
        run(db, "gone", ok=False, days_ago=20)
    health.refresh_source_settings(db, settings)
    for name in ("paused", "gone"):
        r = row(db, name)
        assert (r["enabled"], r["consecutive_failures"], r["flagged"]) == (0, 4, 0)


def test_thresholds_follow_the_settings_and_default_without_them(tmp_path: Path) -> None:
    settings = write_settings(tmp_path, threshold=3)
    db = open_db(settings.corpus_path)  # never refreshed: the defaults of crawler/config.py
    run(db, "wire", ok=False, new=0)
    run(db, "wire", ok=False)
    assert row(db, "wire")["failure_threshold"] == schema.DEFAULT_FAILURE_THRESHOLD == 3
    assert row(db, "wire")["flagged"] == 0
    health.refresh_source_settings(db, write_settings(tmp_path, threshold=2))
    r = row(db, "wire")
    assert (r["failure_threshold"], r["quiet_days"], r["flagged"]) == (2, 2.0, 1)
    health.refresh_source_settings(db, write_settings(tmp_path, threshold=3))  # idempotent, reversible
    assert row(db, "wire")["flagged"] == 0


def test_source_health_is_a_view_datasette_can_serve(db: Database, settings: Settings) -> None:
    from datasette.app import Datasette

    for _ in range(3):
        run(db, "wire", ok=False)
    assert db.execute("SELECT type FROM sqlite_master WHERE name = 'source_health'").fetchone() == ("view",)

    async def fetch() -> list[dict]:
        ds = Datasette([str(settings.corpus_path)])
        await ds.invoke_startup()
        response = await ds.client.get("/corpus/source_health.json?_shape=array&flagged=1")
        assert response.status_code == 200
        return response.json()

    rows = asyncio.run(fetch())
    assert [(r["source"], r["flag_reason"]) for r in rows] == [("wire", "failed 3 runs in a row")]


def test_schedule_state_round_trip_and_settling_after_a_kill(db: Database, settings: Settings) -> None:
    run_id = run(db, "wire", ok=False)
    schedules.record_schedule_state(db, "wires", last_run=ago(0), last_run_id=run_id, last_status="running")
    schedules.record_schedule_state(db, "wires", next_run=ago(-1))
    schedules.record_schedule_state(db, "dropped", last_status="ok")
    with pytest.raises(ValueError):
        schedules.record_schedule_state(db, "wires", bogus=1)
    schedules.settle_schedule_states(db, ["wires", "nightly"])
    states = schedules.schedule_states(db)
    assert set(states) == {"wires"}
    assert states["wires"]["last_status"] == "failed"  # the run's own final status
    assert states["wires"]["next_run"] == ago(-1)[:13] + states["wires"]["next_run"][13:]


def test_status_json_and_tables(db: Database, settings: Settings, capsys: pytest.CaptureFixture) -> None:
    for _ in range(3):
        run(db, "wire", ok=False, reasons=("timeout",))
    schedules.record_schedule_state(db, "wires", last_run=ago(0.01), last_run_id=3, last_status="failed",
                                 next_run=ago(-0.02))
    assert cli.main(["status", "--settings", str(settings.path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["daemon"] == {"running": False, "pid": None}
    assert [s["name"] for s in report["schedules"]] == ["wires", "nightly"]
    assert report["schedules"][0]["last_status"] == "failed"
    assert report["schedules"][1]["last_run"] is None and report["schedules"][1]["when"] == "cron 0 3 * * *"
    assert [r["id"] for r in report["runs"]] == [3, 2, 1]  # newest first
    assert report["totals"]["spool"] == 0 and report["totals"]["articles"] == 0
    assert [f["source"] for f in report["flagged"]] == ["wire"]

    assert cli.main(["status", "--settings", str(settings.path)]) == 0
    text = capsys.readouterr().out
    for expected in ("daemon not running", "wires", "nightly", "flagged sources",
                     "failed 3 runs in a row", "0 waiting in the spool"):
        assert expected in text


def test_status_without_a_corpus_says_so(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    settings = write_settings(tmp_path)
    assert cli.main(["status", "--settings", str(settings.path)]) == 6
    assert f"{settings.corpus_path}: no corpus here yet" in capsys.readouterr().err
    assert not settings.corpus_path.exists()
