#!/usr/bin/env bash
# proxy-ceiling.sh: the credential proxy (issue 16) against other proxies,
# on the same upstream, the same machine and the same load generator.
#
# Issue 16's goal is proxied throughput >= 50 % of the upstream called
# directly. The proxied path is two HTTP exchanges on the same cores as
# the load generator and the upstream, so any proxy is bounded below
# 100 %; this script measures where other proxies stand:
#   direct     wrk -> upstream (the baseline)
#   gatehouse  wrk -> GET /v1/proxy/{credential}/api/items -> upstream
#              (bearer check, grant check, provider token injected)
#   nginx      wrk -> nginx proxy_pass (keepalive upstream, the header set)
#              -> upstream; left out when nginx is not installed
#   httputil   wrk -> net/http/httputil.ReverseProxy -> upstream
# The upstream is `gatehouse bench --scenario proxy`'s (scripts/proxyref):
# a constant-time check of the injected token, 1 KiB of JSON. wrk (C,
# one thread) is the load generator for all four, so no client's cost
# favours one of them.
#
# Needs wrk (Debian: apt-get install wrk); nginx optional (nginx-light).
# Environment: ROUNDS (3), DURATION (8s), CONCURRENCY ("1 32"),
# PORT_BASE (18080: four ports from it), NGINX_WORKERS (auto),
# GATEHOUSE_BIN (bin/gatehouse, built by make build).
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3} DURATION=${DURATION:-8s} CONCURRENCY=${CONCURRENCY:-"1 32"}
P=${PORT_BASE:-18080} NGINX_WORKERS=${NGINX_WORKERS:-auto}
BIN=${GATEHOUSE_BIN:-bin/gatehouse}
command -v wrk >/dev/null || { echo "proxy-ceiling: needs wrk (apt-get install wrk)" >&2; exit 1; }
[[ -x $BIN ]] || make build >/dev/null
work=$(mktemp -d)
go build -o "$work/proxyref" ./scripts/proxyref

