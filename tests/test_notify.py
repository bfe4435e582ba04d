"""Notifications against real receivers: an HTTP server taking Apprise's json:// posts and an
aiosmtpd server taking its mailto:// mail, both on 127.0.0.1; a real corpus file written with
the store's own functions (tests/corpus_factory.py), and notification passes run in-process
as a crawl runs them after ingest."""

from __future__ import annotations

import datetime as dt
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from corpus_factory import ARTICLES, build_corpus
from receivers import HookReceiver, MailReceiver, free_port
from sqlite_utils import Database

from crawler.cli import cli
from crawler.config import Settings, load_settings
from crawler.errors import ConfigError
from crawler.notify import deliver as notify
from crawler.notify.queue import check, next_digest, register
from crawler.records import RunStatus
from crawler.store import corpus as store_corpus
from crawler.store import runs
from crawler.store.db import open_db
from jobs.state import status_report

TOPICS = """
[[topics]]
name = "llm-industry"
terms = ["大模型"]

[[topics]]
name = "open-source"
terms = ["开源"]

[[topics]]
name = "compute"
terms = ["算力"]
"""
NOTIFY_TABLES = ("notify_targets", "notify_stories", "notify_messages", "notify_deliveries")


def write_settings(tmp_path: Path, notify_toml: str, extra: str = "") -> Settings:
    path = tmp_path / "settings.toml"
    path.write_text(f'[corpus]\npath = "corpus.db"\n{extra}\n{TOPICS}\n{notify_toml}', encoding="utf-8")
    return load_settings(path)


def target(name: str, *urls: str, **keys: object) -> str:
    lines = [f'[[notify]]\nname = "{name}"', "urls = " + json.dumps(list(urls))]
    lines += [f"{k} = {json.dumps(v)}" for k, v in keys.items()]
    return "\n".join(lines) + "\n"


def registered_corpus(settings: Settings) -> tuple[Database, dict[str, int]]:
    """Targets registered on an empty corpus, then the factory's five articles (four
    stories) stored: all four stories are new to every target."""
    db = open_db(settings.corpus_path)
    register(db, settings)
    built = build_corpus(settings.corpus_path)
    return db, built.ids


def add_story(db: Database, title: str, source: str, topics: dict[str, list[str]]) -> int:
    """A new article starting a new story, as ingest stores one; returns the article id."""
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    url = f"https://{source}.example/{abs(hash(title))}"
    row = {"url": url, "canonical_url": url, "source": source, "title": title, "text": title * 5,
           "language": "zh", "topics": json.dumps(list(topics), ensure_ascii=False),
           "matched_terms": json.dumps(topics, ensure_ascii=False), "scores": "{}",
           "content_hash": str(abs(hash(title))), "first_seen": now}
    with db.atomic():
        article_id = store_corpus.insert_article(db, row)
        store_corpus.set_story(db, article_id, store_corpus.new_story(db, article_id, title, now))
    return article_id


def table_counts(db: Database) -> dict[str, int]:
    return {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in NOTIFY_TABLES}


@pytest.fixture
def hook() -> Iterator[HookReceiver]:
    with HookReceiver() as receiver:
        yield receiver


@pytest.fixture
def mail(monkeypatch: pytest.MonkeyPatch) -> Iterator[MailReceiver]:
    # smtplib names the client in EHLO with socket.getfqdn(), a DNS query on a machine whose
    # name is not in /etc/hosts: the tests keep every packet on loopback
    monkeypatch.setattr(socket, "getfqdn", lambda name="": "localhost")
    with MailReceiver() as receiver:
        yield receiver


# ---------------------------------------------------------------- settings

def test_notify_settings_are_read_and_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_TOKEN", "s3cr3t-value")
    s = write_settings(tmp_path, target("team", "json://127.0.0.1:9/h?-token=${HOOK_TOKEN}",
                                        topics=["compute"], mode="digest", cron="0 8 * * 1-5",
                                        format="markdown", max_items=5, failures=True),
                       extra='[browse]\nbase_url = "http://news.example:8001"\n')
    (t,) = s.notify
    assert (t.name, t.topics, t.mode, t.cron, t.format, t.max_items, t.failures) == (
        "team", ("compute",), "digest", "0 8 * * 1-5", "markdown", 5, True)
    assert t.urls == ("json://127.0.0.1:9/h?-token=${HOOK_TOKEN}",)  # expanded only when sending
    assert s.browse.base_url == "http://news.example:8001"


