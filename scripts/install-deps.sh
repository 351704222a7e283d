#!/usr/bin/env bash
# Installs everything vnuma needs to build, test, package and run its test VMs.
# Idempotent: safe to run again. Debian 12 (bookworm), as root.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

build_deps=(
  build-essential cmake ninja-build pkg-config git
  libcgroup-dev libvirt-dev libzmq3-dev cppzmq-dev libprotobuf-dev protobuf-compiler
  libspdlog-dev libfmt-dev libgtest-dev libgmock-dev libbenchmark-dev
  libtomlplusplus-dev nlohmann-json3-dev libcli11-dev libnuma-dev libxml2-dev
  clang libclang-rt-14-dev
)
vm_deps=(
  qemu-system-x86 qemu-utils libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients
  linux-image-amd64 busybox-static cpio kmod
)
pkg_deps=(rpm lintian debootstrap e2fsprogs systemd dpkg-dev file)
tool_deps=(python3 python3-matplotlib procps util-linux iproute2)

missing=()
for p in "${build_deps[@]}" "${vm_deps[@]}" "${pkg_deps[@]}" "${tool_deps[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${#missing[@]} packages: ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "install-deps: all packages present"
fi
