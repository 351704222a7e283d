#include <gtest/gtest.h>

#include "host-broker/policy/PolicyParams.hpp"
#include "host-broker/policy/TestSupport.hpp"

namespace vnuma::broker {
namespace {

// Every field, so a round trip that drops or mangles one is caught.
bool sameParams(const PolicyParams& a, const PolicyParams& b) {
  return a.name == b.name && a.tickMs == b.tickMs && a.demand.growAlpha == b.demand.growAlpha &&
         a.demand.shrinkAlpha == b.demand.shrinkAlpha &&
         a.demand.runnableGain == b.demand.runnableGain &&
         a.demand.pressureGain == b.demand.pressureGain && a.demand.headroom == b.demand.headroom &&
         a.demand.minBusyFraction == b.demand.minBusyFraction &&
         a.placement.cooldownMs == b.placement.cooldownMs &&
         a.placement.moveBudget == b.placement.moveBudget &&
         a.placement.hysteresisCpus == b.placement.hysteresisCpus &&
         a.placement.smtTogether == b.placement.smtTogether &&
         a.placement.followMemory == b.placement.followMemory &&
         a.memory.enabled == b.memory.enabled && a.memory.stepBytes == b.memory.stepBytes &&
         a.memory.growPressure == b.memory.growPressure &&
         a.memory.shrinkFreeFraction == b.memory.shrinkFreeFraction &&
         a.memory.growFreeFraction == b.memory.growFreeFraction;
}

PolicyParams nonDefault() {
  PolicyParams p;
  p.name = "static";
  p.tickMs = 250;
  p.demand = {0.5, 0.25, 1.5, 0.03, 0.2, 0.1};
  p.placement = {1500, 7, 0.5, false, false};
  p.memory = {false, 128ull << 20, 20.0, 0.4, 0.05};
  return p;
}

TEST(PolicyParams, TomlAndJsonRoundTripEveryField) {
  for (const auto& p : {PolicyParams{}, nonDefault()}) {
    SCOPED_TRACE(p.name);
    auto fromToml = parsePolicyToml(paramsToToml(p), "round-trip.toml");
    ASSERT_TRUE(fromToml.ok()) << fromToml.error().describe() << "\n" << paramsToToml(p);
    EXPECT_TRUE(sameParams(*fromToml, p)) << paramsToToml(*fromToml);
    auto fromJson = paramsFromJson(paramsToJson(p));
    ASSERT_TRUE(fromJson.ok()) << fromJson.error().describe();
    EXPECT_TRUE(sameParams(*fromJson, p)) << paramsToJson(*fromJson);
  }
}

TEST(PolicyParams, MissingKeysKeepTheirDefaults) {
  auto p = parsePolicyToml("[policy.placement]\nmove_budget = 4\n", "p.toml");
  ASSERT_TRUE(p.ok()) << p.error().describe();
  PolicyParams expect;
  expect.placement.moveBudget = 4;
  EXPECT_TRUE(sameParams(*p, expect));
  auto j = paramsFromJson(R"({"demand":{"headroom":0}})");
  ASSERT_TRUE(j.ok()) << j.error().describe();
  expect = PolicyParams{};
  expect.demand.headroom = 0;
  EXPECT_TRUE(sameParams(*j, expect));
}

TEST(PolicyParams, LoadsAFileAnAdminCarriesBetweenHosts) {
  testing::TempDir dir;
  auto ok = loadPolicyFile(dir.write("policy.toml", paramsToToml(nonDefault())));
  ASSERT_TRUE(ok.ok()) << ok.error().describe();
  EXPECT_TRUE(sameParams(*ok, nonDefault()));
  auto missing = loadPolicyFile(dir.path() + "/nope.toml");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().describe().find(dir.path() + "/nope.toml"), std::string::npos)
      << missing.error().describe();
}

struct BadCase {
  const char* description;
  const char* text;
  const char* error;  // the whole describe() text
};

TEST(PolicyParams, BadTomlIsRefusedWithFileLineAndKey) {
  const BadCase cases[] = {
      {"unknown key, with the known ones as a hint", "[policy.demand]\ngrow = 0.5\n",
       "p.toml:2:1: unknown key 'policy.demand.grow' (known in [policy.demand]: grow_alpha, "
       "headroom, "
       "min_busy_fraction, pressure_gain, runnable_gain, shrink_alpha)"},
      {"unknown section", "[policy.cpu]\nx = 1\n",
       "p.toml:1:9: unknown key 'policy.cpu' (known in [policy]: demand, memory, name, placement, "
       "tick_ms)"},
      {"out of range", "[policy.demand]\ngrow_alpha = 1.5\n",
       "p.toml:2:14: policy.demand.grow_alpha: expected number in [0, 1], got 1.5"},
      {"an exclusive lower bound", "[policy.demand]\nshrink_alpha = 0.0\n",
       "p.toml: 'policy.demand.shrink_alpha' must be in (0, 1], got 0"},
      {"wrong type", "[policy]\ntick_ms = \"1000\"\n",
       "p.toml:2:11: policy.tick_ms: expected integer in [10, 600000], got string \"1000\""},
      {"unknown policy name", "[policy]\nname = \"fast\"\n",
       "p.toml:2:8: policy.name: expected one of [demand, static], got \"fast\""},
      {"thresholds in the wrong order", "[policy.memory]\ngrow_free_fraction = 0.5\n",
       "p.toml: policy: 'memory.grow_free_fraction' (0.5) must be below "
       "'memory.shrink_free_fraction' (0.3)"},
      {"not TOML", "[policy\n",
       "p.toml:1:8: Error while parsing table header: expected ']', saw '\\n'"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.description);
    auto p = parsePolicyToml(c.text, "p.toml");
    ASSERT_FALSE(p.ok());
    EXPECT_EQ(p.error().code(), Errc::kInvalidArgument);
    EXPECT_EQ(p.error().describe(), c.error);
  }
}

TEST(PolicyParams, BadJsonIsRefusedNamingTheKey) {
  const BadCase cases[] = {
      {"not JSON", "{", "policy: body is not valid JSON"},
      {"not an object", "[1]", "policy: expected a JSON object"},
      {"unknown top-level key", R"({"tick":5})",
       "policy: unknown key 'tick' (known: demand.grow_alpha, demand.headroom, "
       "demand.min_busy_fraction, "
       "demand.pressure_gain, demand.runnable_gain, demand.shrink_alpha, memory.enabled, "
       "memory.grow_free_fraction, "
       "memory.grow_pressure, memory.shrink_free_fraction, memory.step_mb, name, "
       "placement.cooldown_ms, "
       "placement.follow_memory, placement.hysteresis_cpus, placement.move_budget, "
       "placement.smt_together, tick_ms)"},
      {"unknown nested key", R"({"demand":{"grow":1}})", "policy: unknown key 'demand.grow'"},
      {"a section that is not an object", R"({"memory":true})",
       "policy: 'memory' must be an object"},
      {"integer expected", R"({"tick_ms":1.5})", "policy: 'tick_ms' must be an integer"},
      {"number expected", R"({"demand":{"headroom":"lots"}})",
       "policy: 'demand.headroom' must be a number"},
      {"boolean expected", R"({"placement":{"smt_together":1}})",
       "policy: 'placement.smt_together' must be true or false"},
      {"out of range", R"({"demand":{"grow_alpha":1.5}})",
       "policy: 'demand.grow_alpha' must be in (0, 1], got 1.5"},
      {"unknown policy name", R"({"name":"fast"})",
       "unknown policy 'fast' (known: demand, static)"},
      {"name must be a string", R"({"name":1})", "policy: 'name' must be a string"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.description);
    auto p = paramsFromJson(c.text);
    ASSERT_FALSE(p.ok());
    EXPECT_EQ(p.error().code(), Errc::kInvalidArgument);
    EXPECT_EQ(p.error().describe(), c.error);
  }
}

}  // namespace
}  // namespace vnuma::broker
