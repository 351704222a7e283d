#!/usr/bin/env bash
# packaging.build: builds the binaries being packaged (if stale), then the .deb and .rpm of every
# component with cpack, plus the same packages with the release bumped by one (for the upgrade
# tests) in $PKG_DIR/bumped. Usage: build_packages.sh [target...]
source "$(dirname "$0")/lib.sh"

if (($#)); then
  step "building $*"
  timeout 1800 cmake --build "$VNUMA_BINARY_DIR" --target "$@" -j2
fi

rm -rf "$PKG_DIR"
mkdir -p "$PKG_DIR"
cd "$VNUMA_BINARY_DIR"
step "cpack -G DEB;RPM (release $VNUMA_RELEASE)"
timeout 600 cpack --config CPackConfig.cmake -G "DEB;RPM" -D CPACK_OUTPUT_FILE_PREFIX="$PKG_DIR" >"$PKG_DIR/cpack.log" 2>&1 ||
  { cat "$PKG_DIR/cpack.log"; die "cpack failed"; }
step "cpack -G DEB;RPM (bumped release $BUMPED_RELEASE)"
timeout 600 cpack --config CPackConfig.cmake -G "DEB;RPM" -D CPACK_OUTPUT_FILE_PREFIX="$BUMPED_DIR" \
  -D CPACK_DEBIAN_PACKAGE_RELEASE="$BUMPED_RELEASE" -D CPACK_RPM_PACKAGE_RELEASE="$BUMPED_RELEASE" \
  >"$BUMPED_DIR.log" 2>&1 || { cat "$BUMPED_DIR.log"; die "cpack (bumped) failed"; }

for pkg in vnuma-agent vnuma-broker; do
  for rel in "$VNUMA_RELEASE" "$BUMPED_RELEASE"; do
    f=$(deb_file "$pkg" "$rel"); [[ -s $f ]] || die "missing $f"; ok "$f"
    f=$(rpm_file "$pkg" "$rel"); [[ -s $f ]] || die "missing $f"; ok "$f"
  done
done
n=$(find "$PKG_DIR" -name '*.deb' -o -name '*.rpm' | wc -l)
[[ $n == 8 ]] || die "expected 8 packages, found $n: $(find "$PKG_DIR" -name '*.deb' -o -name '*.rpm')"