@pytest.mark.parametrize("toml, key, problem", [
    (target("t", "127.0.0.1:9/hook"), "[[notify]] #1 (t) urls", "URL #1 is not an Apprise URL"),
    (target("t"), "[[notify]] #1 (t) urls", "at least one Apprise URL"),
    (target("t", "json://x", mode="digest"), "[[notify]] #1 (t) cron", "exactly one of cron or interval_minutes"),
    (target("t", "json://x", mode="digest", cron="0 8 * * *", interval_minutes=60), "[[notify]] #1 (t) cron",
     "exactly one of cron or interval_minutes"),
    (target("t", "json://x", cron="0 8 * * *"), "[[notify]] #1 (t) cron", "digest\" only"),
    (target("t", "json://x", interval_minutes=60), "[[notify]] #1 (t) interval_minutes", "digest\" only"),
    (target("t", "json://x", mode="digest", interval_minutes=-1), "[[notify]] #1 (t) interval_minutes", "must be at least 0"),
    (target("t", "json://x", mode="digest", cron="0 8 * *"), "[[notify]] #1 (t) cron", "invalid cron"),
    (target("t", "json://x", mode="weekly"), "[[notify]] #1 (t) mode", "must be one of each, digest"),
    (target("t", "json://x", format="rtf"), "[[notify]] #1 (t) format", "must be one of"),
    (target("t", "json://x", topics=["nope"]), "[[notify]] (t) topics", "no such topic 'nope'"),
    (target("t", "json://x") + target("t", "json://y"), "[[notify]] name", "duplicate name"),
])
def test_bad_notify_settings_name_the_key(tmp_path: Path, toml: str, key: str, problem: str) -> None:
    with pytest.raises(ConfigError) as e:
        write_settings(tmp_path, toml)
    assert e.value.key == key and problem in e.value.problem


def test_a_bad_url_never_appears_in_the_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_TOKEN", "s3cr3t-value")
    s = write_settings(tmp_path, target("t", "nosuchservice://${HOOK_TOKEN}@host/path"))
    with pytest.raises(ConfigError) as e:
        check(s)
    assert "URL #1" in str(e.value) and "nosuchservice://" in str(e.value)
    assert "s3cr3t-value" not in str(e.value) and "@host" not in str(e.value)


# ---------------------------------------------------------------- what arrives

def test_each_story_arrives_once_by_json_and_mail_with_its_facts_and_links(
        tmp_path: Path, hook: HookReceiver, mail: MailReceiver) -> None:
    s = write_settings(tmp_path, target("team", hook.url(), mail.url()))
    db, ids = registered_corpus(s)
    (report,) = notify.deliver(db, s)
    assert (report.sent, report.failed) == (8, 0)  # 4 stories x 2 URLs
    by_title = {b["title"]: b for b in hook.bodies}
    assert set(by_title) == {a["title"] for k, a in ARTICLES.items() if k != "qwen_echo"}

    qwen = by_title[ARTICLES["qwen"]["title"]]["message"]
    assert "36kr" in qwen and "also in 2 other sources (sina-tech, 163-tech)" in qwen
    assert "llm-industry (通义千问, 大模型)" in qwen and "open-source (开源)" in qwen
    assert f"http://127.0.0.1:8001/corpus/articles/{ids['qwen']}" in qwen
    assert ARTICLES["qwen"]["url"] in qwen
    english = by_title[ARTICLES["english"]["title"]]["message"]
    assert "scmp" in english and "no other source yet" in english and "compute (GPU)" in english

    ids_sent = hook.ids
    assert len(set(ids_sent)) == 4 and all(i.startswith("tw.") for i in ids_sent)
    assert [p["headers"]["X-Topicwatch-Id"] for p in hook.posts] == ids_sent
    mails = {m["Subject"]: m for m in mail.messages}
    assert set(mails) == set(by_title)
    qwen_mail = mails[ARTICLES["qwen"]["title"]]
    assert "also in 2 other sources" in mail.text(qwen_mail) and "通义千问" in mail.text(qwen_mail)
    assert {m["X-Topicwatch-Id"] for m in mail.messages} == set(ids_sent)

    assert notify.deliver(db, s)[0].sent == 0  # once only: a second pass sends nothing
    added = add_story(db, "月之暗面发布新的长文本大模型", "qbitai", {"llm-industry": ["大模型"]})
    assert notify.deliver(db, s)[0].sent == 2
    assert hook.bodies[-1]["title"] == "月之暗面发布新的长文本大模型"
    assert f"/corpus/articles/{added}" in hook.bodies[-1]["message"]
    assert len(hook.posts) == 5 and len(mail.messages) == 5


