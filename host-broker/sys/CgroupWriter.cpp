#include "host-broker/sys/CgroupWriter.hpp"

#include <libcgroup.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace vnuma::sys {
namespace {

std::once_flag gInitOnce;
int gInitRc = 0;

std::string where(const std::string& controller, const std::string& cgroup,
                  const std::string& file) {
  std::string c = cgroup.empty() || cgroup.front() != '/' ? "/" + cgroup : cgroup;
  if (c.size() > 1 && c.back() == '/') c.pop_back();
  return controller + ":" + c + (c == "/" ? "" : "/") + file;
}

// Maps a libcgroup return code to our error.
Error cgError(int rc, const std::string& what) {
  int err = rc == ECGOTHER ? cgroup_get_last_errno() : 0;
  if (rc == ECGROUPNOTEXIST || rc == ECGROUPVALUENOTEXIST || err == ENOENT)
    return Error(Errc::kNotFound, what + ": no such cgroup or file", err);
  if (rc == ECGROUPNOTMOUNTED || rc == ECGROUPSUBSYSNOTMOUNTED)
    return Error(Errc::kUnavailable, what + ": controller not mounted");
  if (rc == ECGOTHER) return Error(Errc::kSystem, what, err);
  return Error(Errc::kSystem, what + ": " + cgroup_strerror(rc));
}

}  // namespace

Result<std::unique_ptr<LibcgroupWriter>> LibcgroupWriter::create() {
  std::call_once(gInitOnce, [] { gInitRc = cgroup_init(); });
  if (gInitRc != 0)
    return Error(Errc::kUnavailable,
                 std::string("libcgroup init failed: ") + cgroup_strerror(gInitRc));
  return std::unique_ptr<LibcgroupWriter>(new LibcgroupWriter());
}

Result<std::string> LibcgroupWriter::mountPoint(const std::string& controller) {
  char* mp = nullptr;
  int rc = cgroup_get_subsys_mount_point(controller.c_str(), &mp);
  if (rc != 0 || mp == nullptr)
    return Error(Errc::kUnavailable, "cgroup controller '" + controller + "' is not mounted");
  std::string s(mp);
  std::free(mp);
  return s;
}

Result<std::string> LibcgroupWriter::read(const std::string& controller, const std::string& cgroup,
                                          const std::string& file) {
  std::string what = "reading " + where(controller, cgroup, file);
  // libcgroup locates the hierarchy; the single file is read directly (cgroup_get_cgroup would
  // read every file of every controller of the group).
  auto mp = mountPoint(controller);
  if (!mp) return std::move(mp).error().context(what);
  std::string p = *mp + "/" + cgroup + "/" + file;
  std::ifstream in(p);
  if (!in) {
    int err = errno;
    if (err == ENOENT) return Error(Errc::kNotFound, what + ": no such cgroup or file", err);
    return Error(Errc::kSystem, what, err);
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string v = ss.str();
  while (!v.empty() && (v.back() == '\n' || v.back() == ' ')) v.pop_back();
  return v;
}

Result<void> LibcgroupWriter::write(const std::string& controller, const std::string& cgroup,
                                    const std::string& file, const std::string& value) {
  std::string what = "writing " + where(controller, cgroup, file) + " = " + value;
  struct cgroup* cg = cgroup_new_cgroup(cgroup.c_str());
  if (cg == nullptr) return Error(Errc::kSystem, what + ": cgroup_new_cgroup failed");
  struct cgroup_controller* ctl = cgroup_add_controller(cg, controller.c_str());
  int rc = ctl == nullptr ? ECGINVAL : cgroup_add_value_string(ctl, file.c_str(), value.c_str());
  if (rc == 0) rc = cgroup_modify_cgroup(cg);
  cgroup_free(&cg);
  if (rc != 0) return cgError(rc, what);
  return okResult();
}

void FaultyCgroupWriter::failWrites(const std::string& file, int errnum, unsigned times) {
  std::lock_guard lock(mu_);
  faults_.push_back({true, file, errnum, times});
}

void FaultyCgroupWriter::failReads(const std::string& file, int errnum, unsigned times) {
  std::lock_guard lock(mu_);
  faults_.push_back({false, file, errnum, times});
}

void FaultyCgroupWriter::clear() {
  std::lock_guard lock(mu_);
  faults_.clear();
}

unsigned FaultyCgroupWriter::writes() const {
  std::lock_guard lock(mu_);
  return writes_;
}

std::optional<int> FaultyCgroupWriter::take(bool write, const std::string& file) {
  std::lock_guard lock(mu_);
  for (auto it = faults_.begin(); it != faults_.end(); ++it) {
    if (it->write != write || (!it->file.empty() && it->file != file)) continue;
    int e = it->errnum;
    if (--it->remaining == 0) faults_.erase(it);
    return e;
  }
  if (write) ++writes_;
  return std::nullopt;
}

Result<std::string> FaultyCgroupWriter::read(const std::string& controller,
                                             const std::string& cgroup, const std::string& file) {
  if (auto e = take(false, file))
    return Error(Errc::kSystem, "reading " + where(controller, cgroup, file) + " (injected)", *e);
  return inner_.read(controller, cgroup, file);
}

Result<void> FaultyCgroupWriter::write(const std::string& controller, const std::string& cgroup,
                                       const std::string& file, const std::string& value) {
  if (auto e = take(true, file))
    return Error(Errc::kSystem,
                 "writing " + where(controller, cgroup, file) + " = " + value + " (injected)", *e);
  return inner_.write(controller, cgroup, file, value);
}

}  // namespace vnuma::sys
