// vnuma-load: the CPU/memory load, latency probe, rogue process and control channel used inside
// the e2e test guests. Linked statically where possible so it drops into a busybox initramfs.
// Every subcommand prints exactly one JSON object on stdout when it finishes (except `control`,
// which runs until killed) and exits non-zero with a message on stderr on bad input.
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/mempolicy.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "tests/e2e/loadtool/Control.hpp"
#include "tests/e2e/loadtool/Latency.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using vnuma::e2e::LatencySummary;

std::atomic<bool> gStop{false};

void onSignal(int) { gStop.store(true); }

void installStopHandlers() {
  struct sigaction sa {};
  sa.sa_handler = onSignal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
}

std::int64_t nowNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

timespec toTimespec(std::int64_t ns) {
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
  ts.tv_nsec = static_cast<long>(ns % 1'000'000'000);
  return ts;
}

std::vector<int> allowedCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    for (int c = 0; c < CPU_SETSIZE; ++c) {
      if (CPU_ISSET(c, &set)) {
        cpus.push_back(c);
      }
    }
  }
  return cpus;
}

bool pinSelf(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return sched_setaffinity(0, sizeof set, &set) == 0;
}

// ---- cpu -------------------------------------------------------------------------------------

int runCpu(unsigned threads, double seconds, unsigned duty, bool spread) {
  std::vector<int> cpus = allowedCpus();
  std::vector<std::uint64_t> loops(threads, 0);
  std::vector<std::thread> workers;
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  for (unsigned t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      if (spread && !cpus.empty()) {
        pinSelf(cpus[t % cpus.size()]);
      }
      volatile std::uint64_t sink = 0;
      std::uint64_t n = 0;
      const auto window = std::chrono::milliseconds(100);
      while (!gStop.load(std::memory_order_relaxed) && Clock::now() < end) {
        const auto windowStart = Clock::now();
        const auto busyUntil = windowStart + window * duty / 100;
        while (Clock::now() < busyUntil) {
          for (int i = 0; i < 20000; ++i) {
            sink = sink * 6364136223846793005ULL + 1442695040888963407ULL;
          }
          ++n;
        }
        if (duty < 100) {
          std::this_thread::sleep_until(windowStart + window);
        }
      }
      loops[t] = n;
    });
  }
  for (auto& w : workers) {
    w.join();
  }
  std::uint64_t total = 0;
  std::string per;
  for (auto l : loops) {
    total += l;
    per += (per.empty() ? "" : ",") + std::to_string(l);
  }
  std::printf(
      "{\"cmd\":\"cpu\",\"threads\":%u,\"seconds\":%.1f,\"duty\":%u,\"loops\":%llu,"
      "\"per_thread\":[%s]}\n",
      threads, seconds, duty, static_cast<unsigned long long>(total), per.c_str());
  return 0;
}

// ---- mem -------------------------------------------------------------------------------------

long sysMbind(void* addr, unsigned long len, int mode, const unsigned long* mask,
              unsigned long maxnode) {
  return syscall(SYS_mbind, addr, len, mode, mask, maxnode, 0UL);
}

// Counts, per guest node, how many of the pages in [base, base+bytes) live there (move_pages
// with a null target only queries).
std::vector<std::uint64_t> pagesPerNode(char* base, std::size_t bytes, std::size_t pageSize) {
  std::vector<std::uint64_t> perNode;
  constexpr std::size_t kChunk = 4096;
  std::vector<void*> pages;
  std::vector<int> status;
  for (std::size_t off = 0; off < bytes; off += kChunk * pageSize) {
    pages.clear();
    for (std::size_t p = off; p < bytes && pages.size() < kChunk; p += pageSize) {
      pages.push_back(base + p);
    }
    status.assign(pages.size(), -1);
    if (syscall(SYS_move_pages, 0, pages.size(), pages.data(), nullptr, status.data(), 0) != 0) {
      break;
    }
    for (int s : status) {
      if (s >= 0) {
        if (static_cast<std::size_t>(s) >= perNode.size()) {
          perNode.resize(static_cast<std::size_t>(s) + 1, 0);
        }
        ++perNode[static_cast<std::size_t>(s)];
      }
    }
  }
  return perNode;
}