def test_markdown_and_html_mail(tmp_path: Path, mail: MailReceiver) -> None:
    s = write_settings(tmp_path, target("md", mail.url(), format="markdown", topics=["compute"])
                       + target("html", mail.url(), format="html", topics=["compute"]),
                       extra='[browse]\nbase_url = "http://news.example:8001/"\n')
    db, ids = registered_corpus(s)
    notify.deliver(db, s)
    assert len(mail.messages) == 6  # 3 compute stories x 2 targets
    for m in mail.messages:
        html_part = m.get_body(preferencelist=("html",)).get_content()
        if m["Subject"] == ARTICLES["compute"]["title"]:
            assert f'href="http://news.example:8001/corpus/articles/{ids["compute"]}"' in html_part
            assert f'href="{ARTICLES["compute"]["url"]}"' in html_part
            assert "jiqizhixin" in html_part and "算力" in html_part


def test_topics_and_max_items(tmp_path: Path, hook: HookReceiver) -> None:
    s = write_settings(tmp_path, target("compute-only", hook.url(), topics=["compute"], max_items=2))
    db, _ = registered_corpus(s)
    notify.deliver(db, s)
    titles = [b["title"] for b in hook.bodies]
    # hant, compute and english match compute; the two best covered get a message each
    # (all have no other source: the oldest stories first), the third is listed in one more
    assert titles == [ARTICLES["hant"]["title"], ARTICLES["compute"]["title"], "topicwatch: 1 more new story"]
    assert ARTICLES["english"]["title"] in hook.bodies[2]["message"]
    assert ARTICLES["qwen"]["title"] not in json.dumps(hook.bodies, ensure_ascii=False)
    assert notify.deliver(db, s)[0].sent == 0


def test_digest_lists_the_new_stories_per_topic_on_its_cron_once(tmp_path: Path, hook: HookReceiver) -> None:
    # the cron time is set from the clock (an hour and a half from now, in the local time zone
    # as cron reads it), so the steps below fall in the same places whatever the time of day
    start = dt.datetime.now().astimezone().replace(second=0, microsecond=0)
    fire = start + dt.timedelta(minutes=90)
    s = write_settings(tmp_path, target("daily", hook.url(), mode="digest",
                                        cron=f"{fire.minute} {fire.hour} * * *", max_items=3))
    db, _ = registered_corpus(s)
    notify.deliver(db, s, now=start + dt.timedelta(minutes=89))
    assert hook.posts == []  # no cron time since the target was registered
    after = fire + dt.timedelta(minutes=1)
    notify.deliver(db, s, now=after)
    (digest,) = hook.bodies
    assert digest["title"] == "topicwatch digest: 4 new stories"
    body = digest["message"]
    sections = [line for line in body.splitlines() if line.endswith(" new)")]
    # each story under the first of its topics in the settings' order
    assert sections == ["llm-industry (2 new)", "open-source (1 new)", "compute (1 new)"]
    assert body.index(ARTICLES["qwen"]["title"]) < body.index("open-source (1 new)")
    assert ARTICLES["english"]["title"] not in body  # max_items: the least covered is not listed
    assert "… and 1 more" in body and "All 4 new stories: http://127.0.0.1:8001/" in body
    # a new connection (a restarted process) two hours later: nothing is repeated
    later = after + dt.timedelta(hours=2)
    assert notify.deliver(open_db(s.corpus_path), s, now=later)[0].sent == 0
    add_story(db, "智谱开源新一代大模型", "qbitai", {"open-source": ["开源"], "llm-industry": ["大模型"]})
    notify.deliver(db, s, now=later)
    assert len(hook.posts) == 1  # waits for the cron time the next day
    notify.deliver(db, s, now=fire + dt.timedelta(days=1) - dt.timedelta(minutes=1))
    assert len(hook.posts) == 1
    notify.deliver(db, s, now=fire + dt.timedelta(days=1))
    assert hook.bodies[1]["title"] == "topicwatch digest: 1 new story"
    assert "llm-industry (1 new)" in hook.bodies[1]["message"]
    notify.deliver(db, s, now=fire + dt.timedelta(days=5))  # nothing new: no empty digest
    assert len(hook.posts) == 2


