"""topicwatch: watch the web for new coverage of your topics (see README.md)."""
