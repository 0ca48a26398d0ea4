#!/usr/bin/env bash
# Checks what `make up` / `make destroy` need on the user's machine for STACK
# and names every missing piece at once, each message naming the make target:
#
#   scripts/preflight.sh up|destroy STACK
set -u
if [ $# -ne 2 ] || { [ "$1" != up ] && [ "$1" != destroy ]; }; then
  echo "usage: scripts/preflight.sh up|destroy STACK" >&2
  exit 2
fi
target=$1
stack=$2
stack_file="Pulumi.${stack}.yaml"
missing=0
say() { echo "make $target: $*" >&2; missing=1; }
need() {
  command -v "$1" >/dev/null 2>&1 || say "missing '$1': $2"
}
if [ ! -f "$stack_file" ]; then
  shopt -s nullglob
  stacks=()
  for file in Pulumi.*.yaml; do
    name=${file#Pulumi.}
    stacks+=("${name%.yaml}")
  done
  list=none
  if [ ${#stacks[@]} -gt 0 ]; then
    printf -v list '%s, ' "${stacks[@]}"
    list=${list%, }
  fi
  say "no stack file $stack_file (stacks: $list)"
  exit 1
fi
need pulumi "the Pulumi CLI runs the program (https://www.pulumi.com/docs/iac/download-install/)"
need kubectl "kubectl reaches Argo CD and Prometheus through port-forward"
if ! grep -Eq '^\s+mode:\s*existing\s*$' "$stack_file"; then
  need kind "stack $stack runs on a Kind cluster (https://kind.sigs.k8s.io/)"
  need docker "kind runs its node in Docker"
  if command -v docker >/dev/null 2>&1 && ! docker info >/dev/null 2>&1; then
    say "Docker is installed but its engine does not answer: start Docker"
  fi
fi
exit $missing
