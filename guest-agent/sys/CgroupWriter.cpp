#include "guest-agent/sys/CgroupWriter.hpp"

#include <libcgroup.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "guest-agent/sys/Fs.hpp"

namespace vnuma::agent {

// ---- FileCgroupWriter ----

Result<void> FileCgroupWriter::create(const std::string& dir, const std::string&,
                                      const CgroupValues& values) {
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
    return Error::fromErrno("cannot create cgroup " + dir);
  for (const auto& [file, value] : values)
    VNUMA_TRY_VOID(writeExisting(joinPath(dir, file), value));
  return okResult();
}

Result<void> FileCgroupWriter::setValue(const std::string& dir, const std::string&,
                                        const std::string& file, const std::string& value) {
  return writeExisting(joinPath(dir, file), value);
}

Result<void> FileCgroupWriter::attach(const std::string& dir, const std::string&, pid_t tid,
                                      bool v2) {
  return writeExisting(joinPath(dir, v2 ? "cgroup.procs" : "tasks"), std::to_string(tid));
}

// ---- LibcgroupWriter ----

namespace {

struct CgroupHandle {
  cgroup* cg = nullptr;
  explicit CgroupHandle(const std::string& name) : cg(cgroup_new_cgroup(name.c_str())) {}
  ~CgroupHandle() {
    if (cg != nullptr) cgroup_free(&cg);
  }
  CgroupHandle(const CgroupHandle&) = delete;
  CgroupHandle& operator=(const CgroupHandle&) = delete;
};

// A libcgroup handle for one cgroup with one controller attached.
struct Prepared {
  std::unique_ptr<CgroupHandle> handle;
  cgroup_controller* controller = nullptr;
};

Result<Prepared> prepare(const std::string& rel, const std::string& dir,
                         const std::string& controller) {
  Prepared p;
  p.handle = std::make_unique<CgroupHandle>(rel);
  if (p.handle->cg == nullptr)
    return Error(Errc::kSystem, "cgroup_new_cgroup failed for " + dir, ENOMEM);
  p.controller = cgroup_add_controller(p.handle->cg, controller.c_str());
  if (p.controller == nullptr)
    return Error(Errc::kSystem, "cgroup_add_controller(" + controller + ") failed for " + dir,
                 ENOMEM);
  return p;
}

Error libcgroupError(int rc, const std::string& what) {
  // ECGOTHER means "look at errno"; keep the kernel's errno so callers see EBUSY/EINVAL.
  const int e = rc == ECGOTHER ? cgroup_get_last_errno() : 0;
  if (e != 0) return Error(Errc::kSystem, what, e);
  // libcgroup itself refused (it does not know this mount/controller): no kernel errno.
  return Error(Errc::kUnavailable, what + ": libcgroup: " + cgroup_strerror(rc), 0);
}

}  // namespace

Result<std::unique_ptr<LibcgroupWriter>> LibcgroupWriter::create(Logger log) {
  const int rc = cgroup_init();
  if (rc != 0)
    return Error(Errc::kUnavailable,
                 std::string("libcgroup cgroup_init failed: ") + cgroup_strerror(rc));
  std::unique_ptr<LibcgroupWriter> w(new LibcgroupWriter());
  w->log_ = std::move(log);
  return w;
}

Result<std::string> LibcgroupWriter::relativeName(const std::string& dir,
                                                  const std::string& controller) const {
  char* mount = nullptr;
  const int rc = cgroup_get_subsys_mount_point(controller.c_str(), &mount);
  if (rc != 0 || mount == nullptr)
    return Error(Errc::kUnavailable,
                 "libcgroup knows no mount point for controller '" + controller + "'");
  std::string mp(mount);
  std::free(mount);
  while (mp.size() > 1 && mp.back() == '/') mp.pop_back();
  if (dir == mp) return std::string("/");
  if (dir.compare(0, mp.size() + 1, mp + "/") != 0)
    return Error(Errc::kInvalidArgument, "cgroup " + dir +
                                             " is not under libcgroup's mount point " + mp +
                                             " for controller '" + controller + "'");
  return dir.substr(mp.size());
}

Result<void> LibcgroupWriter::create(const std::string& dir, const std::string& controller,
                                     const CgroupValues& values) {
  auto r = createWithLibcgroup(dir, controller, values);
  if (r || !libcgroupRefused(r.error())) return r;
  noteFallback(r.error());
  return files_.create(dir, controller, values);
}

Result<void> LibcgroupWriter::createWithLibcgroup(const std::string& dir,
                                                  const std::string& controller,
                                                  const CgroupValues& values) {
  auto rel = relativeName(dir, controller);
  if (!rel) return std::move(rel).error();
  auto p = prepare(rel.value(), dir, controller);
  if (!p) return std::move(p).error();
  for (const auto& [file, value] : values) {
    const int rc = cgroup_add_value_string(p->controller, file.c_str(), value.c_str());
    if (rc != 0) return libcgroupError(rc, "cannot queue " + file + "=" + value + " for " + dir);
  }
  const int rc = cgroup_create_cgroup(p->handle->cg, 0);
  if (rc != 0)
    return libcgroupError(rc, "cannot create cgroup " + dir + " with " + controller + " values");
  return okResult();
}

Result<void> LibcgroupWriter::setValue(const std::string& dir, const std::string& controller,
                                       const std::string& file, const std::string& value) {
  if (controller.empty()) return files_.setValue(dir, controller, file, value);
  auto r = setWithLibcgroup(dir, controller, file, value);
  if (r || !libcgroupRefused(r.error())) return r;
  noteFallback(r.error());
  return files_.setValue(dir, controller, file, value);
}

Result<void> LibcgroupWriter::setWithLibcgroup(const std::string& dir,
                                               const std::string& controller,
                                               const std::string& file, const std::string& value) {
  auto rel = relativeName(dir, controller);
  if (!rel) return std::move(rel).error();
  auto p = prepare(rel.value(), dir, controller);
  if (!p) return std::move(p).error();
  int rc = cgroup_add_value_string(p->controller, file.c_str(), value.c_str());
  if (rc == 0) rc = cgroup_modify_cgroup(p->handle->cg);
  if (rc != 0) return libcgroupError(rc, "cannot write '" + value + "' to " + joinPath(dir, file));
  return okResult();
}

Result<void> LibcgroupWriter::attach(const std::string& dir, const std::string& controller,
                                     pid_t tid, bool v2) {
  // libcgroup 2.0.2 attaches through the v1 `tasks` file; on v2 the process is moved through
  // cgroup.procs directly, which is what the kernel interface defines for v2.
  if (v2) return files_.attach(dir, controller, tid, v2);
  auto rel = relativeName(dir, controller);
  if (!rel) {
    noteFallback(rel.error());
    return files_.attach(dir, controller, tid, v2);
  }
  auto p = prepare(rel.value(), dir, controller);
  if (!p) return std::move(p).error();
  const int rc = cgroup_attach_task_pid(p->handle->cg, tid);
  if (rc != 0)
    return libcgroupError(rc, "cannot move task " + std::to_string(tid) + " into " + dir);
  return okResult();
}

bool LibcgroupWriter::libcgroupRefused(const Error& e) {
  return e.code() == Errc::kUnavailable || (e.code() == Errc::kInvalidArgument && e.errnum() == 0);
}

void LibcgroupWriter::noteFallback(const Error& e) {
  if (fallbacks_++ == 0 && log_)
    log_->warn("libcgroup refused, writing cgroupfs directly reason=\"{}\"", e.describe());
}

std::unique_ptr<CgroupWriter> makeCgroupWriter(const std::string& fsRoot, const Logger& log) {
  if (fsRoot != "/") {
    log->info("cgroup writer=file reason=\"fs root {} is not /\"", fsRoot);
    return std::make_unique<FileCgroupWriter>();
  }
  auto lib = LibcgroupWriter::create(log);
  if (lib) return std::move(lib).value();
  log->warn("cgroup writer=file reason=\"{}\"", lib.error().describe());
  return std::make_unique<FileCgroupWriter>();
}

// ---- FaultInjectingCgroupWriter ----

void FaultInjectingCgroupWriter::failOn(std::string pathSubstring, int errnum, int remaining) {
  faults_.push_back({std::move(pathSubstring), errnum, remaining});
}

Result<void> FaultInjectingCgroupWriter::check(const std::string& path) {
  for (auto& f : faults_) {
    if (f.remaining == 0 || path.find(f.substring) == std::string::npos) continue;
    if (f.remaining > 0) --f.remaining;
    ++injected_;
    return Error(Errc::kSystem, "injected fault writing " + path, f.errnum);
  }
  return okResult();
}

Result<void> FaultInjectingCgroupWriter::create(const std::string& dir,
                                                const std::string& controller,
                                                const CgroupValues& values) {
  VNUMA_TRY_VOID(check(dir));
  return inner_.create(dir, controller, values);
}

Result<void> FaultInjectingCgroupWriter::setValue(const std::string& dir,
                                                  const std::string& controller,
                                                  const std::string& file,
                                                  const std::string& value) {
  VNUMA_TRY_VOID(check(joinPath(dir, file)));
  return inner_.setValue(dir, controller, file, value);
}

Result<void> FaultInjectingCgroupWriter::attach(const std::string& dir,
                                                const std::string& controller, pid_t tid, bool v2) {
  VNUMA_TRY_VOID(check(joinPath(dir, v2 ? "cgroup.procs" : "tasks")));
  return inner_.attach(dir, controller, tid, v2);
}

}  // namespace vnuma::agent