def test_an_interval_digest_goes_on_the_multiples_of_its_interval_once(tmp_path: Path,
                                                                       hook: HookReceiver) -> None:
    s = write_settings(tmp_path, target("hourly", hook.url(), mode="digest", interval_minutes=240))
    (t,) = s.notify
    assert next_digest(t, dt.datetime(2026, 12, 1, 3, 59, 59, tzinfo=dt.UTC)) == \
        dt.datetime(2026, 12, 1, 4, 0, tzinfo=dt.UTC)
    assert next_digest(t, dt.datetime(2026, 12, 1, 4, 0, tzinfo=dt.UTC)) == \
        dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)  # strictly after: never twice at 04:00
    db, _ = registered_corpus(s)
    start = dt.datetime(2026, 12, 1, 4, 30, tzinfo=dt.UTC)
    db.execute("UPDATE notify_targets SET last_digest = ?", [start.isoformat(timespec="seconds")])
    db.conn.commit()
    notify.deliver(db, s, now=start + dt.timedelta(hours=3, minutes=29))
    assert hook.posts == []  # 07:59: no multiple of four hours since 04:30
    notify.deliver(db, s, now=start + dt.timedelta(hours=3, minutes=30))
    (digest,) = hook.bodies
    assert digest["title"] == "topicwatch digest: 4 new stories"
    notify.deliver(db, s, now=start + dt.timedelta(hours=3, minutes=31))  # 08:01: not again
    assert len(hook.posts) == 1
    (told,) = status_report(db, s)["notify"]
    assert (told["when"], told["next_digest"]) == ("digest, every 240 min", "2026-12-01T12:00:00+00:00")


# ---------------------------------------------------------------- failures and retries

def test_a_receiver_down_gets_the_missed_messages_on_the_next_run(tmp_path: Path) -> None:
    hook = HookReceiver()  # its port is handed out, nothing listens yet
    s = write_settings(tmp_path, target("team", hook.url()))
    db, _ = registered_corpus(s)
    (report,) = notify.deliver(db, s)
    assert (report.sent, report.failed, report.waiting) == (0, 1, 3)  # one try per URL per pass
    assert "Connection error" in report.errors[0]
    status = status_report(db, s)["notify"][0]
    assert (status["pending"], status["failing"], status["sent"]) == (4, 1, 0)
    assert status["last_failure"]["url"] == "#1 json" and "Connection error" in status["last_failure"]["error"]
    with hook:
        (report,) = notify.deliver(db, s)
        assert (report.sent, report.failed) == (4, 0)
        assert len(hook.posts) == len(set(hook.ids)) == 4
        assert notify.deliver(db, s)[0].sent == 0
    status = status_report(db, s)["notify"][0]
    assert (status["pending"], status["failing"], status["sent"], status["last_failure"]) == (4 - 4, 0, 4, None)