int runMem(unsigned mib, int node, unsigned stepMib, unsigned stepMs, double holdSeconds,
           bool bind) {
  const std::size_t bytes = static_cast<std::size_t>(mib) << 20;
  void* mem = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) {
    std::fprintf(stderr, "vnuma-load mem: mmap of %u MiB failed: %s\n", mib, std::strerror(errno));
    return 1;
  }
  char* base = static_cast<char*>(mem);
  unsigned long mask = 1UL << node;
  if (sysMbind(base, bytes, bind ? MPOL_BIND : MPOL_PREFERRED, &mask, sizeof(mask) * 8) != 0) {
    std::fprintf(stderr, "vnuma-load mem: mbind to node %d failed: %s\n", node,
                 std::strerror(errno));
    munmap(mem, bytes);
    return 1;
  }
  const auto pageSize = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  const std::size_t step = static_cast<std::size_t>(stepMib) << 20;
  const auto started = Clock::now();
  std::size_t touched = 0;
  while (touched < bytes && !gStop.load()) {
    const std::size_t until = std::min(bytes, touched + step);
    for (std::size_t p = touched; p < until; p += pageSize) {
      base[p] = 1;
    }
    touched = until;
    if (touched < bytes) {
      std::this_thread::sleep_for(std::chrono::milliseconds(stepMs));
    }
  }
  const double rampSeconds = std::chrono::duration<double>(Clock::now() - started).count();
  std::vector<std::uint64_t> perNode = pagesPerNode(base, touched, pageSize);
  const auto holdEnd = Clock::now() + std::chrono::duration<double>(holdSeconds);
  while (!gStop.load() && Clock::now() < holdEnd) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  munmap(mem, bytes);
  std::string nodes;
  for (std::size_t n = 0; n < perNode.size(); ++n) {
    nodes += (nodes.empty() ? "" : ",") + std::string("\"") + std::to_string(n) +
             "\":" + std::to_string((perNode[n] * pageSize) >> 20);
  }
  std::printf(
      "{\"cmd\":\"mem\",\"node\":%d,\"mib\":%u,\"touched_mib\":%zu,\"ramp_s\":%.2f,"
      "\"policy\":\"%s\",\"mib_on_node\":{%s}}\n",
      node, mib, touched >> 20, rampSeconds, bind ? "bind" : "preferred", nodes.c_str());
  return 0;
}

// ---- probe -----------------------------------------------------------------------------------

int runProbe(double seconds, unsigned periodUs, bool fifo) {
  if (fifo) {
    sched_param sp{};
    sp.sched_priority = 50;
    if (sched_setscheduler(0, SCHED_FIFO, &sp) != 0) {
      std::fprintf(stderr, "vnuma-load probe: SCHED_FIFO refused: %s\n", std::strerror(errno));
      return 1;
    }
  }
  const std::int64_t period = static_cast<std::int64_t>(periodUs) * 1000;
  const std::int64_t end = nowNs() + static_cast<std::int64_t>(seconds * 1e9);
  std::vector<double> lateness;
  lateness.reserve(static_cast<std::size_t>(seconds * 1e6 / periodUs) + 16);
  std::size_t missed = 0;
  std::int64_t next = nowNs() + period;
  while (!gStop.load() && next < end) {
    timespec ts = toTimespec(next);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR &&
           !gStop.load()) {
    }
    next = vnuma::e2e::recordWake(next, period, nowNs(), lateness, missed);
  }
  LatencySummary s = vnuma::e2e::summarize(std::move(lateness), missed);
  std::string body = vnuma::e2e::toJson(s);
  std::printf("{\"cmd\":\"probe\",\"period_us\":%u,\"seconds\":%.1f,\"cpu\":%d,%s\n", periodUs,
              seconds, sched_getcpu(), body.c_str() + 1);
  return 0;
}

// ---- rogue -----------------------------------------------------------------------------------

