#!/usr/bin/env bash
# Makes libvirtd + virtlogd available on qemu:///system without systemd (BRIEF section 5).
# Kept as the test-VM kit's entry point; the work is done by scripts/libvirt-setup.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
exec "$here/scripts/libvirt-setup.sh"
