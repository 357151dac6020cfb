#!/usr/bin/env bash
# make bench: the figures of issue 7 on this machine.
#
# Starts a fresh embedded server (temporary data directory, free loopback
# port, fixed bootstrap credentials), waits for /readyz, loads it with
# `gatehouse bench` (mint at concurrency 1 and 32; introspect, JWKS and
# healthz at 32), reads the server's RSS after the mint runs, stops it,
# runs the Go micro-benchmarks with allocations, and ends with a summary of
# the issue's figures next to its goals.
#
# Issue 12's retention figures: each of the steps below runs on a fresh
# server of its own, whose live heap (GET /debug/heap on its debug
# listener, GATEHOUSE_DEBUG_PPROF: after a forced collection) is read
# idle, before the load, and at the end; the goal is "within 64 MiB of
# idle". Waits are on conditions (GET /debug/retention: no document of
# the high-volume stream left with an expiry; the webhook's deliveries
# all failed), never sleeps. A second reading 12 s after the end shows
# the heap once the embedded NATS server's file-store block caches (8 MB
# buffers per message block read or written, dropped 10 s after their
# last use: nats-server's defaultCacheBufferExpiration) have expired:
# the end figure includes them, the later one is Gatehouse's state.
#   (a) the soak below: BENCH_SOAK_TOKENS mints; its heap profile's top
#       lines are printed (needs $GO for go tool pprof)
#   (b) BENCH_REVOKE=0 skips BENCH_REVOKE_CYCLES (default 100000)
#       mint+revoke cycles at c=32 on a server with
#       GATEHOUSE_ACCESS_TOKEN_TTL=1m and GATEHOUSE_REVOCATION_GRACE=1s,
#       then the wait until retention has dropped every revocation
#   (c) BENCH_PUBLISH=0 skips BENCH_PUBLISH_EVENTS (default 10000)
#       events of 64 KiB (BENCH_PUBLISH_KIB) at c=8 to a webhook whose
#       receiver answers 500, GATEHOUSE_WEBHOOK_RETRY_SCHEDULE=1s, then
#       the wait until every delivery has failed
#   (d) BENCH_IDEMPOTENT=0 skips BENCH_IDEMPOTENT_POSTS (default 100000)
#       POST /v1/events with an Idempotency-Key each at c=32 on a server
#       with GATEHOUSE_IDEMPOTENCY_RETENTION=10s (and the bench client
#       exempt from the platform API's 1000/s budget,
#       GATEHOUSE_RATE_EXEMPT), then the wait until retention has dropped
#       every record
#   BENCH_RETENTION_WAIT  the longest wait for retention (default 300 s)
#
# Issue 14's code flow figures, on the first server: BENCH_CODE=0 skips
# them. `gatehouse bench --scenario code` makes a relying party and a
# person, signs the person in and consents once through the pages, then
# each step is GET /v1/oauth/authorize with the session cookie (consent
# remembered, no prompt) and the code's exchange with PKCE; --scenario
# refresh rotates refresh tokens, one family per worker. Both at c=1 and
# c=32. Then --scenario login (GET /login, goal >= 10,000/s) at c=32 and
# --scenario password-hash (one argon2id hash a step, bench's own Hasher
# bounded as the server's) at c=1 and c=8.
#
# Issue 17's GraphQL figures, on the first server: BENCH_GRAPHQL=0 skips
# them. `gatehouse bench --scenario graphql` makes 50 apps with a webhook
# each, then each step is one POST /v1/graphql of those 50 apps with
# their scopes and webhooks; --scenario graphql-rest reads the same data
# through REST (apps?limit=50 and webhooks?limit=500, one step). c=32.
#
# Issue 15's vault figure, on the first server: BENCH_VAULT=0 skips it.
# `gatehouse bench --scenario vault-refresh` forces refreshes of
# client_credentials credentials whose provider is the server itself, at
# c=1 and c=8. The 100,000-credential memory and idle-CPU figures and the
# spread of 10,000 expiries are Go benchmarks of package vault
# (BenchmarkVaultIdle100k, BenchmarkVaultSpread10k; memory per credential
# after 24 refreshes: BenchmarkVaultRefreshed2k), run with the others.
#
#   GATEHOUSE_BIN   the binary (default ./bin/gatehouse; make bench builds it)
#   GO              the go command (default go)
#   BENCH_DURATION  measured time of each load run (default 8s)
#   BENCH_WARMUP    warmup of each load run, left out (default 1s)
#   BENCH_GO=0      skip the Go micro-benchmarks
#   BENCH_SOAK=0    skip the soak: a fresh server of its own minting at c=32
#                   until it has minted BENCH_SOAK_TOKENS (default 1000000)
#                   tokens, then its RSS (GOMEMLIMIT, when set, reaches the
#                   servers like any other variable)
#   BENCH_PROXY_ROUNDS  rounds of each proxy run (default 4): bench --rounds
#   BENCH_PPROF     host:port on loopback: the servers serve net/http/pprof
#                   there (GATEHOUSE_DEBUG_PPROF) while the runs go on
#                   (default: a free port of each server's own)
#
# Needs bash and coreutils only: readiness and /metrics are read over
# bash's /dev/tcp.
set -euo pipefail

