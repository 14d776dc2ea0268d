#!/usr/bin/env bash
# Loads a report.html in headless Debian chromium with networking disabled and
# checks it the way a reader's browser would:
#   - no console message at all (script errors, CSP violations such as an
#     attempt to load anything from the network, console.error), read from
#     chromium's --enable-logging=stderr output, and no error caught by the
#     page's window.onerror hook (body data-errors, read with --dump-dom);
#   - the page's script ran (body data-rendered="yes") and the charts hold
#     data points: body data-chart-points lists "chart-id:count" per chart;
#     throughput and latency must be > 0 (failures may be 0 in a clean run);
#   - a screenshot OUT_DIR/report.png (1100 px wide) for a human to look at.
#
# usage: check_html.sh [--render CMD] INPUT OUT_DIR
#   INPUT   a report.html, or with --render a report.json: it is copied to
#           OUT_DIR/report.json and `CMD OUT_DIR` renders OUT_DIR/report.html
#           (CMD: "cutover report").
# Exit 0 when every check holds, 1 when one fails, 2 on bad usage or setup.
# Needs: apt-get install -y chromium
set -euo pipefail

render=""
if [[ "${1:-}" == "--render" ]]; then
  render="${2:?--render needs a command}"
  shift 2
fi
if [[ $# -ne 2 ]]; then
  sed -n '2,19p' "$0" >&2
  exit 2
fi
input="$1"
out="$2"
browser="$(command -v chromium || command -v chromium-browser || true)"
if [[ -z "$browser" ]]; then
  echo "error: chromium is not installed (apt-get install -y chromium)" >&2
  exit 2
fi
mkdir -p "$out"
out="$(cd "$out" && pwd)"
if [[ -n "$render" ]]; then
  cp "$input" "$out/report.json"
  # shellcheck disable=SC2086 # CMD may be "cutover report"
  $render "$out" >/dev/null
  html="$out/report.html"
else
  html="$(cd "$(dirname "$input")" && pwd)/$(basename "$input")"
fi
[[ -s "$html" ]] || { echo "error: no report.html at $html" >&2; exit 2; }

profile="$(mktemp -d /tmp/cutover-chromium.XXXXXX)"
trap 'rm -rf "$profile"' EXIT
# Networking disabled: every request goes to a proxy on the discard port of
# loopback, and host names resolve to nothing.
flags=(--headless --no-sandbox --disable-gpu --no-first-run --disable-extensions
       --proxy-server=127.0.0.1:9 --host-resolver-rules="MAP * ~NOTFOUND"
       --user-data-dir="$profile" --enable-logging=stderr --v=0
       --window-size=1100,2000 --hide-scrollbars)
url="file://$html"

status=0
fail() { echo "FAIL: $*" >&2; status=1; }

timeout 90 "$browser" "${flags[@]}" --dump-dom "$url" >"$out/report.dom.html" 2>"$out/chromium-dom.log" ||
  fail "chromium --dump-dom exited with $?"
timeout 90 "$browser" "${flags[@]}" --screenshot="$out/report.png" "$url" >/dev/null 2>"$out/chromium-shot.log" ||
  fail "chromium --screenshot exited with $?"

if grep -h ':CONSOLE' "$out/chromium-dom.log" "$out/chromium-shot.log" >&2; then
  fail "console messages (above)"
fi
body="$(grep -o '<body[^>]*>' "$out/report.dom.html" | head -n 1 || true)"
attr() { sed -n "s/.* $1=\"\\([^\"]*\\)\".*/\\1/p" <<<"$body"; }
[[ "$(attr data-rendered)" == "yes" ]] || fail "the page's script did not run (body: $body)"
[[ "$(attr data-errors)" == "0" ]] || fail "script errors: $(attr data-error-text)"
points="$(attr data-chart-points)"
for chart in chart-throughput chart-latency; do
  n="$(tr ',' '\n' <<<"$points" | sed -n "s/^$chart://p")"
  [[ -n "$n" && "$n" -gt 0 ]] || fail "$chart holds no data points ($points)"
done
[[ -s "$out/report.png" ]] || fail "no screenshot"
if [[ $status -eq 0 ]]; then
  echo "ok: $html: $points; screenshot $out/report.png"
fi
exit $status
