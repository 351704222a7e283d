#include "guest-agent/testutil/TestUtil.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spdlog/sinks/ostream_sink.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "guest-agent/sys/Fs.hpp"
#include "guest-agent/sys/Proc.hpp"

namespace vnuma::agent::test {

namespace fs = std::filesystem;

TempDir::TempDir() {
  char tmpl[] = "/tmp/vnuma-agent-test-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

void TempDir::write(const std::string& rel, const std::string& content) const {
  writeAbsolute((fs::path(path_) / rel).string(), content);
}

void TempDir::writeAbsolute(const std::string& path, const std::string& content) {
  const fs::path p = path;
  fs::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::trunc);
  out << content;
}

std::string TempDir::read(const std::string& rel) const {
  auto r = readFile(joinPath(path_, rel));
  return r ? r.value() : std::string("<missing>");
}

void TempDir::mkdir(const std::string& rel) const { fs::create_directories(fs::path(path_) / rel); }

CapturedLog::CapturedLog() : stream(std::make_shared<std::ostringstream>()) {
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(*stream);
  logger = std::make_shared<spdlog::logger>("agent.test", sink);
  logger->set_level(spdlog::level::debug);
  logger->set_pattern("%l %v");
}

CpuSet cpusAllowed(pid_t pid) {
  auto text = readFile("/proc/" + std::to_string(pid) + "/status");
  if (!text) return {};
  const auto at = text->find("Cpus_allowed_list:");
  if (at == std::string::npos) return {};
  auto end = text->find('\n', at);
  std::string v = text->substr(at + 18, end - at - 18);
  while (!v.empty() && (v.front() == '\t' || v.front() == ' ')) v.erase(v.begin());
  auto set = CpuSet::parseList(v);
  return set ? set.value() : CpuSet{};
}

namespace {

int g_reportFd = -1;
bool g_busy = false;

[[noreturn]] void childLoop() {
  for (;;) {
    if (g_busy) {
      timespec start{}, now{};
      clock_gettime(CLOCK_MONOTONIC, &start);
      do {
        clock_gettime(CLOCK_MONOTONIC, &now);
      } while ((now.tv_sec - start.tv_sec) * 1000000000L + (now.tv_nsec - start.tv_nsec) <
               1000000L);
      timespec nap{0, 9000000L};
      nanosleep(&nap, nullptr);
    } else {
      pause();
    }
  }
}

void onUsr1(int) {
  const pid_t g = fork();
  if (g == 0) {
    g_reportFd = -1;
    childLoop();
  }
  if (g_reportFd >= 0) (void)!::write(g_reportFd, &g, sizeof g);
}

}  // namespace

Child::Child(const std::vector<std::string>& procsFiles, bool busy, unsigned lifetimeSec) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    ::close(fds[0]);
    g_reportFd = fds[1];
    g_busy = busy;
    for (const auto& f : procsFiles) {
      if (!writeExisting(f, std::to_string(getpid()))) _exit(3);
    }
    struct sigaction sa {};
    sa.sa_handler = onUsr1;
    sigaction(SIGUSR1, &sa, nullptr);
    alarm(lifetimeSec);  // never outlive a crashed test by long; SIGALRM kills
    childLoop();
  }
  ::close(fds[1]);
  readFd_ = fds[0];
  // Wait until the child has joined its cgroups (its cgroup line changes), bounded to 2 s.
  for (int i = 0; i < 200 && !procsFiles.empty(); ++i) {
    auto text = readFile(procsFiles.front());
    if (text && text->find(std::to_string(pid_) + "\n") != std::string::npos) break;
    usleep(10000);
  }
}

pid_t Child::spawnGrandchild() {
  ::kill(pid_, SIGUSR1);
  pollfd p{readFd_, POLLIN, 0};
  if (::poll(&p, 1, 2000) != 1) return -1;
  pid_t g = -1;
  if (::read(readFd_, &g, sizeof g) != sizeof g) return -1;
  grandchildren_.push_back(g);
  return g;
}

