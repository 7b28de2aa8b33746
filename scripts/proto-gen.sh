#!/usr/bin/env bash
# The protobuf contract's tooling: proto/ (buf module root) -> TypeScript via buf + ts-proto.
#
#   scripts/proto-gen.sh gen       regenerate packages/auth-adapter-grpc/src/gen (npm run proto:gen)
#   scripts/proto-gen.sh lint      buf lint + fail if the generated code is stale (npm run proto:lint)
#   scripts/proto-gen.sh check     only the staleness check
#   scripts/proto-gen.sh breaking  buf breaking against the base branch (npm run proto:breaking)
#
# Everything runs from node_modules (buf ships its binary in @bufbuild/buf; ts-proto is the
# LOCAL plugin node_modules/.bin/protoc-gen-ts_proto named in buf.gen.yaml): no protoc, no
# network. `proto:breaking` compares the working tree with the committed base branch
# (PROTO_BREAKING_BASE, default `main`) and skips, successfully, when the base has no proto yet.
set -euo pipefail

cd "$(dirname "$0")/.."
BUF=node_modules/.bin/buf
GEN_DIR=packages/auth-adapter-grpc/src/gen
PROTO_FILE=proto/ibex/auth/v1/auth.proto

if [ ! -x "$BUF" ] || [ ! -x node_modules/.bin/protoc-gen-ts_proto ]; then
  echo "proto: buf or protoc-gen-ts_proto missing from node_modules; run npm ci first" >&2
  exit 1
fi

gen() {
  "$BUF" generate
  echo "proto: generated $GEN_DIR"
}

lint() {
  "$BUF" lint
  echo "proto: buf lint clean"
}

check() {
  local tmp
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  "$BUF" generate --output "$tmp"
  if ! diff -r "$GEN_DIR" "$tmp/$GEN_DIR" >/dev/null; then
    diff -ru "$GEN_DIR" "$tmp/$GEN_DIR" | head -n 40 >&2 || true
    echo "proto: $GEN_DIR is stale; run npm run proto:gen and commit the result" >&2
    return 1
  fi
  echo "proto: generated code is up to date"
}

breaking() {
  local base="${PROTO_BREAKING_BASE:-main}"
  if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    echo "proto: not a git checkout; skipping buf breaking"
    return 0
  fi
  # A local branch first; CI checkouts often only have the remote-tracking one.
  local rev against
  if git rev-parse --verify --quiet "refs/heads/$base" >/dev/null; then
    rev="$base"
    against=".git#branch=$base"
  elif git rev-parse --verify --quiet "refs/remotes/origin/$base" >/dev/null; then
    rev="origin/$base"
    against=".git#ref=origin/$base"
  else
    echo "proto: no branch '$base' (local or origin/) to compare with; skipping buf breaking"
    return 0
  fi
  if ! git cat-file -e "$rev:$PROTO_FILE" 2>/dev/null; then
    echo "proto: '$rev' does not contain $PROTO_FILE yet (new contract); skipping buf breaking"
    return 0
  fi
  # With buf.yaml committed on the base, buf reads the module layout (root `proto`) from it;
  # before that, point buf at the module root directly so file paths line up.
  if ! git cat-file -e "$rev:buf.yaml" 2>/dev/null; then
    against="$against,subdir=proto"
  fi
  "$BUF" breaking --against "$against"
  echo "proto: no breaking changes against $rev"
}

case "${1:-gen}" in
  gen) gen ;;
  lint) lint && check ;;
  check) check ;;
  breaking) breaking ;;
  *)
    echo "usage: $0 [gen|lint|check|breaking]" >&2
    exit 2
    ;;
esac
