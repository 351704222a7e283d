# Shared helpers for the packaging tests; sourced by every tests/packaging/*.sh.
# Environment (set by ctest, see tests/packaging/CMakeLists.txt):
#   VNUMA_SOURCE_DIR, VNUMA_BINARY_DIR   the tree and the build being packaged
#   VNUMA_PACKAGE_DIR                     where build_packages.sh puts the packages
#   VNUMA_VM_CACHE                        debootstrap roots (kept between runs)
#   VNUMA_VERSION, VNUMA_RELEASE          version from project() and package release
#   VNUMA_AGENT_CONFIG, VNUMA_BROKER_CONFIG  installed config paths, empty when not shipped
set -euo pipefail

: "${VNUMA_SOURCE_DIR:?}" "${VNUMA_BINARY_DIR:?}" "${VNUMA_VERSION:?}" "${VNUMA_RELEASE:?}"
PKG_DIR=${VNUMA_PACKAGE_DIR:-$VNUMA_BINARY_DIR/packages}
BUMPED_DIR=$PKG_DIR/bumped
BUMPED_RELEASE=$((VNUMA_RELEASE + 1))
CACHE_DIR=${VNUMA_VM_CACHE:-$VNUMA_BINARY_DIR/vm-cache}
DEB_ARCH=$(dpkg --print-architecture)
RPM_ARCH=$(uname -m)

die() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "== $*"; }
ok() { echo "ok: $*"; }

# deb_file <package> [release] / rpm_file <package> [release]: path of a built package.
deb_file() {
  local rel=${2:-$VNUMA_RELEASE} dir=$PKG_DIR
  [[ $rel == "$VNUMA_RELEASE" ]] || dir=$BUMPED_DIR
  echo "$dir/${1}_${VNUMA_VERSION}-${rel}_${DEB_ARCH}.deb"
}
rpm_file() {
  local rel=${2:-$VNUMA_RELEASE} dir=$PKG_DIR
  [[ $rel == "$VNUMA_RELEASE" ]] || dir=$BUMPED_DIR
  echo "$dir/${1}-${VNUMA_VERSION}-${rel}.${RPM_ARCH}.rpm"
}
require_packages() {
  local f
  for f in "$@"; do [[ -f $f ]] || die "$f missing: run the packaging.build test first (ctest -R packaging)"; done
}

# config_of <package>: the config file the package ships (empty when none).
config_of() {
  case $1 in
    vnuma-agent) echo "${VNUMA_AGENT_CONFIG:-}" ;;
    vnuma-broker) echo "${VNUMA_BROKER_CONFIG:-}" ;;
  esac
}
synopsis_of() {
  case $1 in
    vnuma-agent) echo "vnuma guest agent:" ;;
    vnuma-broker) echo "vnuma host broker:" ;;
  esac
}
key_name_of() { echo "${1#vnuma-}"; }

# expect_contains <haystack> <needle> <what>: fixed-string match.
expect_contains() {
  grep -qF -- "$2" <<<"$1" || { echo "$1" >&2; die "$3: '$2' not found"; }
}
expect_not_contains() {
  if grep -qF -- "$2" <<<"$1"; then echo "$1" >&2; die "$3: unexpected '$2'"; fi
}

# A scratch directory under the build tree, removed on exit unless VNUMA_KEEP_WORK=1.
# Unmounts anything left mounted below it first.
make_workdir() {
  WORK=$(mktemp -d "$VNUMA_BINARY_DIR/pkgtest-$1.XXXXXX")
  trap cleanup_workdir EXIT
}
cleanup_workdir() {
  local rc=$?
  if [[ -n ${WORK:-} && -d $WORK ]]; then
    local m
    for m in $(awk -v w="$WORK" '$2 ~ "^"w {print $2}' /proc/mounts | sort -r); do umount -l "$m" || true; done
    if [[ ${VNUMA_KEEP_WORK:-0} == 1 || $rc != 0 && ${VNUMA_KEEP_FAILED:-0} == 1 ]]; then
      echo "kept $WORK"
    else
      rm -rf --one-file-system "$WORK"
    fi
  fi
  return $rc
}