def test_one_url_down_does_not_repeat_the_others(tmp_path: Path, hook: HookReceiver,
                                                  mail: MailReceiver) -> None:
    late_mail = MailReceiver()
    s = write_settings(tmp_path, target("team", hook.url(), late_mail.url()))
    db, _ = registered_corpus(s)
    notify.deliver(db, s)
    assert len(hook.posts) == 4
    with late_mail:
        notify.deliver(db, s)
        assert len(late_mail.messages) == 4
    assert len(hook.posts) == 4
    assert {m["X-Topicwatch-Id"] for m in late_mail.messages} == set(hook.ids)


def test_a_receiver_answering_500_is_retried(tmp_path: Path) -> None:
    with HookReceiver(status=500) as hook:
        s = write_settings(tmp_path, target("team", hook.url()))
        db, _ = registered_corpus(s)
        assert notify.deliver(db, s)[0].failed == 1
        hook.status = 200
        assert notify.deliver(db, s)[0].sent == 4
        first_id = hook.ids[0]
        assert hook.ids.count(first_id) == 2  # the one that failed, again, with the same id
        assert len(set(hook.ids)) == 4


def test_failures_true_alerts_a_failed_run_and_a_flagged_source_once(tmp_path: Path, hook: HookReceiver) -> None:
    quiet = HookReceiver().start()
    s = write_settings(tmp_path, target("ops", hook.url(), topics=["compute"], failures=True)
                       + target("readers", quiet.url(), topics=["compute"]))
    db, _ = registered_corpus(s)  # its runs leave the source `broken` failing 3 runs in a row
    run_id = runs.start_run(db, "schedule:hourly", ["36kr"])
    runs.finish_run(db, run_id, RunStatus.FAILED, "crawl process exited 1: ValueError: boom")
    notify.deliver(db, s)
    alerts = {b["title"]: b for b in hook.bodies if b["type"] != "info"}
    assert set(alerts) == {f"topicwatch: run {run_id} failed", "topicwatch: source broken flagged"}
    assert "ValueError: boom" in alerts[f"topicwatch: run {run_id} failed"]["message"]
    assert f"/corpus/runs/{run_id}" in alerts[f"topicwatch: run {run_id} failed"]["message"]
    assert "failed 3 runs in a row" in alerts["topicwatch: source broken flagged"]["message"]
    assert all(b["type"] == "info" for b in quiet.bodies) and len(quiet.bodies) == 3
    notify.deliver(db, s)
    assert len([b for b in hook.bodies if b["type"] != "info"]) == 2  # once each
    quiet.stop()


# ---------------------------------------------------------------- secrets, commands

