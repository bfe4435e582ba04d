#!/usr/bin/env bash
# The README's first command, as a new user runs it on a fresh machine: in a throw-away clone,
# with the Python and the pip the machine ships (no `pip install -U pip`: Python 3.11's pip 23.2
# skips jusText's lxml[html_clean] extra, which an upgraded pip would hide).
#
# 1. The install, exactly as the README's first command writes it.
# 2. The crawl, exactly as written, with the shipped settings.toml, inside a network namespace
#    of its own (`unshare -rn`: no interface, so no packet leaves the machine): it must end
#    with exit code 4 and the one line saying the machine looks offline, not a traceback.
# 3. A real crawl with that same install, of the fixture news site on 127.0.0.1-3
#    (scripts/demo_site.py): exit 0, and the articles the site holds are stored.
set -euo pipefail
cd "$(dirname "$0")/.."

command=$(grep -m1 -E '^python3 -m venv \.venv && .+ && \.venv/bin/topicwatch crawl$' README.md) || {
    echo "first-command: the README's first command was not found" >&2; exit 1; }
install=${command% && .venv/bin/topicwatch crawl}
work=$(mktemp -d)
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
git clone -q . "$work/clone"
cd "$work/clone"

echo "first-command: $install"
bash -c "$install" >"$work/install.log" 2>&1 || { tail -30 "$work/install.log" >&2; exit 1; }
echo "first-command: installed with $(.venv/bin/pip --version | cut -d' ' -f1-2), as the venv ships it"

echo "first-command: .venv/bin/topicwatch crawl   (offline: a network namespace of its own)"
set +e
unshare -rn .venv/bin/topicwatch crawl >"$work/crawl.out" 2>"$work/crawl.err"
code=$?
set -e
if [ "$code" -ne 4 ] || grep -q Traceback "$work/crawl.err" ||
   ! grep -q '^error: every source failed to resolve its host name (DNS, .*this machine looks offline$' "$work/crawl.err"; then
    echo "first-command: the offline crawl ended with exit $code:" >&2
    tail -30 "$work/crawl.err" >&2
    exit 1
fi
grep '^error: ' "$work/crawl.err"

echo "first-command: .venv/bin/topicwatch crawl --settings demo/settings.toml   (the fixture site)"
.venv/bin/python scripts/demo_site.py "$work/demo" >"$work/demo.log" 2>&1 &
server=$!
for _ in $(seq 100); do [ -s "$work/demo/settings.toml" ] && break; sleep 0.2; done
.venv/bin/topicwatch crawl --settings "$work/demo/settings.toml" >"$work/demo.out" 2>"$work/demo.err" || {
    echo "first-command: the crawl of the fixture site failed:" >&2; tail -30 "$work/demo.err" >&2; exit 1; }
grep -q '^corpus: 15 articles, 3 copies' "$work/demo.out" || {
    echo "first-command: the fixture site's articles were not all stored:" >&2; cat "$work/demo.out" >&2; exit 1; }
tail -1 "$work/demo.out"
echo "first-command: ok"
