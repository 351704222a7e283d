#!/usr/bin/env bash
# Destroys and undefines vnuma test guests. Only ever touches our own domains
# (vnuma-e2e-* / vnuma-demo-*); idempotent.
# Usage: down.sh NAME...          the named guests
#        down.sh --prefix PREFIX  every defined domain whose name starts with PREFIX
#                                 (PREFIX must itself start with vnuma-e2e- or vnuma-demo-)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/common.sh"
names=()
if [[ ${1:-} == --prefix ]]; then
  prefix=${2:?--prefix needs a value}
  [[ $prefix =~ ^vnuma-(e2e|demo)- ]] || vm_die "prefix '$prefix' is not vnuma-e2e-* or vnuma-demo-*"
  while read -r n; do
    [[ -n $n && $n == "$prefix"* ]] && names+=("$n")
  done < <(vm_virsh list --all --name)
else
  names=("$@")
fi
for n in "${names[@]}"; do
  vm_remove "$n"
  echo "down: $n removed"
done