def test_a_secret_from_the_environment_reaches_the_receiver_and_nothing_else(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_TOKEN", "s3cr3t-value")
    hook = HookReceiver()
    s = write_settings(tmp_path, target("team", hook.url(query="-token=${HOOK_TOKEN}")))
    db, _ = registered_corpus(s)
    runner = CliRunner()
    down = runner.invoke(cli, ["notify", "--settings", str(s.path)])
    assert down.exit_code == 1 and "#1 json" in down.output
    status = runner.invoke(cli, ["status", "--settings", str(s.path)])
    with hook:
        assert runner.invoke(cli, ["notify", "--settings", str(s.path)]).exit_code == 0
    assert {p["path"] for p in hook.posts} == {"/hook?token=s3cr3t-value"}
    dump = "\n".join(open_db(s.corpus_path).iterdump())
    for text in (down.output, status.output, dump):
        assert "s3cr3t-value" not in text and f"127.0.0.1:{hook.port}" not in text


def test_a_secret_missing_from_the_environment_stops_only_what_sends(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading the settings does not need the secret (export, status, browse work where it is
    not set); `notify` refuses, naming the key; a delivery without it is recorded as failed,
    with the reason, and sent by a pass that has it."""
    monkeypatch.delenv("HOOK_TOKEN", raising=False)
    hook = HookReceiver()
    s = write_settings(tmp_path, target("team", hook.url(query="-token=${HOOK_TOKEN}")))
    db, _ = registered_corpus(s)
    runner = CliRunner()
    for command in (["status"], ["export", "--format", "jsonl"], ["topics"]):
        done = runner.invoke(cli, [*command, "--settings", str(s.path)])
        assert done.exit_code == 0, (command, done.output)
    refused = runner.invoke(cli, ["notify", "--settings", str(s.path)])
    assert refused.exit_code == 2
    assert ("[[notify]] (team) urls: URL #1 uses ${HOOK_TOKEN}, which is not set in the environment"
            in refused.output)
    with pytest.raises(ConfigError):
        check(s)
    check(s, unset_ok=True)  # what a crawl does, after its warning
    with hook:
        (report,) = notify.deliver(db, s)
    assert report.failed and hook.posts == []
    assert db.execute("SELECT DISTINCT error FROM notify_deliveries WHERE error IS NOT NULL").fetchall() == [
        ("${HOOK_TOKEN} is not set in the environment",)]
    monkeypatch.setenv("HOOK_TOKEN", "s3cr3t-value")
    with hook:
        assert runner.invoke(cli, ["notify", "--settings", str(s.path)]).exit_code == 0
    assert {p["path"] for p in hook.posts} == {"/hook?token=s3cr3t-value"}


def test_dry_run_prints_what_would_be_sent_and_records_nothing(tmp_path: Path, hook: HookReceiver) -> None:
    s = write_settings(tmp_path, target("team", hook.url(), topics=["compute"])
                       + target("morning", hook.url(), mode="digest", cron="0 8 * * *"))
    db, _ = registered_corpus(s)
    before = table_counts(db)
    result = CliRunner().invoke(cli, ["notify", "--settings", str(s.path), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "== team (each): 3 message(s) to send ==" in result.output
    assert "== morning (digest): 0 message(s) to send; 4 stories wait for the next digest ==" in result.output
    assert f"Title: {ARTICLES['compute']['title']}" in result.output and "to #1 json" in result.output
    assert table_counts(db) == before and hook.posts == []
    assert notify.deliver(db, s)[0].sent == 3  # the dry run took nothing away


def test_test_message_reaches_every_url_and_says_which_failed(tmp_path: Path, hook: HookReceiver,
                                                                mail: MailReceiver) -> None:
    dead = f"json://127.0.0.1:{free_port()}/down"
    s = write_settings(tmp_path, target("team", hook.url(), mail.url()) + target("broken", dead))
    runner = CliRunner()
    ok = runner.invoke(cli, ["notify", "--settings", str(s.path), "--test", "team"])
    assert ok.exit_code == 0, ok.output
    assert "URL #1 json: test message delivered" in ok.output and "URL #2 mailto: test message delivered" in ok.output
    assert hook.bodies[0]["title"] == "topicwatch: test message for team"
    assert mail.messages[0]["Subject"] == "topicwatch: test message for team"
    bad = runner.invoke(cli, ["notify", "--settings", str(s.path), "--test", "broken"])
    assert bad.exit_code == 1 and "URL #1 json: test message FAILED" in bad.output
    assert "/down" not in bad.output
    unknown = runner.invoke(cli, ["notify", "--settings", str(s.path), "--test", "nobody"])
    assert unknown.exit_code == 2 and "no such [[notify]] target" in unknown.output


def test_a_removed_url_is_dropped_and_a_new_target_starts_from_now(tmp_path: Path, hook: HookReceiver) -> None:
    dead = f"json://127.0.0.1:{free_port()}/down"
    s = write_settings(tmp_path, target("team", hook.url(), dead))
    db, _ = registered_corpus(s)
    notify.deliver(db, s)
    s = write_settings(tmp_path, target("team", hook.url()) + target("newcomer", hook.url("/new")))
    (team, newcomer) = notify.deliver(db, s)
    assert (team.sent, team.failed, newcomer.sent) == (0, 0, 0)
    assert status_report(db, s)["notify"][0]["pending"] == 0
    add_story(db, "百度文心大模型新版发布", "36kr", {"llm-industry": ["大模型"]})
    assert [r.sent for r in notify.deliver(db, s)] == [1, 1]
