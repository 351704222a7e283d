#pragma once
// The broker's host-cgroup seam: read and write one control file of one cgroup.
//
//   CgroupWriter         interface; paths are relative to the controller's hierarchy root
//                        ("machine/qemu-1-vm.libvirt-qemu/vcpu0"), files are control files
//                        ("cpu.shares", "cpu.weight").
//   LibcgroupWriter      the real one, through libcgroup (v1 hierarchies and the v2 unified one).
//   FaultyCgroupWriter   wraps another writer and fails chosen writes/reads with an errno
//                        (EBUSY, EINVAL, ENOENT...) for tests.
//
// Errors: a cgroup or file that does not exist -> Errc::kNotFound; the controller is not
// mounted -> Errc::kUnavailable; any other failure -> Errc::kSystem with errno.
// Messages name the controller, the cgroup and the file: "writing cpu:/a/b/cpu.shares: ...".
// Thread-safety: LibcgroupWriter may be called from any thread (libcgroup is initialised once,
// each call builds its own cgroup struct); FaultyCgroupWriter guards its table with a mutex.

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/core/Result.hpp"

namespace vnuma::sys {

class CgroupWriter {
 public:
  virtual ~CgroupWriter() = default;
  // The content of the file without the trailing newline.
  virtual Result<std::string> read(const std::string& controller, const std::string& cgroup,
                                   const std::string& file) = 0;
  virtual Result<void> write(const std::string& controller, const std::string& cgroup,
                             const std::string& file, const std::string& value) = 0;
};

class LibcgroupWriter final : public CgroupWriter {
 public:
  // Initialises libcgroup (once per process); kUnavailable when it cannot find cgroup mounts.
  static Result<std::unique_ptr<LibcgroupWriter>> create();

  Result<std::string> read(const std::string& controller, const std::string& cgroup,
                           const std::string& file) override;
  Result<void> write(const std::string& controller, const std::string& cgroup,
                     const std::string& file, const std::string& value) override;

  // Where libcgroup found `controller` mounted ("/sys/fs/cgroup/cpu"); kUnavailable if not.
  static Result<std::string> mountPoint(const std::string& controller);

 private:
  LibcgroupWriter() = default;
};

class FaultyCgroupWriter final : public CgroupWriter {
 public:
  explicit FaultyCgroupWriter(CgroupWriter& inner) : inner_(inner) {}

  // The next `times` writes (or reads) whose file name equals `file` ("" = any file) fail
  // with Errc::kSystem and `errnum`, without reaching the inner writer.
  void failWrites(const std::string& file, int errnum, unsigned times = 1);
  void failReads(const std::string& file, int errnum, unsigned times = 1);
  void clear();
  unsigned writes() const;  // writes that reached the inner writer

  Result<std::string> read(const std::string& controller, const std::string& cgroup,
                           const std::string& file) override;
  Result<void> write(const std::string& controller, const std::string& cgroup,
                     const std::string& file, const std::string& value) override;

 private:
  struct Fault {
    bool write = true;
    std::string file;
    int errnum = 0;
    unsigned remaining = 0;
  };
  std::optional<int> take(bool write, const std::string& file);

  CgroupWriter& inner_;
  mutable std::mutex mu_;
  std::vector<Fault> faults_;
  unsigned writes_ = 0;
};

}  // namespace vnuma::sys
