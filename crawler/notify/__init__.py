"""Notifications: tell people when something new arrives (no Scrapy, no SQL).

- `compose`: the text of every message, pure functions over rows (text, Markdown, HTML).
- `send`: one message to one URL through Apprise, the only module importing it.
- `deliver`: a notification pass - queue what is new for each `[[notify]]` target, record
  each message before sending it, send, record the receiver's answer (crawler/store/
  notifications.py holds the SQL); `dry_run` and `send_test` for `topicwatch notify`.
"""