// Busy threads that keep widening their own affinity to every CPU and moving their process back
// into the cgroup root, i.e. a guest process that ignores the agent's confinement.
int runRogue(unsigned threads, double seconds, const std::string& cgroupRoot) {
  const long ncpu = sysconf(_SC_NPROCESSORS_CONF);
  std::atomic<std::uint64_t> affinityResets{0}, cgroupEscapes{0}, escapeFailures{0};
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  std::vector<std::thread> workers;
  for (unsigned t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      volatile std::uint64_t sink = 0;
      auto nextReset = Clock::now();
      while (!gStop.load(std::memory_order_relaxed) && Clock::now() < end) {
        if (Clock::now() >= nextReset) {
          cpu_set_t set;
          CPU_ZERO(&set);
          for (long c = 0; c < ncpu; ++c) {
            CPU_SET(static_cast<int>(c), &set);
          }
          if (sched_setaffinity(0, sizeof set, &set) == 0) {
            ++affinityResets;
          }
          if (t == 0 && !cgroupRoot.empty()) {
            const std::string procs = cgroupRoot + "/cgroup.procs";
            const int fd = open(procs.c_str(), O_WRONLY | O_CLOEXEC);
            const std::string pid = std::to_string(getpid());
            if (fd >= 0 && write(fd, pid.data(), pid.size()) == static_cast<ssize_t>(pid.size())) {
              ++cgroupEscapes;
            } else {
              ++escapeFailures;
            }
            if (fd >= 0) {
              close(fd);
            }
          }
          nextReset = Clock::now() + std::chrono::milliseconds(10);
        }
        for (int i = 0; i < 20000; ++i) {
          sink = sink * 6364136223846793005ULL + 1442695040888963407ULL;
        }
      }
    });
  }
  for (auto& w : workers) {
    w.join();
  }
  std::printf(
      "{\"cmd\":\"rogue\",\"threads\":%u,\"seconds\":%.1f,\"affinity_resets\":%llu,"
      "\"cgroup_escapes\":%llu,\"escape_failures\":%llu}\n",
      threads, seconds, static_cast<unsigned long long>(affinityResets.load()),
      static_cast<unsigned long long>(cgroupEscapes.load()),
      static_cast<unsigned long long>(escapeFailures.load()));
  return 0;
}

// ---- control ---------------------------------------------------------------------------------

bool writeAll(int fd, const char* data, std::size_t len) {
  while (len > 0) {
    const ssize_t n = write(fd, data, len);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return false;
    }
    data += n;
    len -= static_cast<std::size_t>(n);
  }
  return true;
}

// Runs `command` with /bin/sh, capturing stdout+stderr (capped at 1 MiB). Returns once the
// shell has exited (background children may keep the pipe open; we do not wait for them) or
// the timeout killed its process group (exit code 124).
int runShell(const std::string& command, unsigned timeoutSeconds, std::string& output) {
  constexpr std::size_t kMaxOutput = 1 << 20;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    output = std::string("pipe: ") + std::strerror(errno);
    return 127;
  }
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    output = std::string("fork: ") + std::strerror(errno);
    return 127;
  }
  if (pid == 0) {
    setpgid(0, 0);
    const int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[1]);
  fcntl(fds[0], F_SETFL, O_NONBLOCK);
  const auto deadline = Clock::now() + std::chrono::seconds(timeoutSeconds);
  int status = 0;
  bool exited = false;
  bool eof = false;
  char buf[8192];
  auto drain = [&] {
    for (;;) {
      const ssize_t n = read(fds[0], buf, sizeof buf);
      if (n > 0) {
        if (output.size() < kMaxOutput) {
          output.append(buf, std::min(static_cast<std::size_t>(n), kMaxOutput - output.size()));
        }
        continue;
      }
      if (n == 0) {
        eof = true;
      }
      return;
    }
  };
  int code = 0;
  for (;;) {
    pollfd pfd{fds[0], POLLIN, 0};
    if (!eof) {
      poll(&pfd, 1, 50);
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    drain();
    if (!exited && waitpid(pid, &status, WNOHANG) == pid) {
      exited = true;
      drain();
      code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      break;
    }
    if (Clock::now() >= deadline) {
      kill(-pid, SIGKILL);
      waitpid(pid, &status, 0);
      drain();
      code = 124;
      break;
    }
  }
  close(fds[0]);
  return code;
}

int connectTo(const std::string& host, std::uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    return -2;
  }
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return -1;
  }
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

// Serves one connection until the peer closes it. Returns false on a protocol violation.
bool serveConnection(int fd, const std::string& name) {
  const std::string hello = "HELLO " + name + "\n";
  if (!writeAll(fd, hello.data(), hello.size())) {
    return false;
  }
  std::string pending;
  char buf[4096];
  for (;;) {
    std::size_t nl;
    while ((nl = pending.find('\n')) != std::string::npos) {
      std::string line = pending.substr(0, nl);
      pending.erase(0, nl + 1);
      std::string error;
      auto req = vnuma::e2e::parseRunLine(line, error);
      if (!req) {
        std::fprintf(stderr, "vnuma-load control: rejected request: %s\n", error.c_str());
        const std::string reply = "ERROR " + error + "\n";
        writeAll(fd, reply.data(), reply.size());
        return false;
      }
      std::string output;
      const int code = runShell(req->command, req->timeoutSeconds, output);
      const std::string header = vnuma::e2e::doneHeader(req->id, code, output.size());
      if (!writeAll(fd, header.data(), header.size()) ||
          !writeAll(fd, output.data(), output.size())) {
        return false;
      }
    }
    if (pending.size() > vnuma::e2e::kMaxRequestLine) {
      std::fprintf(stderr, "vnuma-load control: request line too long\n");
      return false;
    }
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return true;
    }
    pending.append(buf, static_cast<std::size_t>(n));
  }
}

