#!/usr/bin/env bash
# Build the krew archive of a release and point plugins/llm.yaml at it (version, uri, sha256, archive prefix).
#
# Usage: scripts/krew-release.sh VERSION [REF] [OUTDIR]
#   VERSION  the plugin version, e.g. v0.2.0 (krew wants a leading v)
#   REF      the git tree to pack (default: VERSION, i.e. the release tag; tests pass HEAD)
#   OUTDIR   where the archive goes (default: dist)
# Environment:
#   KREW_URI_BASE  where the archive will be downloaded from; the uri is $KREW_URI_BASE/$VERSION/<archive>
#                  (default: the GitLab release downloads of prp/kubectl-llm)
#   KREW_MANIFEST  the manifest to rewrite (default: plugins/llm.yaml)
#
# The archive is `git archive` of REF under the prefix kubectl-llm-VERSION/, plus packaging/krew/kubectl-llm at its
# root (the entry point krew links onto PATH). Upload it as a release asset unchanged: the manifest holds its sha256.
set -euo pipefail
cd "$(dirname "$0")/.."

version=${1:?usage: scripts/krew-release.sh VERSION [REF] [OUTDIR]}
ref=${2:-$version}
outdir=${3:-dist}
manifest=${KREW_MANIFEST:-plugins/llm.yaml}
uri_base=${KREW_URI_BASE:-https://gitlab.nrp-nautilus.io/prp/kubectl-llm/-/releases}

case $version in
  v[0-9]*.[0-9]*.[0-9]*) ;;
  *) echo "error: VERSION must look like v1.2.3 (krew's semver with a leading v), got '$version'" >&2; exit 2 ;;
esac
git rev-parse --verify --quiet "$ref^{tree}" >/dev/null \
  || { echo "error: '$ref' is not a git tree here; tag the release first (git tag $version)" >&2; exit 2; }

name=kubectl-llm-$version
archive=$outdir/$name.tar.gz
mkdir -p "$outdir"
git archive --format=tar.gz --prefix="$name/" --add-file=packaging/krew/kubectl-llm -o "$archive" "$ref"
sha=$(sha256sum "$archive" | cut -d' ' -f1)

python3 - "$manifest" "$version" "$uri_base/$version/downloads/$name.tar.gz" "$sha" "$name" <<'PY'
import re
import sys

path, version, uri, sha, name = sys.argv[1:]
text = open(path).read()
subs = [(r"(?m)^(  version: ).*$", rf"\g<1>{version}"),
        (r"(?m)^(      uri: ).*$", rf"\g<1>{uri}"),
        (r"(?m)^(      sha256: ).*$", rf'\g<1>"{sha}"'),
        (r'(?m)^(        - from: ).*$', rf'\g<1>"{name}/*"')]
for pattern, repl in subs:
    text, n = re.subn(pattern, repl, text)
    if n != 1:
        sys.exit(f"error: {path}: expected one line matching {pattern!r}, found {n}")
open(path, "w").write(text)
PY
echo "$archive sha256 $sha"
echo "$manifest now points at $uri_base/$version/downloads/$name.tar.gz"
