#include "guest-agent/sys/UsageSampler.hpp"

#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <charconv>
#include <cmath>
#include <sstream>

#include "guest-agent/sys/Fs.hpp"

namespace vnuma::agent {

namespace {

std::uint64_t monoUs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000u +
         static_cast<std::uint64_t>(ts.tv_nsec) / 1000u;
}

bool parseU64(const std::string& s, std::uint64_t* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

Result<std::map<unsigned, CpuTimes>> parseProcStat(const std::string& text,
                                                   unsigned* procsRunning) {
  std::map<unsigned, CpuTimes> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string key;
    ls >> key;
    if (key == "procs_running") {
      std::uint64_t v = 0;
      std::string tok;
      ls >> tok;
      if (!parseU64(tok, &v))
        return Error(Errc::kInvalidArgument, "proc/stat: bad procs_running '" + tok + "'");
      if (procsRunning != nullptr) *procsRunning = static_cast<unsigned>(v);
      continue;
    }
    if (key.size() <= 3 || key.compare(0, 3, "cpu") != 0) continue;
    std::uint64_t id = 0;
    if (!parseU64(key.substr(3), &id) || id > 8191)
      return Error(Errc::kInvalidArgument, "proc/stat: bad cpu line '" + key + "'");
    // user nice system idle iowait irq softirq steal [guest guest_nice]; guest time is already
    // counted in user/nice.
    std::uint64_t f[8] = {};
    std::string tok;
    for (int i = 0; i < 8; ++i) {
      if (!(ls >> tok)) {
        if (i >= 4) break;  // very old kernels have 4 fields
        return Error(Errc::kInvalidArgument, "proc/stat: too few fields on line '" + key + "'");
      }
      if (!parseU64(tok, &f[i]))
        return Error(Errc::kInvalidArgument,
                     "proc/stat: bad number '" + tok + "' on line '" + key + "'");
    }
    CpuTimes t;
    for (auto v : f) t.total += v;
    t.busy = t.total - f[3] - f[4];
    out[static_cast<unsigned>(id)] = t;
  }
  if (out.empty()) return Error(Errc::kInvalidArgument, "proc/stat: no per-CPU lines");
  return out;
}

Result<PressureSample> parsePressure(const std::string& text, const std::string& source) {
  PressureSample p;
  std::istringstream in(text);
  std::string line;
  bool sawSome = false;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string kind, kv;
    ls >> kind;
    if (kind != "some" && kind != "full") continue;
    while (ls >> kv) {
      const auto eq = kv.find('=');
      if (eq == std::string::npos)
        return Error(Errc::kInvalidArgument, source + ": bad field '" + kv + "'");
      const std::string k = kv.substr(0, eq), v = kv.substr(eq + 1);
      if (k == "avg10") {
        double d = 0;
        auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), d);
        if (ec != std::errc() || ptr != v.data() + v.size() || !std::isfinite(d) || d < 0)
          return Error(Errc::kInvalidArgument, source + ": bad avg10 '" + v + "'");
        (kind == "some" ? p.someAvg10 : p.fullAvg10) = d;
      } else if (k == "total" && kind == "some") {
        if (!parseU64(v, &p.someTotalUs))
          return Error(Errc::kInvalidArgument, source + ": bad total '" + v + "'");
      }
    }
    if (kind == "some") sawSome = true;
  }
  if (!sawSome) return Error(Errc::kInvalidArgument, source + ": no 'some' line");
  return p;
}

Result<NodeMemory> parseMeminfo(const std::string& text, const std::string& source) {
  NodeMemory m;
  std::uint64_t fileActive = 0, fileInactive = 0, sreclaimable = 0, available = 0;
  bool haveAvailable = false, haveTotal = false;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::vector<std::string> tok;
    std::string t;
    while (ls >> t) tok.push_back(t);
    std::size_t k = 0;
    if (tok.size() >= 4 && tok[0] == "Node") k = 2;  // "Node 0 MemTotal: 123 kB"
    if (tok.size() < k + 2) continue;
    std::string key = tok[k];
    if (!key.empty() && key.back() == ':') key.pop_back();
    std::uint64_t v = 0;
    if (!parseU64(tok[k + 1], &v)) continue;
    if (key == "MemTotal") {
      m.totalKb = v;
      haveTotal = true;
    } else if (key == "MemFree") {
      m.freeKb = v;
    } else if (key == "MemAvailable") {
      available = v;
      haveAvailable = true;
    } else if (key == "Active(file)") {
      fileActive = v;
    } else if (key == "Inactive(file)") {
      fileInactive = v;
    } else if (key == "SReclaimable") {
      sreclaimable = v;
    }
  }
  if (!haveTotal) return Error(Errc::kInvalidArgument, source + ": no MemTotal");
  m.availableKb = haveAvailable
                      ? available
                      : std::min(m.totalKb, m.freeKb + fileActive + fileInactive + sreclaimable);
  return m;
}

UsageSampler::UsageSampler(std::string fsRoot) : fsRoot_(std::move(fsRoot)) {}

