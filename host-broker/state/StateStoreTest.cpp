#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "host-broker/ledger/LedgerJson.hpp"
#include "host-broker/ledger/TestSupport.hpp"
#include "host-broker/state/StateStore.hpp"

namespace vnuma::broker {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/vnuma-state-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void spit(const fs::path& p, const std::string& s) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << s;
}

Ledger sampleLedger() {
  auto host = HostModel::uniform(2, 4, 2, 8 * kGiB);
  host.reserved = CpuSet{0};
  auto l = Ledger::create(host).value();
  auto a = testing::fullVnumaVm(host, "a", 1, 0, 1.0, kGiB, 2 * kGiB);
  EXPECT_TRUE(l.apply(AddVm{a, CpuSet{1}}).ok());
  EXPECT_TRUE(l.apply(BeginGrant{a.uuid, CpuSet{1, 2, 3}, 1}).ok());
  EXPECT_TRUE(l.apply(AckGeneration{a.uuid, 1}).ok());
  EXPECT_TRUE(l.apply(BeginRevoke{a.uuid, CpuSet{3}, 2}).ok());
  EXPECT_TRUE(l.apply(SetMemoryRequested{a.uuid, 1, kGiB}).ok());
  return l;
}

TEST(Crc32, KnownVector) {
  EXPECT_EQ(crc32("123456789"), 0xCBF43926u);
  EXPECT_EQ(crc32(""), 0u);
}

TEST(StateStore, SaveLoadRoundTrip) {
  TempDir d;
  StateStore store((d.path / "sub").string());
  auto l = sampleLedger();
  ASSERT_TRUE(store.save(l).ok());
  EXPECT_FALSE(fs::exists(store.tempPath()));
  EXPECT_EQ(fs::status(d.path / "sub").permissions() & fs::perms::all, fs::perms::owner_all);
  auto back = store.load();
  ASSERT_TRUE(back.ok()) << back.error().describe();
  EXPECT_EQ(stateToJson(back->state()), stateToJson(l.state()));
  EXPECT_EQ(back->vm(l.vms().begin()->first)->inState(HoldState::kRevoking), CpuSet{3});
  EXPECT_EQ(back->lastSeq(), l.lastSeq());
}

TEST(StateStore, MissingFileIsNotFound) {
  TempDir d;
  auto r = StateStore(d.path.string()).load();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::kNotFound);
}

TEST(StateStore, TornTempFileNeverReplacesGoodState) {
  TempDir d;
  StateStore store(d.path.string());
  auto l = sampleLedger();
  ASSERT_TRUE(store.save(l).ok());
  const std::string good = slurp(store.path());
  // A crash mid-write leaves a partial temp file (every prefix length tried on a sample).
  const std::string next = StateStore::encode(l);
  for (std::size_t cut = 0; cut < next.size(); cut += std::max<std::size_t>(1, next.size() / 97)) {
    spit(store.tempPath(), next.substr(0, cut));
    auto r = store.load();
    ASSERT_TRUE(r.ok()) << "cut " << cut << ": " << r.error().describe();
    EXPECT_EQ(slurp(store.path()), good);
  }
  // The next save overwrites the leftover.
  ASSERT_TRUE(store.save(l).ok());
  EXPECT_FALSE(fs::exists(store.tempPath()));
}

struct DamageCase {
  const char* description;
  std::function<std::string(std::string)> damage;
  const char* expectContains;
};

TEST(StateStore, DamagedFilesAreRefusedWithAHint) {
  TempDir d;
  StateStore store(d.path.string());
  ASSERT_TRUE(store.save(sampleLedger()).ok());
  const std::string good = slurp(store.path());
  const std::string p = store.path();
  const std::string hint =
      "; move it aside to start fresh (the broker re-learns grants from agents)";
  const std::vector<DamageCase> cases = {
      {"truncated", [](std::string s) { return s.substr(0, s.size() / 2); },
       "not valid JSON (truncated or damaged)"},
      {"empty", [](std::string) { return std::string(); }, "not valid JSON (truncated or damaged)"},
      {"bit flip in the state",
       [](std::string s) {
         auto pos = s.find("\"last_generation\":2");
         s[pos + 18] = '3';
         return s;
       },
       "checksum mismatch (stored "},
      {"other format", [](std::string) { return std::string("{\"format\":\"x\"}"); },
       "not a vnuma broker state file (no \"format\":\"vnuma-broker-state\")"},
      {"future version",
       [](std::string s) {
         auto pos = s.find("\"version\":1");
         return s.replace(pos, 11, "\"version\":9");
       },
       "format version 9 is not supported (this broker reads version 1); use a matching broker, or "
       "move it aside"},
  };
  for (const auto& c : cases) {
    spit(p, c.damage(good));
    auto r = store.load();
    ASSERT_FALSE(r.ok()) << c.description;
    EXPECT_NE(r.error().message().find("state file " + p + ": "), std::string::npos)
        << r.error().message();
    EXPECT_NE(r.error().message().find(c.expectContains), std::string::npos)
        << c.description << ": " << r.error().message();
    EXPECT_NE(r.error().message().find("move it aside"), std::string::npos) << c.description;
  }
  (void)hint;
}

TEST(StateStore, InconsistentButChecksummedLedgerIsRefused) {
  TempDir d;
  StateStore store(d.path.string());
  auto l = sampleLedger();
  // Two VMs holding the same pCPU, written with a valid checksum: the checksum cannot save it.
  auto st = l.state();
  auto b = testing::fullVnumaVm(st.host, "b");
  VmEntry e;
  e.spec = b;
  e.floorPcpus = CpuSet{5};
  e.holds[2] = Hold{HoldState::kGranted, 1};
  e.lastGeneration = 1;
  st.vms[b.uuid] = e;
  std::string state = stateToJson(st);
  char crc[9];
  std::snprintf(crc, sizeof crc, "%08x", crc32(state));
  spit(store.path(), std::string("{\"format\":\"vnuma-broker-state\",\"version\":1,\"crc32\":\"") +
                         crc + "\",\"state\":" + state + "}\n");
  auto r = store.load();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::kConflict);
  EXPECT_EQ(
      r.error().message(),
      "state file " + store.path() +
          ": inconsistent ledger: pCPU 2 held by both vm a and vm b; move it aside to start fresh "
          "(the broker re-learns grants from agents)");
}

TEST(StateStore, SaveFailsCleanlyOnUnwritableDir) {
  if (::geteuid() == 0) {
    // root ignores permissions: use a path under a regular file instead.
    TempDir d;
    spit(d.path / "file", "x");
    auto r = StateStore((d.path / "file" / "sub").string()).save(sampleLedger());
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code(), Errc::kSystem);
    return;
  }
  auto r = StateStore("/proc/vnuma-nope").save(sampleLedger());
  ASSERT_FALSE(r.ok());
}

}  // namespace
}  // namespace vnuma::broker
