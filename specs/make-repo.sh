#!/bin/sh
# Creates specs/hello-release.git, a bare repository holding the
# project in hello-release/ as one commit tagged v1.0. Names and dates are
# fixed, so the commit id is the same on every machine; the specs pin it.
# Prints the commit id. Safe to run again.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo="$here/hello-release.git"
if git --git-dir "$repo" rev-parse -q --verify 'refs/tags/v1.0^{commit}' 2>/dev/null; then
    exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# No user or system git config may change the commit (signing, hooks, ...).
export HOME="$tmp" GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME="Release Manager" GIT_AUTHOR_EMAIL="rm@example.org"
export GIT_COMMITTER_NAME="Release Manager" GIT_COMMITTER_EMAIL="rm@example.org"
export GIT_AUTHOR_DATE="@1747699200 +0000" GIT_COMMITTER_DATE="@1747699200 +0000"
git -c init.defaultBranch=main init -q "$tmp/work"
cp "$here"/hello-release/* "$tmp/work/"
chmod 644 "$tmp"/work/*
git -C "$tmp/work" add -A
git -C "$tmp/work" commit -q -m "hello 1.0"
git -C "$tmp/work" tag -a -m "hello 1.0" v1.0
git clone -q --bare "$tmp/work" "$tmp/hello-release.git"
rm -rf "$repo"
mv "$tmp/hello-release.git" "$repo"
git --git-dir "$repo" rev-parse 'v1.0^{commit}'