std::vector<VirtioMemDevice> UsageSampler::virtioMemDevices() const {
  std::vector<VirtioMemDevice> out;
  const std::string dir = joinPath(fsRoot_, "sys/bus/virtio/drivers/virtio_mem");
  auto names = listDir(dir, true);
  if (!names) return out;
  for (const auto& n : names.value()) {
    if (n.rfind("virtio", 0) != 0) continue;
    VirtioMemDevice d;
    d.device = n;
    // The node is the device's (or its PCI parent's) numa_node when the platform provides it.
    for (const char* rel : {"numa_node", "../numa_node"}) {
      auto v = readTrimmed(joinPath(joinPath(dir, n), rel));
      if (!v) continue;
      int node = -1;
      auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), node);
      if (ec == std::errc() && p == v->data() + v->size() && node >= 0) {
        d.node = node;
        break;
      }
    }
    out.push_back(d);
  }
  return out;
}

Result<UsageSample> UsageSampler::sample() {
  UsageSample s;
  const std::string statPath = joinPath(fsRoot_, "proc/stat");
  auto statText = readFile(statPath);
  if (!statText) return std::move(statText).error();
  unsigned running = 0;
  auto times = parseProcStat(statText.value(), &running);
  if (!times) return std::move(times).error();
  s.runnable = running > 0 ? running - 1 : 0;
  for (const auto& [cpu, t] : times.value()) {
    double busy = 0;
    auto it = prev_.find(cpu);
    if (it != prev_.end() && t.total > it->second.total && t.busy >= it->second.busy) {
      busy = static_cast<double>(t.busy - it->second.busy) /
             static_cast<double>(t.total - it->second.total);
      busy = std::min(1.0, std::max(0.0, busy));
    }
    s.busy[cpu] = busy;
  }
  prev_ = std::move(times).value();

  s.psiAvailable = true;
  for (auto [name, dst] : {std::pair<const char*, PressureSample*>{"cpu", &s.cpu},
                           {"memory", &s.memory},
                           {"io", &s.io}}) {
    const std::string path = joinPath(fsRoot_, std::string("proc/pressure/") + name);
    auto text = readFile(path);
    if (!text) {
      s.psiAvailable = false;
      continue;
    }
    auto p = parsePressure(text.value(), path);
    if (!p) return std::move(p).error();
    *dst = p.value();
  }

  const std::string nodeDir = joinPath(fsRoot_, "sys/devices/system/node");
  auto nodes = listDir(nodeDir, true);
  if (nodes) {
    for (const auto& n : nodes.value()) {
      std::uint64_t id = 0;
      if (n.size() <= 4 || n.compare(0, 4, "node") != 0 || !parseU64(n.substr(4), &id)) continue;
      const std::string path = joinPath(nodeDir, n + "/meminfo");
      auto text = readFile(path);
      if (!text) continue;
      auto m = parseMeminfo(text.value(), path);
      if (!m) return std::move(m).error();
      m->node = static_cast<unsigned>(id);
      s.nodes.push_back(m.value());
    }
  }
  if (s.nodes.empty()) {
    const std::string path = joinPath(fsRoot_, "proc/meminfo");
    auto text = readFile(path);
    if (text) {
      auto m = parseMeminfo(text.value(), path);
      if (!m) return std::move(m).error();
      s.nodes.push_back(m.value());
    }
  }
  s.virtioMem = virtioMemDevices();

  // The agent's own cost: getrusage and statm are about this process, whatever fsRoot is.
  const std::uint64_t now = monoUs();
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  const std::uint64_t selfUs =
      static_cast<std::uint64_t>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000u +
      static_cast<std::uint64_t>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
  if (prevMonoUs_ != 0 && now > prevMonoUs_) {
    s.periodUs = now - prevMonoUs_;
    s.agentCpuPermille = static_cast<std::uint32_t>((selfUs - prevSelfTicks_) * 1000u / s.periodUs);
  }
  prevMonoUs_ = now;
  prevSelfTicks_ = selfUs;
  auto statm = readTrimmed("/proc/self/statm");
  if (statm) {
    std::istringstream in(statm.value());
    std::uint64_t size = 0, resident = 0;
    in >> size >> resident;
    s.agentRssKb = resident * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE)) / 1024u;
  }
  return s;
}

MemoryPolicy ensureMovableOnline(const std::string& fsRoot, bool write) {
  MemoryPolicy p;
  const std::string memDir = joinPath(fsRoot, "sys/devices/system/memory");
  const std::string file = joinPath(memDir, "auto_online_blocks");
  auto cur = readTrimmed(file);
  if (!cur) {
    p.error = cur.error().describe();
    return p;
  }
  p.before = p.after = cur.value();
  if (cur.value() != "online_movable" && write) {
    auto r = writeExisting(file, "online_movable");
    if (r) {
      auto now = readTrimmed(file);
      p.after = now ? now.value() : "online_movable";
      p.changed = true;
    } else {
      p.error = r.error().describe();
    }
  }
  auto blocks = listDir(memDir, true);
  if (blocks) {
    for (const auto& b : blocks.value()) {
      if (b.rfind("memory", 0) != 0) continue;
      auto st = readTrimmed(joinPath(memDir, b + "/state"));
      if (st && st.value() == "offline") ++p.offlineBlocks;
    }
  }
  return p;
}

}  // namespace vnuma::agent
