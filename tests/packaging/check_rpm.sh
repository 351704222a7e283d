#!/usr/bin/env bash
# packaging.rpm_metadata: rpm -qpi / -qpl / --scripts / --configfiles / --requires of the .rpms,
# and `rpm -i --root <empty scratch> --nodeps` installing exactly the expected files. The
# scriptlets themselves run in packaging.rpm_install_upgrade (a root with a shell).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/expected_files.sh"
make_workdir rpm-metadata
export HOME=$WORK   # rpm on Debian keeps its default database under ~/.rpmdb

for pkg in vnuma-agent vnuma-broker; do
  rpm=$(rpm_file "$pkg")
  require_packages "$rpm"
  step "$pkg: rpm -qpi"
  info=$(rpm -qpi "$rpm" 2>/dev/null)
  echo "$info" | sed -n '1,20p'
  for want in "Name        : $pkg" "Version     : $VNUMA_VERSION" "Release     : $VNUMA_RELEASE" \
              "License     : Apache-2.0" "URL         : http" "Summary     : $(synopsis_of "$pkg")"; do
    expect_contains "$info" "$want" "$pkg rpm -qpi"
  done
  expect_not_contains "$info" "Relocations : /" "$pkg rpm -qpi (fixed paths, not relocatable)"

  step "$pkg: rpm -qpl"
  actual=$(rpm -qp --qf '[%{FILEMODES:perms} %{FILENAMES}\n]' "$rpm" 2>/dev/null | awk '$1 !~ /^d/ {print $2}' | sort)
  expected=$(expected_files "$pkg")
  [[ $actual == "$expected" ]] || die "$pkg file list differs (expected vs actual):
$(diff <(echo "$expected") <(echo "$actual"))"
  owned_dirs=$(rpm -qp --qf '[%{FILEMODES:perms} %{FILENAMES}\n]' "$rpm" 2>/dev/null | awk '$1 ~ /^d/ {print $2}')
  for d in /lib /lib/systemd /lib/systemd/system /usr/sbin /usr/bin /usr/share/lintian /usr/share/man/man8; do
    if grep -qx -- "$d" <<<"$owned_dirs"; then die "$pkg owns the system directory $d"; fi
  done
  ok "$(wc -l <<<"$actual") files as expected"

  step "$pkg: config files"
  config=$(config_of "$pkg")
  if [[ -n $config ]]; then
    [[ $(rpm -qp --configfiles "$rpm" 2>/dev/null) == "$config" ]] || die "$pkg --configfiles: $(rpm -qp --configfiles "$rpm" 2>/dev/null)"
    flags=$(rpm -qp --qf '[%{FILENAMES} %{FILEFLAGS:fflags}\n]' "$rpm" 2>/dev/null | awk -v f="$config" '$1 == f {print $2}')
    [[ $flags == *c* && $flags == *n* ]] || die "$pkg: $config is not %config(noreplace) (flags '$flags')"
    ok "$config is %config(noreplace)"
  fi

  step "$pkg: scriptlets"
  scripts=$(rpm -qp --scripts "$rpm" 2>/dev/null)
  expect_contains "$scripts" "postinstall scriptlet (using /bin/sh)" "$pkg --scripts"
  expect_contains "$scripts" "preuninstall scriptlet (using /bin/sh)" "$pkg --scripts"
  expect_contains "$scripts" "postuninstall scriptlet (using /bin/sh)" "$pkg --scripts"
  expect_contains "$scripts" "--generate-key" "$pkg %post"
  expect_contains "$scripts" "systemctl enable \"\$unit\"" "$pkg %post"
  expect_contains "$scripts" "systemctl stop \"\$unit\"" "$pkg %preun"
  ok "post/preun/postun present"

  step "$pkg: automatic requirements"
  reqs=$(rpm -qp --requires "$rpm" 2>/dev/null)
  expect_contains "$reqs" "libc.so.6()(64bit)" "$pkg autoreq"
  if [[ $pkg == vnuma-agent ]]; then lib=libzmq.so.5; else lib=libvirt.so.0; fi
  expect_contains "$reqs" "$lib" "$pkg autoreq"
  ok "requires $(grep -c . <<<"$reqs") capabilities, including $lib"

  step "$pkg: rpm -i --root <scratch> --nodeps"
  root=$WORK/root-$pkg
  mkdir -p "$root"
  out=$(timeout 120 rpm -i --root "$root" --dbpath /var/lib/rpm --nodeps --noscripts "$rpm" 2>&1) ||
    { echo "$out"; die "$pkg: rpm -i failed"; }
  installed=$(cd "$root" && find . -path ./var/lib/rpm -prune -o -type f -print | sed 's/^\.//' | sort)
  [[ $installed == "$expected" ]] || die "$pkg installed files differ (expected vs actual):
$(diff <(echo "$expected") <(echo "$installed"))"
  [[ -x $root/usr/sbin/$pkg ]] || die "$pkg: /usr/sbin/$pkg not executable"
  rpm -q --root "$root" --dbpath /var/lib/rpm "$pkg" >/dev/null || die "$pkg not in the scratch rpm database"
  rpm -V --root "$root" --dbpath /var/lib/rpm --nodeps "$pkg" || die "$pkg: rpm -V reports changes"
  ok "installed and verified in $root"
done