Child::~Child() {
  for (pid_t g : grandchildren_) ::kill(g, SIGKILL);  // reparented to init/subreaper, which reaps
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  for (pid_t g : grandchildren_) {
    for (int i = 0; i < 100 && ::kill(g, 0) == 0; ++i) {
      // A zombie counts as alive for kill(0); stop when /proc says it is a zombie or gone.
      auto st = readFile("/proc/" + std::to_string(g) + "/stat");
      if (!st || st->find(") Z") != std::string::npos) break;
      usleep(10000);
    }
  }
  if (readFd_ >= 0) ::close(readFd_);
}

namespace {
std::atomic<int> g_sandboxCounter{0};
const char* kCpusetMount = "/sys/fs/cgroup/cpuset";
const char* kCpuMount = "/sys/fs/cgroup/cpu";

void killAndRemove(const std::string& dir, const std::string& parentTasks) {
  auto kids = listDir(dir, true);
  if (kids)
    for (const auto& k : kids.value()) killAndRemove(joinPath(dir, k), parentTasks);
  for (int attempt = 0; attempt < 50; ++attempt) {
    auto text = readFile(joinPath(dir, "tasks"));
    auto tids = text ? parsePidList(text.value(), "tasks")
                     : Result<std::vector<pid_t>>(std::vector<pid_t>{});
    if (tids && tids->empty()) break;
    if (tids)
      for (pid_t t : tids.value()) {
        // Only tasks our tests spawned can be here; still, never kill ourselves.
        if (t == getpid()) {
          (void)writeExisting(parentTasks, std::to_string(t));
          continue;
        }
        ::kill(t, SIGKILL);
      }
    usleep(20000);
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
  }
  ::rmdir(dir.c_str());
}
}  // namespace

RealCgroupSandbox::RealCgroupSandbox() {
  if (geteuid() != 0) {
    why_ = "not root";
    return;
  }
  if (!pathExists(std::string(kCpusetMount) + "/cpuset.cpus") ||
      !pathExists(std::string(kCpuMount) + "/cpu.cfs_quota_us")) {
    why_ = "no cgroup v1 cpuset and cpu hierarchies at /sys/fs/cgroup";
    return;
  }
  name_ = "/vnuma-test-" + std::to_string(getpid()) + "-" + std::to_string(g_sandboxCounter++);
  if (::mkdir(cpusetDir().c_str(), 0755) != 0 || ::mkdir(cpuDir().c_str(), 0755) != 0) {
    why_ = "cannot create " + name_;
    return;
  }
  auto cpus = readTrimmed(std::string(kCpusetMount) + "/cpuset.cpus");
  auto mems = readTrimmed(std::string(kCpusetMount) + "/cpuset.mems");
  if (!cpus || !mems || !writeExisting(cpusetDir() + "/cpuset.cpus", cpus.value()) ||
      !writeExisting(cpusetDir() + "/cpuset.mems", mems.value())) {
    why_ = "cannot initialise the sandbox cpuset";
    return;
  }
  available_ = true;
}

RealCgroupSandbox::~RealCgroupSandbox() {
  if (name_.empty()) return;
  killAndRemove(cpusetDir(), std::string(kCpusetMount) + "/tasks");
  killAndRemove(cpuDir(), std::string(kCpuMount) + "/tasks");
}

std::string RealCgroupSandbox::cpusetDir(const std::string& rel) const {
  return joinPath(joinPath(kCpusetMount, name_), rel);
}
std::string RealCgroupSandbox::cpuDir(const std::string& rel) const {
  return joinPath(joinPath(kCpuMount, name_), rel);
}

void RealCgroupSandbox::makeGroup(const std::string& rel) const {
  const std::string d = cpusetDir(rel);
  ::mkdir(d.c_str(), 0755);
  const std::string parent = d.substr(0, d.rfind('/'));
  auto cpus = readTrimmed(parent + "/cpuset.cpus");
  auto mems = readTrimmed(parent + "/cpuset.mems");
  if (cpus) (void)writeExisting(d + "/cpuset.cpus", cpus.value());
  if (mems) (void)writeExisting(d + "/cpuset.mems", mems.value());
  ::mkdir(cpuDir(rel).c_str(), 0755);
}

std::vector<std::string> RealCgroupSandbox::procsFiles(const std::string& rel) const {
  return {joinPath(cpusetDir(rel), "cgroup.procs"), joinPath(cpuDir(rel), "cgroup.procs")};
}

}  // namespace vnuma::agent::test