pids=()
cleanup() {
	[[ -f $work/nginx.pid ]] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

url=http://127.0.0.1:$P up=http://127.0.0.1:$((P + 1))
CID=bench CS=bench-secret-for-this-run-only-0123456789
env GATEHOUSE_ADDR=127.0.0.1:$P GATEHOUSE_ISSUER=$url GATEHOUSE_DATA_DIR="$work/data" \
	GATEHOUSE_MASTER_KEY="$(head -c 32 /dev/urandom | base64)" \
	GATEHOUSE_BOOTSTRAP_CLIENT_ID=$CID GATEHOUSE_BOOTSTRAP_CLIENT_SECRET=$CS GATEHOUSE_LOG_LEVEL=warn \
	GATEHOUSE_WEBHOOK_ALLOW_PRIVATE=true GATEHOUSE_RATE_PLATFORM=0 GATEHOUSE_RATE_CLIENT=1000000 \
	"$BIN" serve >"$work/server.out" 2>&1 &
pids+=($!)
for _ in $(seq 300); do curl -fs "$url/readyz" >/dev/null 2>&1 && break; sleep 0.1; done

# json KEY reads the first string member KEY of the JSON on stdin (the
# answers here put their top-level id first).
json() { grep -o "\"$1\":\"[^\"]*\"" | head -1 | cut -d'"' -f4; }
# api METHOD PATH BODY calls the platform API as the bootstrap admin.
api() { curl -fsS -X "$1" -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' -d "$3" "$url$2"; }

admin=$(curl -fsS -u "$CID:$CS" -d grant_type=client_credentials "$url/v1/oauth/token" | json access_token)
app=$(api POST /v1/platform/apps '{"name":"proxy ceiling","requested_scopes":["credentials:use"]}')
app_id=$(json id <<<"$app") app_cid=$(json client_id <<<"$app") app_cs=$(json client_secret <<<"$app")
api POST "/v1/platform/apps/$app_id/scope-decisions" '{"scope":"credentials:use","decision":"approve"}' >/dev/null
cred=$(api POST /v1/credentials "{\"name\":\"proxy ceiling\",\"provider\":\"custom\",\"grant_type\":\"client_credentials\",
	\"client_id\":\"$app_cid\",\"client_secret\":\"$app_cs\",\"token_url\":\"$url/v1/oauth/token\",\"scopes\":[],
	\"base_url\":\"$up\",\"grants\":[\"$app_id\"],\"exchangeable\":true}" | json id)
tok=$(curl -fsS -u "$app_cid:$app_cs" -d grant_type=client_credentials -d scope=credentials:use "$url/v1/oauth/token" | json access_token)
provider=$(curl -fsS -u "$app_cid:$app_cs" -d grant_type=urn:ietf:params:oauth:grant-type:token-exchange \
	-d subject_token="$tok" -d subject_token_type=urn:ietf:params:oauth:token-type:access_token -d resource="$cred" \
	"$url/v1/oauth/token" | json access_token)

"$work/proxyref" upstream "127.0.0.1:$((P + 1))" "Bearer $provider" >"$work/upstream.out" 2>&1 &
up_pid=$!
pids+=($up_pid)
"$work/proxyref" proxy "127.0.0.1:$((P + 2))" "$up" "Bearer $provider" >"$work/httputil.out" 2>&1 &
pids+=($!)
targets=("direct $up/api/items" "gatehouse $url/v1/proxy/$cred/api/items" "httputil http://127.0.0.1:$((P + 2))/api/items")
headers=("Authorization: Bearer $provider" "Authorization: Bearer $tok" "X-Unused: 1")
if command -v nginx >/dev/null; then
	cat >"$work/nginx.conf" <<NGINX
worker_processes $NGINX_WORKERS;
pid $work/nginx.pid;
error_log $work/nginx.err;
events { worker_connections 1024; }
http {
	access_log off;
	upstream api { server 127.0.0.1:$((P + 1)); keepalive 64; }
	server {
		listen 127.0.0.1:$((P + 3));
		location / {
			proxy_pass http://api;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_set_header Authorization "Bearer $provider";
		}
	}
}
NGINX
	nginx -c "$work/nginx.conf"
	targets+=("nginx http://127.0.0.1:$((P + 3))/api/items")
	headers+=("X-Unused: 1")
else
	echo "nginx not installed: left out"
fi
for i in "${!targets[@]}"; do
	for _ in $(seq 100); do
		[[ $(curl -s -o /dev/null -w '%{http_code}' -H "${headers[$i]}" "${targets[$i]#* }") == 200 ]] && break
		sleep 0.1
	done
done

echo "wrk -t1 -d$DURATION, $ROUNDS rounds, the four in turn; $(nproc) cores, $(uptime | sed 's/.*load/load/')"
printf '%-3s %-10s %-5s %12s %10s %10s %8s\n' c proxy round req/s p50 p99 of_direct
for c in $CONCURRENCY; do
	for r in $(seq "$ROUNDS"); do
		direct=""
		for i in "${!targets[@]}"; do
			name=${targets[$i]%% *} target=${targets[$i]#* }
			out=$(wrk -t1 -c"$c" -d"$DURATION" --latency -H "${headers[$i]}" "$target")
			if grep -q 'Non-2xx' <<<"$out"; then echo "$name: answers other than 2xx" >&2; exit 1; fi
			rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
			p50=$(awk '$1 == "50%" {print $2}' <<<"$out") p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
			[[ -z $direct ]] && direct=$rps
			printf '%-3s %-10s %-5s %12s %10s %10s %7.1f%%\n' "$c" "$name" "$r" "$rps" "$p50" "$p99" \
				"$(awk -v a="$rps" -v b="$direct" 'BEGIN {print 100 * a / b}')"
		done
	done
done
kill "$up_pid" && wait "$up_pid" 2>/dev/null || true
cat "$work/upstream.out"
