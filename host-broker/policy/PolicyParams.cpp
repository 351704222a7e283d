#include "host-broker/policy/PolicyParams.hpp"

#include <cmath>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "host-broker/policy/Policy.hpp"

namespace vnuma::broker {

namespace {

// One table of every parameter drives TOML, JSON and validation so the three never disagree.
struct Field {
  const char* key;  // dotted, relative to [policy]
  enum Kind { kInt, kDouble, kBool, kString } kind;
  double min, max;
  bool minExclusive;
  std::function<double(const PolicyParams&)> getNum;
  std::function<void(PolicyParams&, double)> setNum;
};

std::string fmtNum(double v) {
  std::ostringstream os;
  os.precision(10);
  os << v;
  return os.str();
}

const std::vector<Field>& fields() {
  static const std::vector<Field> f = {
      {"tick_ms", Field::kInt, 10, 600000, false,
       [](const PolicyParams& p) { return double(p.tickMs); },
       [](PolicyParams& p, double v) { p.tickMs = std::int64_t(v); }},
      {"demand.grow_alpha", Field::kDouble, 0, 1, true,
       [](const PolicyParams& p) { return p.demand.growAlpha; },
       [](PolicyParams& p, double v) { p.demand.growAlpha = v; }},
      {"demand.shrink_alpha", Field::kDouble, 0, 1, true,
       [](const PolicyParams& p) { return p.demand.shrinkAlpha; },
       [](PolicyParams& p, double v) { p.demand.shrinkAlpha = v; }},
      {"demand.runnable_gain", Field::kDouble, 0, 4, false,
       [](const PolicyParams& p) { return p.demand.runnableGain; },
       [](PolicyParams& p, double v) { p.demand.runnableGain = v; }},
      {"demand.pressure_gain", Field::kDouble, 0, 1, false,
       [](const PolicyParams& p) { return p.demand.pressureGain; },
       [](PolicyParams& p, double v) { p.demand.pressureGain = v; }},
      {"demand.headroom", Field::kDouble, 0, 2, false,
       [](const PolicyParams& p) { return p.demand.headroom; },
       [](PolicyParams& p, double v) { p.demand.headroom = v; }},
      {"demand.min_busy_fraction", Field::kDouble, 0, 0.99, false,
       [](const PolicyParams& p) { return p.demand.minBusyFraction; },
       [](PolicyParams& p, double v) { p.demand.minBusyFraction = v; }},
      {"placement.cooldown_ms", Field::kInt, 0, 3600000, false,
       [](const PolicyParams& p) { return double(p.placement.cooldownMs); },
       [](PolicyParams& p, double v) { p.placement.cooldownMs = std::int64_t(v); }},
      {"placement.move_budget", Field::kInt, 1, 65536, false,
       [](const PolicyParams& p) { return double(p.placement.moveBudget); },
       [](PolicyParams& p, double v) { p.placement.moveBudget = unsigned(v); }},
      {"placement.hysteresis_cpus", Field::kDouble, 0, 64, false,
       [](const PolicyParams& p) { return p.placement.hysteresisCpus; },
       [](PolicyParams& p, double v) { p.placement.hysteresisCpus = v; }},
      {"placement.smt_together", Field::kBool, 0, 1, false,
       [](const PolicyParams& p) { return p.placement.smtTogether ? 1.0 : 0.0; },
       [](PolicyParams& p, double v) { p.placement.smtTogether = v != 0; }},
      {"placement.follow_memory", Field::kBool, 0, 1, false,
       [](const PolicyParams& p) { return p.placement.followMemory ? 1.0 : 0.0; },
       [](PolicyParams& p, double v) { p.placement.followMemory = v != 0; }},
      {"memory.enabled", Field::kBool, 0, 1, false,
       [](const PolicyParams& p) { return p.memory.enabled ? 1.0 : 0.0; },
       [](PolicyParams& p, double v) { p.memory.enabled = v != 0; }},
      {"memory.step_mb", Field::kInt, 1, 1048576, false,
       [](const PolicyParams& p) { return double(p.memory.stepBytes >> 20); },
       [](PolicyParams& p, double v) { p.memory.stepBytes = std::uint64_t(v) << 20; }},
      {"memory.grow_pressure", Field::kDouble, 0, 100, false,
       [](const PolicyParams& p) { return p.memory.growPressure; },
       [](PolicyParams& p, double v) { p.memory.growPressure = v; }},
      {"memory.shrink_free_fraction", Field::kDouble, 0, 1, false,
       [](const PolicyParams& p) { return p.memory.shrinkFreeFraction; },
       [](PolicyParams& p, double v) { p.memory.shrinkFreeFraction = v; }},
      {"memory.grow_free_fraction", Field::kDouble, 0, 1, false,
       [](const PolicyParams& p) { return p.memory.growFreeFraction; },
       [](PolicyParams& p, double v) { p.memory.growFreeFraction = v; }},
  };
  return f;
}

std::string rangeText(const Field& f) {
  return std::string(f.minExclusive ? "(" : "[") + fmtNum(f.min) + ", " + fmtNum(f.max) + "]";
}

Result<void> checkRange(const Field& f, double v) {
  bool ok = std::isfinite(v) && (f.minExclusive ? v > f.min : v >= f.min) && v <= f.max;
  if (!ok)
    return Error(Errc::kInvalidArgument, "policy: '" + std::string(f.key) + "' must be in " +
                                             rangeText(f) + ", got " + fmtNum(v));
  return okResult();
}

}  // namespace

Result<void> PolicyParams::validate() const {
  auto names = policyNames();
  bool known = false;
  std::string list;
  for (const auto& n : names) {
    known = known || n == name;
    list += (list.empty() ? "" : ", ") + n;
  }
  if (!known)
    return Error(Errc::kInvalidArgument, "unknown policy '" + name + "' (known: " + list + ")");
  for (const auto& f : fields()) VNUMA_TRY_VOID(checkRange(f, f.getNum(*this)));
  if (memory.growFreeFraction >= memory.shrinkFreeFraction)
    return Error(Errc::kInvalidArgument, "policy: 'memory.grow_free_fraction' (" +
                                             fmtNum(memory.growFreeFraction) +
                                             ") must be below 'memory.shrink_free_fraction' (" +
                                             fmtNum(memory.shrinkFreeFraction) + ")");
  return okResult();
}

Result<PolicyParams> paramsFromConfig(const ConfigFile& file, const std::string& nameIfUnset) {
  PolicyParams p;
  if (!nameIfUnset.empty()) p.name = nameIfUnset;
  auto name = file.getEnum("policy.name", p.name, policyNames());
  if (!name) return name.error();
  p.name = *name;
  for (const auto& f : fields()) {
    std::string key = std::string("policy.") + f.key;
    double v = 0;
    switch (f.kind) {
      case Field::kInt: {
        auto r =
            file.getInt(key, std::int64_t(f.getNum(p)), std::int64_t(f.min), std::int64_t(f.max));
        if (!r) return r.error();
        v = double(*r);
        break;
      }
      case Field::kDouble: {
        auto r = file.getDouble(key, f.getNum(p), f.min, f.max);
        if (!r) return r.error();
        v = *r;
        if (f.minExclusive && v <= f.min) {
          // ConfigFile ranges are inclusive; the exclusive bound is ours.
          return Error(Errc::kInvalidArgument, file.source() + ": '" + key + "' must be in " +
                                                   rangeText(f) + ", got " + fmtNum(v));
        }
        break;
      }
      case Field::kBool: {
        auto r = file.getBool(key, f.getNum(p) != 0);
        if (!r) return r.error();
        v = *r ? 1 : 0;
        break;
      }
      case Field::kString:
        break;
    }
    f.setNum(p, v);
  }
  auto valid = p.validate();
  if (!valid) return std::move(valid).error().context(file.source());
  return p;
}

namespace {
Result<PolicyParams> standalone(Result<ConfigFile> file, const std::string& nameIfUnset) {
  if (!file) return file.error();
  auto p = paramsFromConfig(*file, nameIfUnset);
  if (!p) return p;
  VNUMA_TRY_VOID(file->rejectUnknownKeys());
  return p;
}
}  // namespace

Result<PolicyParams> parsePolicyToml(std::string_view text, const std::string& sourceName,
                                     const std::string& nameIfUnset) {
  return standalone(ConfigFile::parse(text, sourceName), nameIfUnset);
}

Result<PolicyParams> loadPolicyFile(const std::string& path) {
  return standalone(ConfigFile::load(path), "");
}

std::string paramsToJson(const PolicyParams& p) {
  nlohmann::json j;
  j["name"] = p.name;
  for (const auto& f : fields()) {
    nlohmann::json* at = &j;
    std::string key = f.key;
    if (auto dot = key.find('.'); dot != std::string::npos) {
      at = &j[key.substr(0, dot)];
      key = key.substr(dot + 1);
    }
    double v = f.getNum(p);
    if (f.kind == Field::kInt)
      (*at)[key] = std::int64_t(v);
    else if (f.kind == Field::kBool)
      (*at)[key] = v != 0;
    else
      (*at)[key] = v;
  }
  return j.dump();
}

std::string paramsToToml(const PolicyParams& p) {
  std::string out = "[policy]\nname = \"" + p.name + "\"\n";
  std::string section;
  for (const auto& f : fields()) {
    std::string key = f.key;
    std::string sec;
    if (auto dot = key.find('.'); dot != std::string::npos) {
      sec = key.substr(0, dot);
      key = key.substr(dot + 1);
    }
    if (sec != section) {
      out += "\n[policy." + sec + "]\n";
      section = sec;
    }
    double v = f.getNum(p);
    std::string val = f.kind == Field::kBool  ? (v != 0 ? "true" : "false")
                      : f.kind == Field::kInt ? std::to_string(std::int64_t(v))
                                              : fmtNum(v);
    if (f.kind == Field::kDouble && val.find_first_of(".e") == std::string::npos) val += ".0";
    out += key + " = " + val + "\n";
  }
  return out;
}

Result<PolicyParams> paramsFromJson(std::string_view text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) return Error(Errc::kInvalidArgument, "policy: body is not valid JSON");
  if (!j.is_object()) return Error(Errc::kInvalidArgument, "policy: expected a JSON object");
  PolicyParams p;
  std::set<std::string> known{"name"};
  std::set<std::string> sections;
  for (const auto& f : fields()) {
    known.insert(f.key);
    std::string k = f.key;
    if (auto dot = k.find('.'); dot != std::string::npos) sections.insert(k.substr(0, dot));
  }
  auto bad = [](const std::string& m) { return Error(Errc::kInvalidArgument, "policy: " + m); };
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (sections.count(it.key())) {
      if (!it->is_object()) return bad("'" + it.key() + "' must be an object");
      for (auto in = it->begin(); in != it->end(); ++in)
        if (!known.count(it.key() + "." + in.key()))
          return bad("unknown key '" + it.key() + "." + in.key() + "'");
    } else if (!known.count(it.key())) {
      std::string list;
      for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
      return bad("unknown key '" + it.key() + "' (known: " + list + ")");
    }
  }
  if (j.contains("name")) {
    if (!j["name"].is_string()) return bad("'name' must be a string");
    p.name = j["name"].get<std::string>();
  }
  for (const auto& f : fields()) {
    std::string key = f.key;
    const nlohmann::json* v = nullptr;
    if (auto dot = key.find('.'); dot != std::string::npos) {
      auto sec = key.substr(0, dot);
      if (j.contains(sec) && j[sec].contains(key.substr(dot + 1))) v = &j[sec][key.substr(dot + 1)];
    } else if (j.contains(key)) {
      v = &j[key];
    }
    if (!v) continue;
    double num = 0;
    switch (f.kind) {
      case Field::kInt:
        if (!v->is_number_integer()) return bad("'" + key + "' must be an integer");
        num = double(v->get<std::int64_t>());
        break;
      case Field::kDouble:
        if (!v->is_number()) return bad("'" + key + "' must be a number");
        num = v->get<double>();
        break;
      case Field::kBool:
        if (!v->is_boolean()) return bad("'" + key + "' must be true or false");
        num = v->get<bool>() ? 1 : 0;
        break;
      case Field::kString:
        break;
    }
    VNUMA_TRY_VOID(checkRange(f, num));
    f.setNum(p, num);
  }
  VNUMA_TRY_VOID(p.validate());
  return p;
}

}  // namespace vnuma::broker
