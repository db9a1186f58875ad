#!/bin/sh
# Measures the logged-in account page under load, next to a bare net/http
# server in the same run, so the ratio between them says what the app costs
# on this machine whatever else it is doing.
#
# It builds the FusionAuth stand-in (e2e/cmd/fake-fusionauth), the bare
# server (scripts/bare-http) and the complete application, starts the
# stand-in on :9011 and the app on :5000, logs in as richard@example.com over
# HTTP as a browser would, then runs wrk on scripts/bare-http (127.0.0.1:5080,
# serving a page of the same size) and on /account with the session's
# cookies, then on the bare server again. It prints requests per second, p50
# and p99 latency of each, the ratio of the app to the mean of the two bare
# runs, and the app's resident memory right after its run.
#
# Each argument is an app to measure, one after the other in the same run,
# each between two bare-server measurements of its own: a checkout of this
# repository (its complete-application is built) or an app binary. Without
# arguments it measures this checkout. Comparing two versions:
#
#   scripts/load.sh ../main .
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

# The apps are paths from where the script was started.
for app in "$@"; do
	case "$app" in
	/*) set -- "$@" "$app" ;;
	*) set -- "$@" "$PWD/$app" ;;
	esac
	shift
done
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
if [ "$#" -eq 0 ]; then
	set -- .
fi
for app in "$@"; do
	if [ ! -d "$app/complete-application" ] && ! { [ -f "$app" ] && [ -x "$app" ]; }; then
		echo "load.sh: $app is neither a checkout (no complete-application folder) nor an executable" >&2
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
idp_pid=""
app_pid=""
bare_pid=""
# stop PID: stops a process this script started and waits for it to end.
stop() {
	if [ -n "$1" ]; then
		kill "$1" 2>/dev/null || true
		wait "$1" 2>/dev/null || true
	fi
}
cleanup() {
	stop "$bare_pid"
	stop "$app_pid"
	stop "$idp_pid"
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "building the stand-in, the bare server and the app(s)..."
go build -o "$work/fake-fusionauth" ./e2e/cmd/fake-fusionauth
go build -o "$work/bare-http" ./scripts/bare-http
n=0
for app in "$@"; do
	n=$((n + 1))
	if [ -d "$app/complete-application" ]; then
		(cd "$app" && go build -o "$work/app-$n" ./complete-application)
	else
		cp "$app" "$work/app-$n"
	fi
done

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

"$work/fake-fusionauth" >"$work/fake-fusionauth.log" 2>&1 &
idp_pid=$!
wait_for "$idp_url/.well-known/openid-configuration" "the stand-in" "$work/fake-fusionauth.log"

# measure_app N LABEL: starts app N, logs in, measures the bare server, the
# app and the bare server again, stops both and appends a line to the results.
measure_app() {
	log="$work/app-$1.log"
	# The app logs one line per request; a file is what a deployment would
	# have, and lets the script count the statuses it answered. It is opened
	# for appending, so that emptying it before the run leaves no hole.
	"$work/app-$1" >>"$log" 2>&1 &
	app_pid=$!
	wait_for "$app_url/" "the app ($2)" "$log"

	# Log in as a browser would: /login redirects to FusionAuth's authorize
	# page, whose form carries the authorize request's parameters plus the
	# user's credentials; FusionAuth's answer redirects through /callback,
	# which sets the session cookies, to /account. -L follows every redirect
	# on the way.
	jar="$work/cookies-$1.txt"
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
	# The app's cookies (oidc_..., or cb_... in versions before the login
	# became login*.go), as one Cookie header. curl's jar marks
	# HttpOnly cookies with a #HttpOnly_ prefix on the domain.
	cookie=$(awk -F '\t' '$1 ~ /^(#HttpOnly_)?localhost$/ && $6 ~ /^(oidc|cb)_/ { printf "%s%s=%s", sep, $6, $7; sep = "; " }' "$jar")
	size=$(curl -s -H "Cookie: $cookie" -o "$work/account.html" -w '%{size_download}' "$app_url/account")
	grep -q 'richard@example.com' "$work/account.html" || {
		echo "load.sh: /account with the session's cookies does not show the user" >&2
		exit 1
	}

	"$work/bare-http" -addr "$bare_addr" -size "$size" >"$work/bare-http.log" 2>&1 &
	bare_pid=$!
	wait_for "http://$bare_addr/" "the bare server" "$work/bare-http.log"

	# The bare server is measured just before and just after the app, and
	# the ratio uses the mean of the two, so that a change of the machine's
	# load during the run shows (the two differ) instead of skewing it.
	: >"$log"
	measure bare "http://$bare_addr/"
	mv "$work/bare.wrk" "$work/bare-before.wrk"
	measure account "$app_url/account" -H "Cookie: $cookie"
	rss=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$app_pid/status" 2>/dev/null || echo "?")
	hwm=$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$app_pid/status" 2>/dev/null || echo "?")
	measure bare "http://$bare_addr/"

	# wrk counts redirects as successes: the app's log must show that every
	# request to /account was answered with the page.
	served=$(grep -ac 'path=/account status=200' "$log" || true)
	other=$(grep -a 'path=/account' "$log" | grep -avc 'status=200' || true)
	if [ "$other" -ne 0 ]; then
		echo "load.sh: $other requests to /account were not answered 200; the app's log:" >&2
		grep -a 'path=/account' "$log" | grep -av 'status=200' | head -5 >&2
		exit 1
	fi
	stop "$bare_pid"
	bare_pid=""
	stop "$app_pid"
	app_pid=""

	bare_before=$(field bare-before Requests/sec:)
	bare_after=$(field bare Requests/sec:)
	bare_rps=$(awk -v a="$bare_before" -v b="$bare_after" 'BEGIN { printf "%.2f", (a + b) / 2 }')
	account_rps=$(field account Requests/sec:)
	ratio=$(awk -v a="$account_rps" -v b="$bare_rps" 'BEGIN { printf "%.1f%%", 100 * a / b }')
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$2" "$size" \
		"$bare_rps" "$bare_before" "$(field bare-before 50%)" "$(field bare-before 99%)" \
		"$bare_after" "$(field bare 50%)" "$(field bare 99%)" \
		"$account_rps" "$(field account 50%)" "$(field account 99%)" \
		"$ratio" "$served" "$rss" "$hwm" >>"$work/results"
}

n=0
for app in "$@"; do
	n=$((n + 1))
	measure_app "$n" "$app"
done

echo
echo "load: $(uptime | sed 's/.*load average/load average/')"
echo
# One block per app, each against the bare server measured around it.
while IFS='	' read -r label size bare_rps b1_rps b1_p50 b1_p99 b2_rps b2_p50 b2_p99 rps p50 p99 ratio served rss hwm; do
	echo "app: $label"
	printf '  %-34s %12s %10s %10s\n' "" "requests/s" "p50" "p99"
	printf '  %-34s %12s %10s %10s\n' "bare net/http ($size-byte page)" "$b1_rps" "$b1_p50" "$b1_p99"
	printf '  %-34s %12s %10s %10s\n' "verified /account" "$rps" "$p50" "$p99"
	printf '  %-34s %12s %10s %10s\n' "bare net/http again" "$b2_rps" "$b2_p50" "$b2_p99"
	echo "  ratio /account : bare (mean $bare_rps) = $ratio"
	echo "  requests answered 200 during the run: $served"
	echo "  resident memory after the run: $rss kB (peak $hwm kB)"
done <"$work/results"