cd "$(dirname "$0")/.."
GO=${GO:-go}
BIN=${GATEHOUSE_BIN:-./bin/gatehouse}
DURATION=${BENCH_DURATION:-8s}
WARMUP=${BENCH_WARMUP:-1s}
SOAK_TOKENS=${BENCH_SOAK_TOKENS:-1000000}
CLIENT_ID=bench
CLIENT_SECRET=bench-secret-for-this-run-only-0123456789

work=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-bench.XXXXXX")
server_pid=""
port=""

stop_server() {
	if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
		kill -TERM "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	server_pid=""
}
cleanup() {
	stop_server
	[[ -f $work/nginx.pid ]] && kill "$(cat "$work/nginx.pid")" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# free_port prints a loopback port nothing listens on, below the kernel's
# ephemeral range: a port in that range can be taken, between this check
# and the server's listen, by the local end of any outgoing connection
# (the load generator's, nginx's keep-alive ones), and the server would
# fail to start ("address already in use", seen once in the cold start).
free_port() {
	local p low=32768
	read -r low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
	((low > 20000 + 1000)) || low=32768
	for _ in {1..100}; do
		p=$((20000 + RANDOM % (low - 20000)))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	echo "bench: no free loopback port found" >&2
	return 1
}

# http_get PATH [HOST:PORT] prints the answer (status line, headers,
# body) of GET PATH on the server (or HOST:PORT), or fails when nothing
# answers.
http_get() {
	local hp=${2:-127.0.0.1:$port}
	(
		exec 3<>"/dev/tcp/${hp%:*}/${hp##*:}" || exit 1
		printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$1" >&3
		cat <&3
	) 2>/dev/null
}

# heap_mib prints the server's live heap after a forced collection, in
# MiB with one decimal (GET /debug/heap on its debug listener).
heap_mib() {
	http_get /debug/heap "$debug_addr" | sed -n 's/.*"heap_alloc_bytes":\([0-9]*\).*/\1/p' |
		awk '{ printf "%.1f", $1 / 1048576 }'
}

# wait_retention waits until no document of the high-volume stream has an
# expiry left (GET /debug/retention): retention has dropped what the load
# made. It prints how long that took; it fails after BENCH_RETENTION_WAIT.
wait_retention() {
	local t0=$SECONDS limit=${BENCH_RETENTION_WAIT:-300}
	until http_get /debug/retention "$debug_addr" | grep -q '"events":{[^}]*"next_expiry":null'; do
		if ((SECONDS - t0 >= limit)); then
			echo "bench: retention still holds documents $limit s after the load:" >&2
			http_get /debug/retention "$debug_addr" | tail -n 1 >&2
			return 1
		fi
		sleep 1
	done
	echo "$((SECONDS - t0))"
}

# wait_ready waits up to 30 s for GET /readyz to answer 200; on failure it
# shows the starting server's output (server_out and server_log).
wait_ready() {
	local deadline=$((SECONDS + 30))
	until http_get /readyz | head -n 1 | grep -q '^HTTP/1\.[01] 200'; do
		if ! kill -0 "$server_pid" 2>/dev/null; then
			echo "bench: the server exited while starting:" >&2
			cat "$server_out" "$server_log" >&2
			return 1
		fi
		if ((SECONDS >= deadline)); then
			echo "bench: the server was not ready within 30 s:" >&2
			cat "$server_out" "$server_log" >&2
			return 1
		fi
		sleep 0.1
	done
}

# start_server [VAR=value...] starts a server on the data directory
# $work/data with the settings given besides the bench's own.
start_server() {
	port=$(free_port)
	debug_addr=${BENCH_PPROF:-127.0.0.1:$(free_port)}
	url=http://127.0.0.1:$port
	env GATEHOUSE_ADDR="127.0.0.1:$port" GATEHOUSE_ISSUER="$url" GATEHOUSE_DATA_DIR="$work/data" \
		GATEHOUSE_MASTER_KEY="$(head -c 32 /dev/urandom | base64)" \
		GATEHOUSE_BOOTSTRAP_CLIENT_ID="$CLIENT_ID" GATEHOUSE_BOOTSTRAP_CLIENT_SECRET="$CLIENT_SECRET" \
		GATEHOUSE_LOG_LEVEL=warn GATEHOUSE_DEBUG_PPROF="$debug_addr" GATEHOUSE_WEBHOOK_ALLOW_PRIVATE=true \
		"$@" "$BIN" serve >"$work/server.out" 2>"$work/server.log" &
	server_pid=$!
	server_out=$work/server.out server_log=$work/server.log
	local t0=$SECONDS
	wait_ready
	echo "server: $(grep -m1 'listening on' "$work/server.out") (pid $server_pid), ready in about $((SECONDS - t0)) s"
	echo "        embedded NATS JetStream in a fresh $work/data, memory projections"
}

# load NAME SCENARIO CONCURRENCY [FLAG...] runs one load and keeps its
# JSON as NAME.
load() {
	echo
	echo "== $1"
	"$BIN" bench --url "$url" --scenario "$2" --concurrency "$3" --duration "$DURATION" --warmup "$WARMUP" \
		--client-id "$CLIENT_ID" --client-secret "$CLIENT_SECRET" --json-out "$work/$1.json" "${@:4}"
}

# start_reference_proxy starts nginx (when installed; BENCH_PROXY_REFERENCE=0
# skips it) as the proxy scenarios' reference: a plain keep-alive reverse
# proxy in front of the port where bench serves its upstream, so that each
# proxy run also measures, in the same run and against the same baseline,
# what a proxy that is not Gatehouse gets on this machine. It sets
# proxy_flags to the bench flags that use it.
proxy_flags=()
start_reference_proxy() {
	[[ ${BENCH_PROXY_REFERENCE:-1} != 0 ]] && command -v nginx >/dev/null || return 0
	local up listen
	up=$(free_port) listen=$(free_port)
	cat >"$work/nginx.conf" <<NGINX
worker_processes auto;
pid $work/nginx.pid;
error_log $work/nginx.err;
events { worker_connections 1024; }
http {
	access_log off;
	upstream api { server 127.0.0.1:$up; keepalive 64; }
	server {
		listen 127.0.0.1:$listen;
		location / { proxy_pass http://api; proxy_http_version 1.1; proxy_set_header Connection ""; }
	}
}
NGINX
	if nginx -c "$work/nginx.conf"; then
		proxy_flags+=(--upstream-addr "127.0.0.1:$up" --reference "http://127.0.0.1:$listen")
	else
		echo "bench: nginx did not start: the proxy runs have no reference" >&2
	fi
}

# field NAME KEY is a number from the JSON of load NAME.
field() {
	sed -n "s/.*\"$2\":\([^,}]*\).*/\1/p" "$work/$1.json"
}

# proc_kib KEY is a VmRSS-like line of the server's /proc status, in KiB.
proc_kib() {
	awk -v k="$1:" '$1 == k { print $2 }' "/proc/$server_pid/status" 2>/dev/null || true
}

# proc_cpu_ms prints the CPU time (user + system) the server has used so
# far, in ms: a figure of the work done that other load on the machine
# skews far less than wall-clock time.
proc_cpu_ms() {
	local hz
	hz=$(getconf CLK_TCK)
	sed 's/.*) //' "/proc/$server_pid/stat" 2>/dev/null | awk -v hz="$hz" '{ print int(($12 + $13) * 1000 / hz) }' || true
}

# soak starts a fresh server, mints at c=32 until it has minted
# $SOAK_TOKENS tokens and reads its RSS: memory must not grow with the
# number of tokens. A server of its own, so that nothing else the other
# runs left (webhook deliveries, which the deliver runs make by the
# thousand) counts.
soak() {
	echo
	echo "== soak: a fresh server mints at c=32 until it has minted $SOAK_TOKENS tokens"
	rm -rf "$work/data"
	start_server
	heap_idle[soak]=$(heap_mib)
	"$BIN" bench --url "$url" --scenario mint --concurrency 32 --requests "$SOAK_TOKENS" --warmup 0 --quiet \
		--client-id "$CLIENT_ID" --client-secret "$CLIENT_SECRET" --json-out "$work/soak.json"
	soak_minted=$(tokens_minted)
	heap_after[soak]=$(heap_mib)
	heap_profile soak
	heap_settled[soak]=$(settled_heap_mib)
	soak_rss_kib=$(proc_kib VmRSS)
	soak_hwm_kib=$(proc_kib VmHWM)
	echo
	echo "server RSS after the soak: $((${soak_rss_kib:-0} / 1024)) MiB (VmRSS), peak $((${soak_hwm_kib:-0} / 1024)) MiB (VmHWM), $soak_minted tokens minted"
	echo "live heap: ${heap_idle[soak]} MiB idle, ${heap_after[soak]} MiB after the soak, ${heap_settled[soak]} MiB 12 s later"
}

# settled_heap_mib is heap_mib once NATS's block caches have expired (see
# the header: a wait for a timer of nats-server's, not for a race).
settled_heap_mib() {
	sleep 12
	heap_mib
}

# heap_profile NAME saves the server's heap profile (after a collection)
# as $work/NAME.heap and prints its top lines by live bytes.
heap_profile() {
	http_get '/debug/pprof/heap?gc=1' "$debug_addr" | sed '1,/^\r\{0,1\}$/d' >"$work/$1.heap"
	if command -v "$GO" >/dev/null 2>&1 && [[ -s $work/$1.heap ]]; then
		echo "top of the live heap (go tool pprof -top -sample_index=inuse_space):"
		"$GO" tool pprof -top -sample_index=inuse_space -nodecount=12 "$BIN" "$work/$1.heap" 2>/dev/null | sed -n '4,18p' || true
	fi
}

# retention_step NAME LABEL BENCH-ARGS -- SERVER-SETTINGS: a fresh server
# with SERVER-SETTINGS, its idle heap, the load, the wait (revoke and
# idempotent: for retention; publish: in the load, for the deliveries),
# and its heap at the end.
retention_step() {
	local name=$1 label=$2 scenario=$3 wait=$4
	shift 4
	local -a args=() settings=()
	while (($#)) && [[ $1 != -- ]]; do
		args+=("$1")
		shift
	done
	shift
	settings=("$@")
	echo
	echo "== retention ($name): $label on a fresh server (${settings[*]})"
	rm -rf "$work/data"
	start_server "${settings[@]}"
	heap_idle[$name]=$(heap_mib)
	"$BIN" bench --url "$url" --scenario "$scenario" --warmup 0 --quiet "${args[@]}" \
		--client-id "$CLIENT_ID" --client-secret "$CLIENT_SECRET" --json-out "$work/$name.json"
	if [[ $wait == retention ]]; then
		heap_wait[$name]=$(wait_retention) || heap_wait[$name]=timeout
		echo "retention dropped it all ${heap_wait[$name]} s after the load"
	fi
	heap_after[$name]=$(heap_mib)
	heap_settled[$name]=$(settled_heap_mib)
	echo "live heap: ${heap_idle[$name]} MiB idle, ${heap_after[$name]} MiB at the end, ${heap_settled[$name]} MiB 12 s later"
	stop_server
}

declare -A heap_idle=() heap_after=() heap_settled=() heap_wait=()

# tokens_minted is the number of 200 answers of the token endpoint.
tokens_minted() {
	http_get /metrics | awk -F' ' '/^gatehouse_http_request_duration_seconds_count\{.*route="\/v1\/oauth\/token".*status="200"/ { n += $2 } END { printf "%.0f", n }'
}

loadavg() { cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo n/a; }

# row FIGURE MEASURED GOAL MET prints one line of the summary.
row() { printf '  %-34s %-24s %-26s %s\n' "$1" "$2" "$3" "$4"; }

# met A OP B prints yes or NO for the comparison of two numbers.
met() { awk -v a="$1" -v b="$3" -v op="$2" 'BEGIN { ok = (op == ">=") ? a >= b : a <= b; print (ok ? "yes" : "NO") }'; }

# proxy_summary prints issue 16's figures: the proxy against the same
# upstream called directly, in one run (the proxied figures come first in
# bench's JSON, the direct ones under "baseline"); the goals are the
# proxy scenario's, proxy-noop's (a whole second exchange against none)
# are quoted, and so is the reference proxy's run (nginx, when installed:
# start_reference_proxy) in each of them.
proxy_summary() {
	echo
	echo "== Summary: issue 16's figures (the credential proxy against the same upstream called directly, in one run)"
	if [[ ! -f $work/proxy-c32.json ]]; then
		row "proxy" "not measured (BENCH_PROXY=0)" "-" ""
		return
	fi
	local n proxied direct ratio added ref rounds
	for n in proxy-c1 proxy-c32 proxy-noop-c1 proxy-noop-c32; do
		[[ -f $work/$n.json ]] || continue
		proxied=$(nth "$n" ok_rps 1) direct=$(nth "$n" ok_rps 2) ref=$(nth "$n" ok_rps 3)
		ratio=$(nth "$n" ratio_pct 1) added=$(nth "$n" added_p50_ms 1)
		if [[ $n == proxy-c* ]]; then
			row "$n: proxied / direct" "$(printf '%.0f / %.0f /s = %.1f %%' "$proxied" "$direct" "$ratio")" ">= 50 %" "$(met "$ratio" '>=' 50)"
			row "$n: p50 added" "$(printf '%.3f ms' "$added")" "<= 0.5 ms" "$(met "$added" '<=' 0.5)"
		else
			row "$n: proxied / direct" "$(printf '%.0f / %.0f /s = %.1f %%' "$proxied" "$direct" "$ratio")" "-" ""
			row "$n: p50 added" "$(printf '%.3f ms' "$added")" "-" ""
		fi
		rounds=$(grep -o '"rounds":\[.*\]' "$work/$n.json" | grep -o '"ratio_pct":[^,}]*' | cut -d: -f2 |
			awk '{ printf "%s%.1f", sep, $1; sep = " / " }')
		[[ -z $rounds ]] || row "  each round: proxied / direct" "$rounds %" "-" ""
		if [[ -n $ref ]]; then
			row "  reference nginx / direct" "$(printf '%.0f / %.0f /s = %.1f %%' "$ref" "$direct" "$(nth "$n" ratio_pct 2)")" "-" ""
			row "  reference nginx p50 added" "$(printf '%.3f ms' "$(nth "$n" added_p50_ms 2)")" "-" ""
		fi
	done
}

# nth NAME KEY N is the Nth number KEY in the JSON of load NAME, in the
# order written (a proxy run's ok_rps: 1 proxied, 2 direct, 3 reference).
nth() {
	grep -o "\"$2\":[^,}]*" "$work/$1.json" | sed -n "$3p" | cut -d: -f2
}

# graphql_summary: issue 17's figures (GraphQL vs REST for the same data).
graphql_summary() {
	echo
	echo "== Summary: issue 17's figures (50 apps with scopes and webhooks; a REST step is apps + webhooks)"
	if [[ -f $work/graphql-rest-c32.json ]]; then
		local g r pct
		g=$(field graphql-c32 ok_rps) r=$(field graphql-rest-c32 ok_rps)
		pct=$(awk -v g="$g" -v r="$r" 'BEGIN { printf "%.1f", (r > 0) ? 100 * g / r : 0 }')
		row "GraphQL requests/s, c=32" "$(printf '%.0f' "$g") /s, p99 $(field graphql-c32 p99_ms) ms" "-" ""
		row "REST steps/s, c=32" "$(printf '%.0f' "$r") /s, p99 $(field graphql-rest-c32 p99_ms) ms" "-" ""
		row "GraphQL/REST" "$pct %" ">= 50 %" "$(met "$pct" '>=' 50)"
	else
		row "GraphQL" "not measured (BENCH_GRAPHQL=0)" "-" ""
	fi
}

summary() {
	local mint32 mint1 intro jwks health ratio rss_mib hwm_mib errors
	mint32=$(field mint-c32 ok_rps)
	mint1=$(field mint-c1 ok_rps)
	intro=$(field introspect-c32 ok_rps)
	jwks=$(field jwks-c32 ok_rps)
	health=$(field healthz-c32 ok_rps)
	ratio=$(awk -v m="$mint32" -v h="$health" 'BEGIN { printf "%.1f", (h > 0) ? 100 * m / h : 0 }')
	errors=0
	for n in mint-c1 mint-c32 introspect-c32 jwks-c32 healthz-c32 code-c1 code-c32 refresh-c1 refresh-c32 graphql-c32 graphql-rest-c32 soak revoke publish idempotent; do
		if [[ -f $work/$n.json ]]; then
			errors=$((errors + $(field "$n" errors)))
		fi
	done
	echo
	echo "== Summary: issue 7's figures ($(nproc) CPUs, load generator on the same machine, ${DURATION} per run)"
	echo "   load average before: $load_before, after: $(loadavg) (other work on the machine skews every figure)"
	row "figure" "measured" "goal" "met"
	row "mint tokens/s, c=32" "$(printf '%.0f' "$mint32")" ">= 10000" "$(met "$mint32" '>=' 10000)"
	row "mint p50 / p99, c=32" "$(field mint-c32 p50_ms) / $(field mint-c32 p99_ms) ms" "p99 <= 15 ms" "$(met "$(field mint-c32 p99_ms)" '<=' 15)"
	row "mint tokens/s, c=1" "$(printf '%.0f' "$mint1")" "-" ""
	row "mint p50 / p99, c=1" "$(field mint-c1 p50_ms) / $(field mint-c1 p99_ms) ms" "p50 <= 1 ms" "$(met "$(field mint-c1 p50_ms)" '<=' 1)"
	row "introspections/s, c=32" "$(printf '%.0f' "$intro")" ">= 20000" "$(met "$intro" '>=' 20000)"
	row "JWKS/s, c=32" "$(printf '%.0f' "$jwks")" ">= 30000" "$(met "$jwks" '>=' 30000)"
	row "healthz/s, c=32" "$(printf '%.0f' "$health")" "-" ""
	row "mint/healthz, c=32" "$ratio %" ">= 25 %" "$(met "$ratio" '>=' 25)"
	if [[ -n $rss_kib ]]; then
		rss_mib=$((rss_kib / 1024))
		hwm_mib=$((hwm_kib / 1024))
		row "server RSS after the mint runs" "$rss_mib MiB (peak $hwm_mib)" "-" "after $minted tokens"
		if [[ -n ${soak_rss_kib:-} ]]; then
			local soak_ok=NO
			if ((soak_minted >= SOAK_TOKENS)); then
				soak_ok=$(met "$((soak_rss_kib / 1024))" '<=' 200)
			fi
			row "server RSS after $soak_minted mints" "$((soak_rss_kib / 1024)) MiB (peak $((soak_hwm_kib / 1024)))" "<= 200 MiB at 1,000,000" "$soak_ok"
			if [[ -f $work/soak.json ]]; then
				row "soak mint tokens/s, p99, c=32" "$(printf '%.0f' "$(field soak ok_rps)") /s, $(field soak p99_ms) ms" "-" ""
			fi
		else
			row "server RSS after 1,000,000 mints" "not measured (BENCH_SOAK=0)" "<= 200 MiB at 1,000,000" ""
		fi
	else
		row "server RSS after the mint runs" "n/a (no /proc)" "<= 200 MiB at 1,000,000" ""
	fi
	row "errors in all runs" "$errors" "0" "$(met "$errors" '<=' 0)"
	echo
	echo "== Summary: issue 12's retention figures (live heap after a forced GC, each step a fresh server)"
	row "step" "live heap: idle -> end" "goal" "met (12 s later: NATS block caches expired)"
	local n label over
	for n in soak revoke publish idempotent; do
		case $n in
		soak) label="$SOAK_TOKENS mints" ;;
		revoke) label="${BENCH_REVOKE_CYCLES:-100000} mint+revoke, past expiry" ;;
		publish) label="${BENCH_PUBLISH_EVENTS:-10000} failed deliveries ${BENCH_PUBLISH_KIB:-64} KB" ;;
		idempotent) label="${BENCH_IDEMPOTENT_POSTS:-100000} idempotent POSTs, past ret." ;;
		esac
		if [[ -z ${heap_after[$n]:-} ]]; then
			row "$label" "not measured (skipped)" "within 64 MiB of idle" ""
			continue
		fi
		over=$(awk -v a="${heap_after[$n]}" -v i="${heap_idle[$n]}" 'BEGIN { printf "%+.1f", a - i }')
		local ok
		ok=$(met "$over" '<=' 64)
		if [[ ${heap_wait[$n]:-} == timeout ]]; then
			ok="NO (retention did not finish)"
		fi
		local later
		later=$(awk -v a="${heap_settled[$n]}" -v i="${heap_idle[$n]}" 'BEGIN { printf "%s MiB (%+.1f)", a, a - i }')
		row "$label" "${heap_idle[$n]} -> ${heap_after[$n]} MiB ($over)" "within 64 MiB of idle" "$ok ($later)"
	done
	echo
	echo "== Summary: issue 5's figures (webhooks: publish at c=32 to a receiver of bench's own on loopback)"
	local dps p50 p99
	dps=$(sed -n 's/.*"deliveries_per_s":\([^,}]*\).*/\1/p' "$work/deliver-c32.json")
	p50=$(sed -n 's/.*"delivery_p50_ms":\([^,}]*\).*/\1/p' "$work/deliver-c32.json")
	p99=$(sed -n 's/.*"delivery_p99_ms":\([^,}]*\).*/\1/p' "$work/deliver-c32.json")
	row "deliveries/s" "$(printf '%.0f' "${dps:-0}")" ">= 5000" "$(met "${dps:-0}" '>=' 5000)"
	row "event-to-delivery p50 / p99" "${p50:-?} / ${p99:-?} ms" "p50 < 10 ms" "$(met "${p50:-999}" '<=' 10)"
	local d1 l1
	d1=$(sed -n 's/.*"deliveries_per_s":\([^,}]*\).*/\1/p' "$work/deliver-c1.json")
	l1=$(sed -n 's/.*"delivery_p50_ms":\([^,}]*\).*/\1/p' "$work/deliver-c1.json")
	row "at c=1: deliveries/s, p50" "$(printf '%.0f' "${d1:-0}") /s, ${l1:-?} ms" "p50 < 10 ms" "$(met "${l1:-999}" '<=' 10)"
	echo
	echo "== Summary: issue 14's figures (the code flow without a browser; a code step is authorize + exchange; ES256 ID tokens unless said)"
	if [[ -f $work/code-c32.json ]]; then
		for n in code-c1 code-c32 code-c32-rs256 refresh-c1 refresh-c32 login-c32 hash-c1 hash-c8; do
			case $n in
			code-c32-rs256) label="authorize+exchange/s, c=32, RS256 ID tokens" ;;
			code-*) label="authorize+exchange/s, c=${n#code-c}" ;;
			refresh-*) label="refresh rotations/s, c=${n#refresh-c}" ;;
			login-*) label="login page GETs/s, c=${n#login-c}" ;;
			hash-*) label="argon2id hashes/s (bound GOMAXPROCS), c=${n#hash-c}" ;;
			esac
			[[ -f $work/$n.json ]] || continue
			# Issue 14's throughput goals, at c=32.
			local goal=""
			case $n in
			code-c32) goal=3000 ;;
			refresh-c32) goal=5000 ;;
			login-c32) goal=10000 ;;
			esac
			if [[ -n $goal ]]; then
				row "$label" "$(printf '%.0f' "$(field "$n" ok_rps)") /s, p50 $(field "$n" p50_ms) / p99 $(field "$n" p99_ms) ms" ">= $goal /s" "$(met "$(field "$n" ok_rps)" '>=' "$goal")"
			else
				row "$label" "$(printf '%.0f' "$(field "$n" ok_rps)") /s, p50 $(field "$n" p50_ms) / p99 $(field "$n" p99_ms) ms" "-" ""
			fi
		done
	else
		row "code flow" "not measured (BENCH_CODE=0)" "-" ""
	fi
	graphql_summary
	proxy_summary
	echo
	echo "== Summary: issue 6's figures (projection replay from the log, go test -bench Replay; 100,000 events)"
	if [[ -s $work/gobench.txt ]]; then
		local n
		for n in ReplayMemory ReplayMemoryMints ReplayPostgres ReplayPostgresMints; do
			local eps goal
			eps=$(awk -v b="Benchmark$n-" 'index($1, b) == 1 { for (i = 1; i < NF; i++) if ($(i + 1) == "events/s") print $i }' "$work/gobench.txt")
			case $n in
			ReplayMemory*) goal=100000 ;;
			*) goal=20000 ;;
			esac
			case $n in
			*Mints) label="typical log (token mints)" ;;
			*) label="worst case (every event rewrites)" ;;
			esac
			case $n in
			ReplayMemory*) label="into memory, $label" ;;
			*) label="into PostgreSQL, $label" ;;
			esac
			row "$label" "${eps:-?} events/s" ">= $goal" "$(met "${eps:-0}" '>=' "$goal")"
		done
	else
		row "replay" "n/a (BENCH_GO=0)" "" ""
	fi
	echo
	echo "== Summary: cold start (issue 7)"
	row "ready with 100,000 apps in the log" "${cold_ms:-?} ms (server CPU ${cold_cpu:-?} ms, RSS ${cold_rss:-?} MiB)" "<= 2000 ms" "$(met "${cold_ms:-99999}" '<=' 2000)"
}

