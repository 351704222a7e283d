# expected_files <package>: the regular files a vnuma package must contain, sorted; sourced
# after lib.sh. One list for both formats: the deb and the rpm install the same tree.
expected_files() {
  local pkg=$1 config
  config=$(config_of "$pkg")
  {
    echo "/lib/systemd/system/$pkg.service"
    echo "/usr/sbin/$pkg"
    echo "/usr/share/man/man8/$pkg.8.gz"
    if [[ $pkg == vnuma-broker ]]; then
      echo "/usr/bin/vnumactl"
      echo "/usr/bin/vnuma-sim"
      echo "/usr/share/man/man1/vnumactl.1.gz"
      echo "/usr/share/man/man1/vnuma-sim.1.gz"
      echo "/usr/share/vnuma/vnuma-sim-plot.py"
    fi
    [[ -n $config ]] && echo "$config"
    echo "/usr/share/doc/$pkg/changelog.Debian.gz"
    echo "/usr/share/doc/$pkg/copyright"
    echo "/usr/share/doc/$pkg/packaging.md"
    echo "/usr/share/lintian/overrides/$pkg"
  } | sort
}
