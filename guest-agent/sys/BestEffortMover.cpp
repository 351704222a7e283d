#include "guest-agent/sys/BestEffortMover.hpp"

#include <sched.h>

#include <algorithm>
#include <charconv>

#include "guest-agent/sys/Fs.hpp"
#include "guest-agent/sys/Proc.hpp"

namespace vnuma::agent {

namespace {
bool isNumber(const std::string& s, int* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}
}  // namespace

BestEffortMover::BestEffortMover(BestEffortOptions opts, SysfsWriter& writer, Logger log)
    : opts_(std::move(opts)), writer_(writer), log_(std::move(log)) {}

std::vector<ItemOutcome> BestEffortMover::apply(const CpuSet& target) {
  std::vector<ItemOutcome> items;
  if (target.empty()) return items;
  if (opts_.irq) moveIrqs(target, &items, nullptr);
  if (opts_.workqueue) moveWorkqueue(target, &items, nullptr);
  if (opts_.kthreads && opts_.fsRoot == "/") moveKthreads(target, &items, nullptr);
  std::map<std::string, std::string> failures;
  for (const auto& i : items) {
    if (i.ok) continue;
    auto last = lastFailure_.find(i.item);
    const bool repeated = last != lastFailure_.end() && last->second == i.detail;
    log_->log(repeated ? spdlog::level::debug : spdlog::level::warn,
              "best-effort item failed item={} detail=\"{}\"{}", i.item, i.detail,
              repeated ? " (as on the last grant)" : "");
    failures.emplace(i.item, i.detail);
  }
  lastFailure_ = std::move(failures);
  return items;
}

std::vector<std::string> BestEffortMover::plan(const CpuSet& target) const {
  std::vector<std::string> out;
  if (opts_.irq) moveIrqs(target, nullptr, &out);
  if (opts_.workqueue) moveWorkqueue(target, nullptr, &out);
  if (opts_.kthreads && opts_.fsRoot == "/")
    moveKthreads(target, nullptr, &out);
  else if (opts_.kthreads)
    out.push_back("kthreads: skipped (fs root is not /)");
  return out;
}

void BestEffortMover::moveIrqs(const CpuSet& target, std::vector<ItemOutcome>* items,
                               std::vector<std::string>* plan) const {
  const std::string irqDir = joinPath(opts_.fsRoot, "proc/irq");
  auto names = listDir(irqDir, true);
  if (!names) {
    if (items) items->push_back({"irq", false, names.error().describe(), true});
    if (plan) plan->push_back("irq: " + names.error().describe());
    return;
  }
  std::vector<std::pair<int, std::string>> irqs;
  for (const auto& n : names.value()) {
    int irq = 0;
    if (isNumber(n, &irq)) irqs.emplace_back(irq, n);
  }
  std::sort(irqs.begin(), irqs.end());
  for (const auto& [irq, n] : irqs) {
    const std::string file = joinPath(irqDir, n + "/smp_affinity_list");
    const std::string item = "irq/" + n;
    auto text = readTrimmed(file);
    if (!text) continue;  // no affinity file: nothing to move
    auto cur = CpuSet::parseList(text.value());
    if (!cur) {
      if (items) items->push_back({item, false, cur.error().describe(), true});
      continue;
    }
    if (cur->isSubsetOf(target)) continue;
    CpuSet want = cur.value() & target;
    if (want.empty()) want = target;
    const std::string detail = "'" + cur->toList() + "' -> '" + want.toList() + "'";
    if (plan) plan->push_back(item + ": " + detail);
    if (!items) continue;
    auto r = writer_.write(file, want.toList());
    items->push_back({item, r.ok(), r.ok() ? detail : r.error().describe(), true});
  }
}

void BestEffortMover::moveWorkqueue(const CpuSet& target, std::vector<ItemOutcome>* items,
                                    std::vector<std::string>* plan) const {
  const std::string file = joinPath(opts_.fsRoot, "sys/devices/virtual/workqueue/cpumask");
  auto text = readTrimmed(file);
  if (!text) {
    if (items) items->push_back({"workqueue", false, text.error().describe(), true});
    if (plan) plan->push_back("workqueue: " + text.error().describe());
    return;
  }
  auto cur = CpuSet::parseMask(text.value());
  if (cur && cur.value() == target) return;
  const std::string detail =
      "'" + (cur ? cur->toList() : text.value()) + "' -> '" + target.toList() + "'";
  if (plan) plan->push_back("workqueue: " + detail);
  if (!items) return;
  auto r = writer_.write(file, target.toMask());
  items->push_back({"workqueue", r.ok(), r.ok() ? detail : r.error().describe(), true});
}

void BestEffortMover::moveKthreads(const CpuSet& target, std::vector<ItemOutcome>* items,
                                   std::vector<std::string>* plan) const {
  const std::string procRoot = joinPath(opts_.fsRoot, "proc");
  auto names = listDir(procRoot, true);
  if (!names) return;
  unsigned moved = 0, failed = 0, candidates = 0;
  std::string firstError;
  for (const auto& n : names.value()) {
    int pid = 0;
    if (!isNumber(n, &pid)) continue;
    auto flags = taskFlags(procRoot, pid);
    if (!flags || (flags.value() & kPfKthread) == 0 || (flags.value() & kPfNoSetAffinity) != 0)
      continue;
    cpu_set_t mask;
    CPU_ZERO(&mask);
    if (sched_getaffinity(pid, sizeof mask, &mask) != 0) continue;
    CpuSet cur;
    for (unsigned c = 0; c < CPU_SETSIZE; ++c)
      if (CPU_ISSET(c, &mask)) cur.add(c);
    if (cur.isSubsetOf(target) || cur.count() <= 1) continue;  // already fine, or bound to one CPU
    ++candidates;
    if (!items) continue;
    CpuSet want = cur & target;
    if (want.empty()) want = target;
    cpu_set_t next;
    CPU_ZERO(&next);
    for (unsigned c : want.ids())
      if (c < CPU_SETSIZE) CPU_SET(c, &next);
    if (sched_setaffinity(pid, sizeof next, &next) == 0) {
      ++moved;
    } else {
      ++failed;
      if (firstError.empty())
        firstError = Error::fromErrno("sched_setaffinity pid " + n).describe();
    }
  }
  if (plan)
    plan->push_back("kthreads: " + std::to_string(candidates) + " unbound kernel threads to move");
  if (items && (moved > 0 || failed > 0))
    items->push_back({"kthreads", failed == 0,
                      "moved " + std::to_string(moved) + ", failed " + std::to_string(failed) +
                          (firstError.empty() ? "" : " (" + firstError + ")"),
                      true});
}

}  // namespace vnuma::agent