# cold_start seeds a fresh data dir with 100,000 apps, starts a server on
# it and measures the time until /readyz answers 200, and its RSS then.
cold_start() {
	echo
	echo "== cold start with 100,000 apps in the log"
	"$BIN" bench seed --data-dir "$work/cold" --apps "${BENCH_COLD_APPS:-100000}"
	port=$(free_port)
	local key t0 t1
	key=$(head -c 32 /dev/urandom | base64)
	t0=$(date +%s%N)
	env GATEHOUSE_ADDR="127.0.0.1:$port" GATEHOUSE_ISSUER="http://127.0.0.1:$port" GATEHOUSE_DATA_DIR="$work/cold" \
		GATEHOUSE_MASTER_KEY="$key" GATEHOUSE_BOOTSTRAP_CLIENT_ID="$CLIENT_ID" GATEHOUSE_BOOTSTRAP_CLIENT_SECRET="$CLIENT_SECRET" \
		GATEHOUSE_LOG_LEVEL=warn "$BIN" serve >"$work/cold.out" 2>"$work/cold.log" &
	server_pid=$!
	server_out=$work/cold.out server_log=$work/cold.log
	wait_ready
	t1=$(date +%s%N)
	cold_ms=$(((t1 - t0) / 1000000))
	cold_cpu=$(proc_cpu_ms)
	cold_rss=$(($(proc_kib VmRSS) / 1024))
	echo "ready in $cold_ms ms, server CPU $cold_cpu ms, RSS $cold_rss MiB"
	stop_server
}