int runControl(const std::string& endpoint, const std::string& name) {
  const auto colon = endpoint.rfind(':');
  unsigned long port = 0;
  if (colon == std::string::npos ||
      (port = std::strtoul(endpoint.c_str() + colon + 1, nullptr, 10)) == 0 || port > 65535) {
    std::fprintf(stderr, "vnuma-load control: --connect wants HOST:PORT, got '%s'\n",
                 endpoint.c_str());
    return 2;
  }
  const std::string host = endpoint.substr(0, colon);
  signal(SIGPIPE, SIG_IGN);
  while (!gStop.load()) {
    const int fd = connectTo(host, static_cast<std::uint16_t>(port));
    if (fd == -2) {
      std::fprintf(stderr, "vnuma-load control: '%s' is not an IPv4 address\n", host.c_str());
      return 2;
    }
    if (fd < 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      continue;
    }
    serveConnection(fd, name);
    close(fd);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"vnuma-load: load, latency probe and control channel for vnuma e2e guests"};
  app.require_subcommand(1);

  unsigned threads = 1;
  double seconds = 10;
  unsigned duty = 100;
  bool spread = false;
  auto* cpu = app.add_subcommand("cpu", "burn CPU with N threads");
  cpu->add_option("--threads", threads, "busy threads")->check(CLI::Range(1u, 256u));
  cpu->add_option("--seconds", seconds, "duration")->check(CLI::Range(0.1, 3600.0));
  cpu->add_option("--duty", duty, "busy percent of every 100 ms window")
      ->check(CLI::Range(1u, 100u));
  cpu->add_flag("--spread", spread, "pin thread i to the i-th allowed CPU at start");

  unsigned mib = 64;
  int node = 0;
  unsigned stepMib = 16;
  unsigned stepMs = 100;
  double hold = 10;
  bool bind = false;
  auto* mem = app.add_subcommand("mem", "allocate and touch memory on one guest node");
  mem->add_option("--mib", mib, "MiB to allocate")->check(CLI::Range(1u, 1u << 20));
  mem->add_option("--node", node, "guest NUMA node")->check(CLI::Range(0, 63));
  mem->add_option("--step-mib", stepMib, "MiB touched per step")->check(CLI::Range(1u, 1u << 20));
  mem->add_option("--step-ms", stepMs, "pause between steps")->check(CLI::Range(0u, 60000u));
  mem->add_option("--hold", hold, "seconds to hold the memory once touched")
      ->check(CLI::Range(0.0, 3600.0));
  mem->add_flag("--bind", bind, "MPOL_BIND instead of MPOL_PREFERRED");

  unsigned periodUs = 1000;
  bool fifo = false;
  auto* probe = app.add_subcommand("probe", "periodic timer lateness per tick (p50/p99/max)");
  probe->add_option("--seconds", seconds, "duration")->check(CLI::Range(0.1, 3600.0));
  probe->add_option("--period-us", periodUs, "timer period")->check(CLI::Range(100u, 1000000u));
  probe->add_flag("--fifo", fifo, "run as SCHED_FIFO 50");

  std::string cgroupRoot = "/sys/fs/cgroup";
  auto* rogue = app.add_subcommand("rogue", "busy threads that keep escaping their cpuset");
  rogue->add_option("--threads", threads, "busy threads")->check(CLI::Range(1u, 256u));
  rogue->add_option("--seconds", seconds, "duration")->check(CLI::Range(0.1, 3600.0));
  rogue->add_option("--cgroup-root", cgroupRoot, "cgroup2 root to move back into ('' = never)");

  std::string endpoint;
  std::string name;
  auto* control = app.add_subcommand("control", "serve the host driver's RUN requests");
  control->add_option("--connect", endpoint, "HOST:PORT of the driver")->required();
  control->add_option("--name", name, "this VM's name, sent in HELLO")->required();

  CLI11_PARSE(app, argc, argv);
  installStopHandlers();
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  if (*cpu) {
    return runCpu(threads, seconds, duty, spread);
  }
  if (*mem) {
    return runMem(mib, node, stepMib, stepMs, hold, bind);
  }
  if (*probe) {
    return runProbe(seconds, periodUs, fifo);
  }
  if (*rogue) {
    return runRogue(threads, seconds, cgroupRoot);
  }
  return runControl(endpoint, name);
}
