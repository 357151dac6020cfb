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
#   GATEHOUSE_BIN   the binary (default ./bin/gatehouse; make bench builds it)
#   GO              the go command (default go)
#   BENCH_DURATION  measured time of each load run (default 8s)
#   BENCH_WARMUP    warmup of each load run, left out (default 1s)
#   BENCH_GO=0      skip the Go micro-benchmarks
#   BENCH_SOAK=0    skip the soak: a fresh server of its own minting at c=32
#                   until it has minted BENCH_SOAK_TOKENS (default 1000000)
#                   tokens, then its RSS (GOMEMLIMIT, when set, reaches the
#                   servers like any other variable)
#   BENCH_PPROF     host:port on loopback: the server serves net/http/pprof
#                   there (GATEHOUSE_DEBUG_PPROF) while the runs go on
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
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# free_port prints a loopback port nothing listens on.
free_port() {
	local p
	for _ in {1..100}; do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	echo "bench: no free loopback port found" >&2
	return 1
}

# http_get PATH prints the answer (status line, headers, body) of GET PATH
# on the server, or fails when nothing answers.
http_get() {
	(
		exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
		printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$1" >&3
		cat <&3
	) 2>/dev/null
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

start_server() {
	port=$(free_port)
	url=http://127.0.0.1:$port
	env GATEHOUSE_ADDR="127.0.0.1:$port" GATEHOUSE_ISSUER="$url" GATEHOUSE_DATA_DIR="$work/data" \
		GATEHOUSE_MASTER_KEY="$(head -c 32 /dev/urandom | base64)" \
		GATEHOUSE_BOOTSTRAP_CLIENT_ID="$CLIENT_ID" GATEHOUSE_BOOTSTRAP_CLIENT_SECRET="$CLIENT_SECRET" \
		GATEHOUSE_LOG_LEVEL=warn GATEHOUSE_DEBUG_PPROF="${BENCH_PPROF:-}" GATEHOUSE_WEBHOOK_ALLOW_PRIVATE=true \
		"$BIN" serve >"$work/server.out" 2>"$work/server.log" &
	server_pid=$!
	server_out=$work/server.out server_log=$work/server.log
	local t0=$SECONDS
	wait_ready
	echo "server: $(grep -m1 'listening on' "$work/server.out") (pid $server_pid), ready in about $((SECONDS - t0)) s"
	echo "        embedded NATS JetStream in a fresh $work/data, memory projections"
}

# load NAME SCENARIO CONCURRENCY runs one load and keeps its JSON as NAME.
load() {
	echo
	echo "== $1"
	"$BIN" bench --url "$url" --scenario "$2" --concurrency "$3" --duration "$DURATION" --warmup "$WARMUP" \
		--client-id "$CLIENT_ID" --client-secret "$CLIENT_SECRET" --json-out "$work/$1.json"
}

# field NAME KEY is a number from the JSON of load NAME.
field() {
	sed -n "s/.*\"$2\":\([^,}]*\).*/\1/p" "$work/$1.json"
}

# proc_kib KEY is a VmRSS-like line of the server's /proc status, in KiB.
proc_kib() {
	awk -v k="$1:" '$1 == k { print $2 }' "/proc/$server_pid/status" 2>/dev/null || true
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
	"$BIN" bench --url "$url" --scenario mint --concurrency 32 --requests "$SOAK_TOKENS" --warmup 0 --quiet \
		--client-id "$CLIENT_ID" --client-secret "$CLIENT_SECRET" --json-out "$work/soak.json"
	soak_minted=$(tokens_minted)
	soak_rss_kib=$(proc_kib VmRSS)
	soak_hwm_kib=$(proc_kib VmHWM)
	echo
	echo "server RSS after the soak: $((${soak_rss_kib:-0} / 1024)) MiB (VmRSS), peak $((${soak_hwm_kib:-0} / 1024)) MiB (VmHWM), $soak_minted tokens minted"
}

# tokens_minted is the number of 200 answers of the token endpoint.
tokens_minted() {
	http_get /metrics | awk -F' ' '/^gatehouse_http_request_duration_seconds_count\{.*route="\/v1\/oauth\/token".*status="200"/ { n += $2 } END { printf "%.0f", n }'
}

loadavg() { cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo n/a; }

# row FIGURE MEASURED GOAL MET prints one line of the summary.
row() { printf '  %-34s %-24s %-26s %s\n' "$1" "$2" "$3" "$4"; }

# met A OP B prints yes or NO for the comparison of two numbers.
met() { awk -v a="$1" -v b="$3" -v op="$2" 'BEGIN { ok = (op == ">=") ? a >= b : a <= b; print (ok ? "yes" : "NO") }'; }

summary() {
	local mint32 mint1 intro jwks health ratio rss_mib hwm_mib errors
	mint32=$(field mint-c32 ok_rps)
	mint1=$(field mint-c1 ok_rps)
	intro=$(field introspect-c32 ok_rps)
	jwks=$(field jwks-c32 ok_rps)
	health=$(field healthz-c32 ok_rps)
	ratio=$(awk -v m="$mint32" -v h="$health" 'BEGIN { printf "%.1f", (h > 0) ? 100 * m / h : 0 }')
	errors=0
	for n in mint-c1 mint-c32 introspect-c32 jwks-c32 healthz-c32 soak; do
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
	row "ready with 100,000 apps in the log" "${cold_ms:-?} ms (RSS ${cold_rss:-?} MiB)" "<= 2000 ms" "$(met "${cold_ms:-99999}" '<=' 2000)"
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
	cold_rss=$(($(proc_kib VmRSS) / 1024))
	echo "ready in $cold_ms ms, RSS $cold_rss MiB"
	stop_server
}

load_before=$(loadavg)
echo "gatehouse bench: $("$BIN" version | head -n 1), $(nproc) CPUs, load average $load_before"
start_server
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
load deliver-c1 deliver 1
load deliver-c32 deliver 32
stop_server
if [[ ${BENCH_SOAK:-1} != 0 ]]; then
	soak
	stop_server
fi
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