load_before=$(loadavg)
echo "gatehouse bench: $("$BIN" version | head -n 1), $(nproc) CPUs, load average $load_before"
# The OAuth endpoints' limits stay on (their bookkeeping is part of the
# mint figures), but one client's budget is raised above what two cores
# serve: introspection at c=32 passed the default 25,000/s once its
# checks were cached, and the figure measured the budget (429s). The
# platform API's per-client budget (1,000/s by default) is lifted, or it
# would answer most of the deliver runs' publishes 429 and the
# deliveries/s figure would measure it.
start_server GATEHOUSE_RATE_PLATFORM=0 GATEHOUSE_RATE_CLIENT=1000000
load mint-c1 mint 1
load mint-c32 mint 32
rss_kib=$(proc_kib VmRSS)
hwm_kib=$(proc_kib VmHWM)
minted=$(tokens_minted)
echo
echo "server RSS after the mint runs: $((${rss_kib:-0} / 1024)) MiB (VmRSS), peak $((${hwm_kib:-0} / 1024)) MiB (VmHWM), $minted tokens minted (warmups included)"
load introspect-c32 introspect 32
load jwks-c32 jwks 32
load healthz-c32 healthz 32
# Deliveries before the scenarios below: graphql's 50 apps each subscribe
# a webhook to bench's event type at a closed port, so every publish
# after them would also fan out to 50 failing deliveries and their retries
# (measured: 173 deliveries/s at c=32 after them, 4,091/s before).
load deliver-c1 deliver 1
load deliver-c32 deliver 32
if [[ ${BENCH_CODE:-1} != 0 ]]; then
	load code-c1 code 1
	load code-c32 code 32
	# The same with RS256 ID tokens (the server's default for an app that
	# names no id_token_signed_response_alg; bench's app names ES256).
	load code-c32-rs256 code 32 --id-token-alg RS256
	load refresh-c1 refresh 1
	load refresh-c32 refresh 32
	load login-c32 login 32 && load hash-c1 password-hash 1 && load hash-c8 password-hash 8
