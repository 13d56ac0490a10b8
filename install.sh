#!/usr/bin/env bash
# Install `kubectl llm` for the current user: its own virtualenv, `kubectl-llm` symlinked onto PATH.
# Idempotent: a second run only refreshes the package; --force rebuilds the virtualenv from scratch.
set -euo pipefail

PREFIX="${KUBECTL_LLM_HOME:-$HOME/.local/share/kubectl-llm}"
BIN_DIR="${KUBECTL_LLM_BIN:-$HOME/.local/bin}"
PYTHON="${PYTHON:-python3}"
FORCE=0
LINK=1
SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

usage() {
  cat <<EOF
Usage: ./install.sh [--force] [--no-link] [--help]

Installs kubectl llm from this checkout into its own virtualenv and links kubectl-llm into a directory on
PATH, so that 'kubectl llm ...' works. Checks that helm >= 3.8 and kubectl are installed.

Options:
  --force     delete and rebuild the virtualenv
  --no-link   do not link kubectl-llm into KUBECTL_LLM_BIN (the krew wrapper execs the venv's copy itself)
  -h, --help  show this help

Environment:
  KUBECTL_LLM_HOME  virtualenv location   (default: ~/.local/share/kubectl-llm)
  KUBECTL_LLM_BIN   where the link goes    (default: ~/.local/bin)
  PYTHON            Python >= 3.11 to use  (default: python3)
EOF
}

log_info() { printf '==> %s\n' "$*"; }
log_warn() { printf 'warning: %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$1" >&2; [ -n "${2:-}" ] && printf 'hint: %s\n' "$2" >&2; exit 1; }
trap 'printf "\ninterrupted\n" >&2; exit 130' INT

parse_args() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --force) FORCE=1 ;;
      --no-link) LINK=0 ;;
      -h|--help) usage; exit 0 ;;
      *) usage >&2; die "unknown option: $1" ;;
    esac
    shift
  done
}

check_python() {
  command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found" "install Python >= 3.11 (e.g. apt install python3 python3-venv)"
  "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
    || die "$("$PYTHON" --version 2>&1) is too old; kubectl llm needs Python >= 3.11" "set PYTHON=/path/to/python3.11"
  "$PYTHON" -c 'import venv, ensurepip' 2>/dev/null \
    || die "the Python venv module is missing" "install it, e.g. apt install python3-venv"
}

check_tools() {
  if command -v helm >/dev/null 2>&1; then
    local v
    v="$(helm version --template '{{ .Version }}' 2>/dev/null || true)"
    v="${v#v}"
    local major="${v%%.*}" rest="${v#*.}"
    local minor="${rest%%.*}"
    if [ -z "$v" ] || [ "$major" -lt 3 ] 2>/dev/null || { [ "$major" -eq 3 ] && [ "$minor" -lt 8 ]; }; then
      log_warn "helm ${v:-of unknown version} found; kubectl llm needs helm >= 3.8 (https://helm.sh/docs/intro/install/)"
    else
      log_info "helm v$v found"
    fi
  else
    log_warn "helm not found: install helm >= 3.8 (https://helm.sh/docs/intro/install/, or: curl -fsSL https://raw.githubusercontent.com/helm/helm/main/scripts/get-helm-3 | bash)"
  fi
  if command -v kubectl >/dev/null 2>&1; then
    log_info "kubectl found"
  else
    log_warn "kubectl not found: install it (https://kubernetes.io/docs/tasks/tools/); 'kubectl-llm' works alone meanwhile"
  fi
}

make_venv() {
  if [ "$FORCE" = 1 ] && [ -d "$PREFIX" ]; then
    log_info "removing $PREFIX (--force)"
    rm -rf "$PREFIX"
  fi
  if [ ! -x "$PREFIX/bin/python" ]; then
    log_info "creating virtualenv $PREFIX"
    mkdir -p "$(dirname "$PREFIX")"
    "$PYTHON" -m venv "$PREFIX"
  fi
  log_info "installing kubectl-llm from $SRC"
  "$PREFIX/bin/python" -m pip install --quiet --upgrade pip
  # A regular (non-editable) install: the charts travel inside the package (pyproject force-include).
  "$PREFIX/bin/python" -m pip install --quiet --upgrade "$SRC"
}

link_binary() {
  mkdir -p "$BIN_DIR"
  ln -sfn "$PREFIX/bin/kubectl-llm" "$BIN_DIR/kubectl-llm"
  log_info "linked $BIN_DIR/kubectl-llm"
  case ":$PATH:" in
    *":$BIN_DIR:"*) ;;
    *) log_warn "$BIN_DIR is not on PATH; add: export PATH=\"$BIN_DIR:\$PATH\"" ;;
  esac
}

main() {
  parse_args "$@"
  check_python
  check_tools
  make_venv
  local exe="$PREFIX/bin/kubectl-llm"
  if [ "$LINK" = 1 ]; then
    link_binary
    exe="$BIN_DIR/kubectl-llm"
  fi
  "$exe" version >/dev/null || die "the installed kubectl-llm does not run" "re-run with --force"
  log_info "done: try 'kubectl llm plan Qwen/Qwen3-8B'"
}

main "$@"
