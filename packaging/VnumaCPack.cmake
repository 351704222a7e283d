# CPack settings for the vnuma-agent and vnuma-broker packages (DEB and RPM, one build).
# Included from packaging/CMakeLists.txt after vnuma_package_component() set
# VNUMA_<COMP>_DEB_EXTRA / _CONFIGS / _SCRIPTS. The version comes from project() only.

set(CPACK_PACKAGE_NAME "vnuma")
set(CPACK_PACKAGE_VENDOR "vnuma")
set(CPACK_PACKAGE_CONTACT "${VNUMA_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_HOMEPAGE_URL "${VNUMA_HOMEPAGE}")
# No CPACK_PACKAGE_DESCRIPTION_SUMMARY: CPackDeb would prepend it to every component's
# description; each component has its own synopsis (first line) below.
set(CPACK_RESOURCE_FILE_LICENSE "${PROJECT_SOURCE_DIR}/LICENSE")
set(CPACK_PACKAGING_INSTALL_PREFIX "${VNUMA_PACKAGE_PREFIX}")
set(CPACK_GENERATOR "DEB;RPM")
set(CPACK_STRIP_FILES ON)
set(CPACK_COMPONENTS_ALL agent broker)
set(CPACK_OUTPUT_FILE_PREFIX "${PROJECT_BINARY_DIR}/packages")
set(CPACK_WARN_ON_ABSOLUTE_INSTALL_DESTINATION OFF)  # /etc/vnuma and the unit dir are absolute

set(CPACK_COMPONENT_AGENT_DISPLAY_NAME "vnuma guest agent")
set(CPACK_COMPONENT_BROKER_DISPLAY_NAME "vnuma host broker and vnumactl")
set(agent_summary "vnuma guest agent: confines tasks to the vCPUs the host broker grants")
set(agent_description
"The vnuma agent runs inside a Full vNUMA guest. It reports CPU usage and
pressure to the vnuma broker on the host over CURVE-encrypted ZeroMQ and
applies the grants it receives: cgroup cpusets and CPU quotas for every task,
IRQ and unbound workqueue affinity. Without a grant it never grows.")
set(broker_summary "vnuma host broker: lends exclusive pCPUs and node memory to VMs")
set(broker_description
"The vnuma broker runs on a KVM/libvirt host. It keeps a ledger of which VM
holds which physical CPU and how much memory per NUMA node, never lending the
same pCPU to two VMs, rebalances by demand, drives libvirt (pinning, vCPU
weights, virtio-mem) and serves an admin API used by vnumactl.")

# --- DEB -------------------------------------------------------------------------------------
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE "${VNUMA_PACKAGE_RELEASE}")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${VNUMA_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION "admin")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "${VNUMA_HOMEPAGE}")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_AGENT_PACKAGE_NAME "vnuma-agent")
set(CPACK_DEBIAN_BROKER_PACKAGE_NAME "vnuma-broker")
set(CPACK_DEBIAN_AGENT_DESCRIPTION "${agent_summary}\n${agent_description}")
set(CPACK_DEBIAN_BROKER_DESCRIPTION "${broker_summary}\n${broker_description}")
set(CPACK_DEBIAN_BROKER_PACKAGE_RECOMMENDS "libvirt-daemon-system")
# vnuma-sim --plot runs /usr/share/vnuma/vnuma-sim-plot.py with python3 + matplotlib.
set(CPACK_DEBIAN_BROKER_PACKAGE_SUGGESTS "python3-matplotlib")
set(CPACK_DEBIAN_AGENT_PACKAGE_CONTROL_EXTRA "${VNUMA_AGENT_DEB_EXTRA}")
set(CPACK_DEBIAN_BROKER_PACKAGE_CONTROL_EXTRA "${VNUMA_BROKER_DEB_EXTRA}")

# --- RPM -------------------------------------------------------------------------------------
set(CPACK_RPM_COMPONENT_INSTALL ON)
set(CPACK_RPM_FILE_NAME RPM-DEFAULT)
set(CPACK_RPM_PACKAGE_RELEASE "${VNUMA_PACKAGE_RELEASE}")
set(CPACK_RPM_PACKAGE_LICENSE "Apache-2.0")
set(CPACK_RPM_PACKAGE_URL "${VNUMA_HOMEPAGE}")
set(CPACK_RPM_PACKAGE_GROUP "System Environment/Daemons")
set(CPACK_RPM_PACKAGE_AUTOREQ ON)
set(CPACK_RPM_PACKAGE_AUTOPROV ON)
set(CPACK_RPM_AGENT_PACKAGE_NAME "vnuma-agent")
set(CPACK_RPM_BROKER_PACKAGE_NAME "vnuma-broker")
set(CPACK_RPM_AGENT_PACKAGE_SUMMARY "${agent_summary}")
set(CPACK_RPM_BROKER_PACKAGE_SUMMARY "${broker_summary}")
set(CPACK_RPM_AGENT_PACKAGE_DESCRIPTION "${agent_description}")
set(CPACK_RPM_BROKER_PACKAGE_DESCRIPTION "${broker_description}")
set(CPACK_PACKAGE_RELOCATABLE OFF)  # fixed paths: units and scripts name /usr/sbin, /etc/vnuma
# No /usr/lib/.build-id links: they would clash between packages built from one tree.
set(CPACK_RPM_SPEC_MORE_DEFINE "%define _build_id_links none")
# Directories owned by the base system, not by us.
set(CPACK_RPM_EXCLUDE_FROM_AUTO_FILELIST_ADDITION
  /lib /lib/systemd /lib/systemd/system /usr/sbin /usr/lib/systemd /usr/lib/systemd/system
  /usr/share/lintian /usr/share/lintian/overrides /usr/share/man /usr/share/man/man1 /usr/share/man/man8)
foreach(comp AGENT BROKER)
  set(CPACK_RPM_${comp}_POST_INSTALL_SCRIPT_FILE "${VNUMA_${comp}_SCRIPTS}/postinst")
  set(CPACK_RPM_${comp}_PRE_UNINSTALL_SCRIPT_FILE "${VNUMA_${comp}_SCRIPTS}/prerm")
  set(CPACK_RPM_${comp}_POST_UNINSTALL_SCRIPT_FILE "${VNUMA_${comp}_SCRIPTS}/postrm")
  set(filelist "")
  foreach(config IN LISTS VNUMA_${comp}_CONFIGS)
    list(APPEND filelist "%config(noreplace) ${config}")
  endforeach()
  if(filelist)
    set(CPACK_RPM_${comp}_USER_FILELIST "${filelist}")
  endif()
endforeach()

include(CPack)