fi
[[ ${BENCH_GRAPHQL:-1} == 0 ]] || { load graphql-c32 graphql 32 && load graphql-rest-c32 graphql-rest 32; }
# Issue 16: the credential proxy against the same upstream directly, in one run each (BENCH_PROXY=0 skips):
# proxy loads an upstream API (checks the provider token, answers 1 KiB of JSON), proxy-noop a handler
# that does nothing (the proxy's worst case: a whole second HTTP exchange against none).
# With nginx installed, each also loads nginx in front of the same upstream (start_reference_proxy).
# Each run is BENCH_PROXY_ROUNDS rounds (default 4) of the three loads in turn (direct, nginx, the
# proxy; bench --rounds), so that the machine's drift during a run weighs on all three alike.
proxy_flags+=(--rounds "${BENCH_PROXY_ROUNDS:-4}")
[[ ${BENCH_PROXY:-1} == 0 ]] || { start_reference_proxy && load proxy-c1 proxy 1 "${proxy_flags[@]}" &&
	load proxy-c32 proxy 32 "${proxy_flags[@]}" && load proxy-noop-c1 proxy-noop 1 "${proxy_flags[@]}" &&
	load proxy-noop-c32 proxy-noop 32 "${proxy_flags[@]}"; }
if [[ ${BENCH_VAULT:-1} != 0 ]]; then load vault-refresh-c1 vault-refresh 1; load vault-refresh-c8 vault-refresh 8; fi
stop_server
if [[ ${BENCH_SOAK:-1} != 0 ]]; then
	soak
	stop_server
