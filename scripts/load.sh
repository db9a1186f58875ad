#!/bin/sh
# Measures the logged-in account page under load, next to a bare net/http
# server in the same run, so the ratio between them says what the app costs
# on this machine whatever else it is doing.
#
# It builds the complete application and the FusionAuth stand-in
# (e2e/cmd/fake-fusionauth), starts the stand-in on :9011 and the app on
# :5000, logs in as richard@example.com over HTTP as a browser would, then
# runs wrk on /account with the session's cookies and on scripts/bare-http
# (127.0.0.1:5080, serving a page of the same size). It prints requests per
# second, p50 and p99 latency for both, their ratio, and the app's resident
# memory after the run.
#
# Needs: go, wrk, curl (it installs nothing). Usage, from anywhere in the
# repository, with ports 9011, 5000 and 5080 free:
#
#   scripts/load.sh
#   DURATION=30s CONNECTIONS=64 THREADS=4 scripts/load.sh
#
# Everything it starts listens on loopback or the two ports above, and is
# stopped when the script ends, also on failure or Ctrl-C. The stand-in
# issues access tokens for an hour, much longer than a run.
set -eu

cd "$(dirname "$0")/.."
duration=${DURATION:-10s}
connections=${CONNECTIONS:-32}
threads=${THREADS:-2}
app_url=http://localhost:5000
idp_url=http://localhost:9011
bare_addr=127.0.0.1:5080

for tool in go wrk curl; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "load.sh: needs $tool on the PATH (wrk: apt-get install wrk, brew install wrk)" >&2
		exit 1
	fi
done
for url in "$idp_url" "$app_url" "http://$bare_addr"; do
	if curl -s -o /dev/null --max-time 1 "$url"; then
		echo "load.sh: something already answers at $url; stop it first" >&2
		exit 1
	fi
done

work=$(mktemp -d)
pids=""
cleanup() {
	for pid in $pids; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in $pids; do
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "building the app, the stand-in and the bare server..."
go build -o "$work/app" ./complete-application
go build -o "$work/fake-fusionauth" ./e2e/cmd/fake-fusionauth
go build -o "$work/bare-http" ./scripts/bare-http

# wait_for URL NAME LOG: polls for up to 10 s.
wait_for() {
	i=0
	until curl -s -o /dev/null --max-time 1 "$1"; do
		i=$((i + 1))
		if [ "$i" -ge 100 ]; then
			echo "load.sh: $2 did not start; its log:" >&2
			cat "$3" >&2
			exit 1
		fi
		sleep 0.1
	done
}

"$work/fake-fusionauth" >"$work/fake-fusionauth.log" 2>&1 &
pids="$pids $!"
wait_for "$idp_url/.well-known/openid-configuration" "the stand-in" "$work/fake-fusionauth.log"

# The app logs one line per request; a file is what a deployment would
# have, and lets the script count the statuses it answered. It is opened
# for appending, so that emptying it before the run leaves no hole.
"$work/app" >>"$work/app.log" 2>&1 &
app_pid=$!
pids="$pids $app_pid"
wait_for "$app_url/" "the app" "$work/app.log"

# Log in as a browser would: /login redirects to FusionAuth's authorize page,
# whose form carries the authorize request's parameters plus the user's
# credentials; FusionAuth's answer redirects through /callback, which sets
# the session cookies, to /account. -L follows every redirect on the way.
jar="$work/cookies.txt"
authorize=$(curl -s -c "$jar" -b "$jar" -L -o /dev/null -w '%{url_effective}' "$app_url/login")
case "$authorize" in
"$idp_url/oauth2/authorize?"*) ;;
*)
	echo "load.sh: /login did not lead to the authorize page but to $authorize" >&2
	exit 1
	;;
esac
landed=$(curl -s -c "$jar" -b "$jar" -L -o /dev/null -w '%{http_code} %{url_effective}' \
	--data-raw "${authorize#*\?}&loginId=richard%40example.com&password=password" \
	"$idp_url/oauth2/authorize")
if [ "$landed" != "200 $app_url/account" ]; then
	echo "load.sh: the login ended at $landed, want 200 $app_url/account" >&2
	exit 1
fi
# The app's cookies (cb_...), as one Cookie header. curl's jar marks
# HttpOnly cookies with a #HttpOnly_ prefix on the domain.
cookie=$(awk -F '\t' '$1 ~ /^(#HttpOnly_)?localhost$/ && $6 ~ /^cb_/ { printf "%s%s=%s", sep, $6, $7; sep = "; " }' "$jar")
size=$(curl -s -H "Cookie: $cookie" -o "$work/account.html" -w '%{size_download}' "$app_url/account")
grep -q 'richard@example.com' "$work/account.html" || {
	echo "load.sh: /account with the session's cookies does not show the user" >&2
	exit 1
}

"$work/bare-http" -addr "$bare_addr" -size "$size" >"$work/bare-http.log" 2>&1 &
pids="$pids $!"
wait_for "http://$bare_addr/" "the bare server" "$work/bare-http.log"

# measure NAME URL [wrk args...]: runs wrk and keeps its report.
measure() {
	name=$1
	url=$2
	shift 2
	echo "wrk on $name: $url ($threads threads, $connections connections, $duration)"
	if ! wrk -t "$threads" -c "$connections" -d "$duration" --latency "$@" "$url" >"$work/$name.wrk" 2>&1; then
		cat "$work/$name.wrk" >&2
		echo "load.sh: wrk failed on $name" >&2
		exit 1
	fi
	if grep -q 'Non-2xx' "$work/$name.wrk"; then
		cat "$work/$name.wrk" >&2
		echo "load.sh: $name answered errors under load" >&2
		exit 1
	fi
}
# field NAME LABEL: a value from a wrk report, e.g. "Requests/sec:" or "99%".
field() {
	awk -v label="$2" '$1 == label { print $2; exit }' "$work/$1.wrk"
}

: >"$work/app.log"
measure bare "http://$bare_addr/"
measure account "$app_url/account" -H "Cookie: $cookie"

# wrk counts redirects as successes: the app's log must show that every
# request to /account was answered with the page.
served=$(grep -ac 'path=/account status=200' "$work/app.log" || true)
other=$(grep -a 'path=/account' "$work/app.log" | grep -avc 'status=200' || true)
if [ "$other" -ne 0 ]; then
	echo "load.sh: $other requests to /account were not answered 200 (see the app's log)" >&2
	exit 1
fi
rss=$(awk '$1 == "VmRSS:" { print $2, $3 }' "/proc/$app_pid/status" 2>/dev/null || echo "unknown (no /proc)")
hwm=$(awk '$1 == "VmHWM:" { print $2, $3 }' "/proc/$app_pid/status" 2>/dev/null || echo "unknown")

bare_rps=$(field bare Requests/sec:)
account_rps=$(field account Requests/sec:)
echo
printf '%-34s %12s %10s %10s\n' "" "requests/s" "p50" "p99"
printf '%-34s %12s %10s %10s\n' "bare net/http ($size-byte page)" "$bare_rps" "$(field bare 50%)" "$(field bare 99%)"
printf '%-34s %12s %10s %10s\n' "verified /account" "$account_rps" "$(field account 50%)" "$(field account 99%)"
echo
awk -v a="$account_rps" -v b="$bare_rps" 'BEGIN { printf "ratio /account : bare = %.1f%%\n", 100 * a / b }'
echo "app requests answered 200 during the run: $served"
echo "app resident memory after the run: $rss (peak $hwm)"
