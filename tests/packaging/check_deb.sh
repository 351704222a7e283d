#!/usr/bin/env bash
# packaging.deb_metadata: control fields, file lists, conffiles and maintainer scripts of the
# .debs, and lintian without errors (overrides only in packaging/debian/lintian-overrides.in,
# each with its reason).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/expected_files.sh"

for pkg in vnuma-agent vnuma-broker; do
  deb=$(deb_file "$pkg")
  require_packages "$deb"
  step "$pkg: control fields"
  [[ $(dpkg-deb -f "$deb" Package) == "$pkg" ]] || die "$pkg: wrong Package"
  [[ $(dpkg-deb -f "$deb" Version) == "$VNUMA_VERSION-$VNUMA_RELEASE" ]] || die "$pkg: wrong Version $(dpkg-deb -f "$deb" Version)"
  [[ $(dpkg-deb -f "$deb" Architecture) == "$DEB_ARCH" ]] || die "$pkg: wrong Architecture"
  for field in Maintainer Homepage Description Section Priority; do
    [[ -n $(dpkg-deb -f "$deb" $field) ]] || die "$pkg: empty $field"
  done
  # shlibdeps: the binaries' shared libraries become Depends.
  depends=$(dpkg-deb -f "$deb" Depends)
  expect_contains "$depends" "libc6 (>=" "$pkg Depends (dpkg-shlibdeps)"
  if [[ $pkg == vnuma-agent ]]; then
    expect_contains "$depends" "libzmq5" "$pkg Depends (dpkg-shlibdeps)"
  else
    expect_contains "$depends" "libvirt0" "$pkg Depends (dpkg-shlibdeps)"
  fi
  synopsis=$(dpkg-deb -f "$deb" Description | sed -n 1p)
  [[ $synopsis == "$(synopsis_of "$pkg")"* ]] || die "$pkg synopsis: '$synopsis'"
  ok "$pkg $(dpkg-deb -f "$deb" Version): Depends: $depends"

  step "$pkg: files"
  actual=$(dpkg-deb -c "$deb" | awk '$1 !~ /^d/ {sub(/^\./, "", $6); print $6}' | sort)
  expected=$(expected_files "$pkg")
  [[ $actual == "$expected" ]] || die "$pkg file list differs (expected vs actual):
$(diff <(echo "$expected") <(echo "$actual"))"
  perms=$(dpkg-deb -c "$deb" | awk -v f="./usr/sbin/$pkg" '$6 == f {print $1" "$2}')
  [[ $perms == "-rwxr-xr-x root/root" ]] || die "$pkg: /usr/sbin/$pkg is '$perms'"
  ok "$(wc -l <<<"$actual") files as expected"

  step "$pkg: control archive"
  ctl=$(mktemp -d); dpkg-deb -e "$deb" "$ctl"
  for s in postinst prerm postrm; do
    [[ -x $ctl/$s ]] || die "$pkg: $s missing or not executable"
    sh -n "$ctl/$s" || die "$pkg: $s is not valid sh"
  done
  expect_contains "$(cat "$ctl/postinst")" "--generate-key" "$pkg postinst"
  expect_contains "$(cat "$ctl/postinst")" "systemctl enable" "$pkg postinst"
  expect_contains "$(cat "$ctl/prerm")" "systemctl stop" "$pkg prerm"
  config=$(config_of "$pkg")
  if [[ -n $config ]]; then
    [[ $(cat "$ctl/conffiles") == "$config" ]] || die "$pkg conffiles: '$(cat "$ctl/conffiles" 2>/dev/null)'"
    ok "conffiles: $config"
  else
    [[ ! -e $ctl/conffiles ]] || die "$pkg: conffiles without a config"
  fi
  rm -rf "$ctl"
done

step "lintian"
out=$(timeout 600 lintian --fail-on error --display-level '>=warning' "$(deb_file vnuma-agent)" "$(deb_file vnuma-broker)" 2>&1) ||
  { echo "$out"; die "lintian reports errors"; }
echo "$out"
if grep -q '^E:' <<<"$out"; then die "lintian errors"; fi
ok "lintian: no errors ($(grep -c '^W:' <<<"$out" || true) warnings)"