fi
if [[ ${BENCH_REVOKE:-1} != 0 ]]; then
	retention_step revoke "mint+revoke cycles at c=32" revoke retention \
		--concurrency 32 --requests "${BENCH_REVOKE_CYCLES:-100000}" -- \
		GATEHOUSE_ACCESS_TOKEN_TTL=1m GATEHOUSE_REVOCATION_GRACE=1s
fi
if [[ ${BENCH_PUBLISH:-1} != 0 ]]; then
	retention_step publish "events of ${BENCH_PUBLISH_KIB:-64} KiB at c=8 to a receiver answering 500" publish deliveries \
		--concurrency 8 --requests "${BENCH_PUBLISH_EVENTS:-10000}" --event-kib "${BENCH_PUBLISH_KIB:-64}" -- \
		GATEHOUSE_WEBHOOK_RETRY_SCHEDULE=1s GATEHOUSE_RATE_EXEMPT="$CLIENT_ID"
fi
if [[ ${BENCH_IDEMPOTENT:-1} != 0 ]]; then
	retention_step idempotent "POST /v1/events with an Idempotency-Key each at c=32" idempotent retention \
		--concurrency 32 --requests "${BENCH_IDEMPOTENT_POSTS:-100000}" -- \
		GATEHOUSE_IDEMPOTENCY_RETENTION=10s GATEHOUSE_RATE_EXEMPT="$CLIENT_ID"
fi
# Issue 18: the console's apps list with 1,000 apps (BENCH_CONSOLE=0 skips).
if [[ ${BENCH_CONSOLE:-1} != 0 ]]; then rm -rf "$work/data"; start_server GATEHOUSE_RATE_LIMIT=false; load console-c32 console 32; echo "console pages/s (goal >= 2000): $(field console-c32 ok_rps)"; stop_server; fi
cold_start

go_status=0
if [[ ${BENCH_GO:-1} != 0 ]]; then
	echo
	echo "== Go micro-benchmarks: go test -run='^\$' -bench=. -benchmem ./..."
	"$GO" test -run='^$' -bench=. -benchmem ./... 2>&1 | grep -Ev '^(\?|PASS$)|no test files' | tee "$work/gobench.txt" || go_status=$?
fi
summary
if ((go_status != 0)); then
	echo "bench: the Go micro-benchmarks failed (see above)" >&2
	exit 1
fi
