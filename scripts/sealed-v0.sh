#!/bin/sh
# Writes e2e/testdata/sealed-v0 again: builds gatehouse at COMMIT (default:
# the last commit before the sealing package, the release whose sealed
# formats the fixture keeps) in a temporary worktree, and runs
# TestWriteSealedV0 of this tree's e2e suite with that binary.
set -eu
COMMIT=${1:-6b4ddbce4d930f6897f860d142ff0b255304edca}
root=$(git rev-parse --show-toplevel)
tmp=$(mktemp -d)
trap 'git -C "$root" worktree remove --force "$tmp/src" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
git -C "$root" worktree add --detach "$tmp/src" "$COMMIT" >/dev/null
(cd "$tmp/src" && go build -o "$tmp/gatehouse-old" ./cmd/gatehouse)
cd "$root"
E2E_WRITE_SEALED_V0="$tmp/gatehouse-old" E2E_WRITE_SEALED_V0_COMMIT="$COMMIT" \
	go test ./e2e -run '^TestWriteSealedV0$' -count=1 -v
