#!/usr/bin/env bash
# Starts the local services the tests use, when they are installed here and
# not running: PostgreSQL on 127.0.0.1:5432 and NATS with JetStream on
# 127.0.0.1:4222 (the commands of the go-svc machines); installs Chromium
# for the browser tests when it is missing. A service that
# already answers is left alone, so running this twice is harmless.
#
# A service that cannot be started is an error, so `make test` fails rather
# than skip the tests that need it. A developer without them opts out
# explicitly with GATEHOUSE_SKIP_SERVICES=1: then it is a warning, and the
# tests that need a missing service skip, saying so.
set -uo pipefail

failed=0

warn() {
	echo "services.sh: $*" >&2
	failed=1
}

# up PORT: something accepts TCP connections on 127.0.0.1:PORT.
up() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# wait_up PORT: poll for up to 10 seconds.
wait_up() {
	for _ in $(seq 1 100); do
		up "$1" && return 0
		sleep 0.1
	done
	return 1
}

start_postgres() {
	up 5432 && return 0
	if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ ! -d /etc/postgresql ]; then
		warn "PostgreSQL is not running on 127.0.0.1:5432 and pg_ctlcluster is not installed"
		return 0
	fi
	for version in /etc/postgresql/*/; do
		pg_ctlcluster --skip-systemctl-redirect "$(basename "$version")" main start || true
	done
	wait_up 5432 || warn "PostgreSQL did not come up on 127.0.0.1:5432"
}

start_nats() {
	up 4222 && return 0
	if [ ! -x /usr/sbin/nats-server ] || ! command -v start-stop-daemon >/dev/null 2>&1; then
		warn "NATS is not running on 127.0.0.1:4222 and /usr/sbin/nats-server is not installed"
		return 0
	fi
	start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
		-a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
	wait_up 4222 || warn "NATS did not come up on 127.0.0.1:4222"
}

# ensure_chromium: the browser tests (e2e/idp_test.go) drive headless
# Chromium (Debian package chromium); install it when it is missing.
ensure_chromium() {
	command -v chromium >/dev/null 2>&1 && return 0
	if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null && return 0
	fi
	warn "chromium is not installed (apt-get install -y chromium)"
}

start_postgres
start_nats
ensure_chromium
if [ "$failed" = 1 ]; then
	if [ "${GATEHOUSE_SKIP_SERVICES:-0}" = 1 ]; then
		echo "services.sh: GATEHOUSE_SKIP_SERVICES=1: the tests that need them will skip" >&2
	else
		echo "services.sh: set GATEHOUSE_SKIP_SERVICES=1 to run the tests without them (they skip)" >&2
		exit 1
	fi
fi
exit 0
