# Shared helpers for scripts/vm/*.sh (sourced, not run).
VNUMA_VIRSH=${VNUMA_VIRSH:-virsh -c qemu:///system}
vm_virsh() { timeout 60 $VNUMA_VIRSH "$@"; }
vm_die() { echo "${0##*/}: $*" >&2; exit 1; }
# Only domains named like ours are ever touched: vnuma-e2e-* (tests) and vnuma-demo-* (demo).
vm_is_ours() { [[ $1 =~ ^vnuma-(e2e|demo)-[A-Za-z0-9_.-]+$ ]]; }
vm_exists() { vm_virsh dominfo "$1" >/dev/null 2>&1; }
vm_remove() {  # destroy (if running) + undefine one of our domains; idempotent
  local name=$1
  vm_is_ours "$name" || vm_die "refusing to touch domain '$name' (not vnuma-e2e-*/vnuma-demo-*)"
  vm_exists "$name" || return 0
  vm_virsh destroy "$name" >/dev/null 2>&1 || true
  vm_virsh undefine "$name" >/dev/null 2>&1 || true
  ! vm_exists "$name" || vm_die "could not remove domain $name"
}
