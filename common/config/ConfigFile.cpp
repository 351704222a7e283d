#include "common/config/ConfigFile.hpp"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <cerrno>
#include <cmath>
#include <fstream>
#include <sstream>

namespace vnuma {

namespace {

constexpr std::size_t kShownChars = 40;

std::vector<std::string> splitKey(std::string_view key) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    std::size_t dot = key.find('.', start);
    parts.emplace_back(
        key.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return parts;
}

std::string parentOf(const std::string& path) {
  auto dot = path.rfind('.');
  return dot == std::string::npos ? std::string() : path.substr(0, dot);
}

std::string quoted(std::string_view s) {
  std::string out = "\"";
  out += s.substr(0, kShownChars);
  if (s.size() > kShownChars) out += "...";
  out += "\"";
  return out;
}

// The value as the user wrote it, for "got ..." (ranges: "got 5").
std::string valueText(const toml::node& n) {
  if (auto s = n.as_string()) return quoted(s->get());
  if (auto i = n.as_integer()) return std::to_string(i->get());
  if (auto f = n.as_floating_point()) return fmt::format("{}", f->get());
  if (auto b = n.as_boolean()) return b->get() ? "true" : "false";
  std::ostringstream ss;
  n.visit([&](const auto& v) {
    if constexpr (toml::is_date<decltype(v)> || toml::is_time<decltype(v)> ||
                  toml::is_date_time<decltype(v)>) {
      ss << v;
    }
  });
  return ss.str();
}

// Type and value, for type mismatches ("got string \"5\"").
std::string typedText(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string:
      return "string " + valueText(n);
    case toml::node_type::integer:
      return "integer " + valueText(n);
    case toml::node_type::floating_point:
      return "float " + valueText(n);
    case toml::node_type::boolean:
      return "boolean " + valueText(n);
    case toml::node_type::array:
      return "array";
    case toml::node_type::table:
      return "table";
    case toml::node_type::date:
      return "date " + valueText(n);
    case toml::node_type::time:
      return "time " + valueText(n);
    case toml::node_type::date_time:
      return "date-time " + valueText(n);
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

std::string joinNames(const std::set<std::string>& names) {
  std::string out;
  for (const auto& n : names) {
    if (!out.empty()) out += ", ";
    out += n;
  }
  return out;
}

}  // namespace

struct ConfigFile::Impl {
  toml::table root;
  std::string source;
  mutable std::set<std::string> read;         // dotted keys asked for by a getter
  mutable std::set<std::string> knownTables;  // tables returned by / passed to tableNames()

  std::string where(const toml::source_region& r) const {
    return source + ":" + std::to_string(r.begin.line) + ":" + std::to_string(r.begin.column);
  }

  Error valueError(const toml::node& n, std::string_view key, const std::string& what) const {
    return Error(Errc::kInvalidArgument, where(n.source()) + ": " + std::string(key) + ": " + what);
  }

  // Walks a dotted key. nullptr when absent; an error when a prefix is not a table.
  Result<const toml::node*> find(std::string_view key) const {
    read.insert(std::string(key));
    const toml::table* table = &root;
    std::string walked;
    const auto parts = splitKey(key);
    for (std::size_t i = 0; i < parts.size(); ++i) {
      const toml::node* n = table->get(parts[i]);
      if (n == nullptr) return static_cast<const toml::node*>(nullptr);
      walked += (walked.empty() ? "" : ".") + parts[i];
      if (i + 1 == parts.size()) return n;
      table = n->as_table();
      if (table == nullptr) return valueError(*n, walked, "expected table, got " + typedText(*n));
    }
    return static_cast<const toml::node*>(nullptr);
  }

  // Finds the first key never asked for, depth first in file order of the table.
  const toml::key* firstUnknown(const toml::table& table, const std::string& prefix,
                                std::string& path) const {
    for (const auto& [k, node] : table) {
      std::string p = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
      if (const toml::table* sub = node.as_table()) {
        if (!isKnownTable(p)) {
          path = p;
          return &k;
        }
        if (const toml::key* inner = firstUnknown(*sub, p, path)) return inner;
      } else if (read.count(p) == 0) {
        path = p;
        return &k;
      }
    }
    return nullptr;
  }

  bool isKnownTable(const std::string& p) const {
    if (knownTables.count(p) != 0 || read.count(p) != 0) return true;
    auto it = read.lower_bound(p + ".");
    return it != read.end() && it->compare(0, p.size() + 1, p + ".") == 0;
  }

  // Direct children of `table` the program knows about (asked-for keys and known tables).
  std::set<std::string> knownChildren(const std::string& table) const {
    std::set<std::string> out;
    auto add = [&](const std::string& k) {
      if (table.empty()) {
        out.insert(splitKey(k).front());
      } else if (k.size() > table.size() + 1 && k.compare(0, table.size() + 1, table + ".") == 0) {
        out.insert(splitKey(std::string_view(k).substr(table.size() + 1)).front());
      }
    };
    for (const auto& k : read) add(k);
    for (const auto& k : knownTables) add(k);
    return out;
  }
};

ConfigFile::ConfigFile(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ConfigFile::ConfigFile(ConfigFile&&) noexcept = default;
ConfigFile& ConfigFile::operator=(ConfigFile&&) noexcept = default;
ConfigFile::~ConfigFile() = default;

Result<ConfigFile> ConfigFile::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int err = errno;
    return Error(err == ENOENT ? Errc::kNotFound : Errc::kSystem, "cannot open config file " + path,
                 err);
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Error(Errc::kSystem, "cannot read config file " + path, errno);
  return parse(ss.str(), path);
}

Result<ConfigFile> ConfigFile::parse(std::string_view text, std::string sourceName) {
  auto impl = std::make_unique<Impl>();
  impl->source = std::move(sourceName);
  try {
    impl->root = toml::parse(text, impl->source);
  } catch (const toml::parse_error& e) {
    return Error(Errc::kInvalidArgument,
                 impl->where(e.source()) + ": " + std::string(e.description()));
  } catch (const std::exception& e) {
    return Error(Errc::kInvalidArgument, impl->source + ": " + e.what());
  }
  return ConfigFile(std::move(impl));
}

bool ConfigFile::has(std::string_view key) const {
  auto n = impl_->find(key);
  return n.ok() && *n != nullptr;
}

Result<std::string> ConfigFile::getString(std::string_view key, std::string fallback) const {
  auto n = impl_->find(key);
  if (!n) return std::move(n).error();
  if (*n == nullptr) return fallback;
  if (auto s = (*n)->as_string()) return s->get();
  return impl_->valueError(**n, key, "expected string, got " + typedText(**n));
}

Result<std::string> ConfigFile::getEnum(std::string_view key, std::string fallback,
                                        const std::vector<std::string>& allowed) const {
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
  auto n = impl_->find(key);
  if (!n) return std::move(n).error();
  if (*n == nullptr) return fallback;
  const auto* s = (*n)->as_string();
  if (s == nullptr) {
    return impl_->valueError(**n, key, "expected one of [" + list + "], got " + typedText(**n));
  }
  for (const auto& a : allowed) {
    if (a == s->get()) return a;
  }
  return impl_->valueError(**n, key, "expected one of [" + list + "], got " + valueText(**n));
}

Result<std::int64_t> ConfigFile::getInt(std::string_view key, std::int64_t fallback,
                                        std::int64_t min, std::int64_t max) const {
  auto n = impl_->find(key);
  if (!n) return std::move(n).error();
  if (*n == nullptr) return fallback;
  const std::string expected =
      "expected integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]";
  const auto* i = (*n)->as_integer();
  if (i == nullptr) return impl_->valueError(**n, key, expected + ", got " + typedText(**n));
  if (i->get() < min || i->get() > max)
    return impl_->valueError(**n, key, expected + ", got " + valueText(**n));
  return i->get();
}

Result<double> ConfigFile::getDouble(std::string_view key, double fallback, double min,
                                     double max) const {
  auto n = impl_->find(key);
  if (!n) return std::move(n).error();
  if (*n == nullptr) return fallback;
  const std::string expected = fmt::format("expected number in [{}, {}]", min, max);
  double v = 0;
  if (const auto* f = (*n)->as_floating_point()) {
    v = f->get();
  } else if (const auto* i = (*n)->as_integer()) {
    v = static_cast<double>(i->get());  // "2" for a float field is fine
  } else {
    return impl_->valueError(**n, key, expected + ", got " + typedText(**n));
  }
  if (!(v >= min && v <= max))
    return impl_->valueError(**n, key, expected + ", got " + valueText(**n));
  return v;
}

Result<bool> ConfigFile::getBool(std::string_view key, bool fallback) const {
  auto n = impl_->find(key);
  if (!n) return std::move(n).error();
  if (*n == nullptr) return fallback;
  if (const auto* b = (*n)->as_boolean()) return b->get();
  return impl_->valueError(**n, key, "expected boolean (true or false), got " + typedText(**n));
}

Result<std::vector<std::string>> ConfigFile::getStringList(std::string_view key) const {
  auto n = impl_->find(key);
  if (!n) return std::move(n).error();
  std::vector<std::string> out;
  if (*n == nullptr) return out;
  const auto* arr = (*n)->as_array();
  if (arr == nullptr)
    return impl_->valueError(**n, key, "expected array of strings, got " + typedText(**n));
  for (std::size_t i = 0; i < arr->size(); ++i) {
    const toml::node& el = *arr->get(i);
    const auto* s = el.as_string();
    if (s == nullptr) {
      return impl_->valueError(el, std::string(key) + "[" + std::to_string(i) + "]",
                               "expected string, got " + typedText(el));
    }
    out.push_back(s->get());
  }
  return out;
}

Result<CpuSet> ConfigFile::getCpuList(std::string_view key, CpuSet fallback) const {
  auto n = impl_->find(key);
  if (!n) return std::move(n).error();
  if (*n == nullptr) return fallback;
  const auto* s = (*n)->as_string();
  if (s == nullptr) {
    return impl_->valueError(**n, key,
                             "expected a cpulist string like \"0-3,8\", got " + typedText(**n));
  }
  auto set = CpuSet::parseList(s->get());
  if (!set) return impl_->valueError(**n, key, set.error().message());
  return set;
}

std::vector<std::string> ConfigFile::tableNames(std::string_view key) const {
  std::vector<std::string> out;
  auto n = impl_->find(key);
  impl_->read.erase(std::string(key));  // a table, not a value: its own keys are checked
  if (!n.ok() || *n == nullptr) return out;
  const auto* table = (*n)->as_table();
  if (table == nullptr) return out;
  impl_->knownTables.insert(std::string(key));
  for (const auto& [k, v] : *table) {
    if (v.is_table()) {
      out.emplace_back(k.str());
      impl_->knownTables.insert(std::string(key) + "." + std::string(k.str()));
    }
  }
  return out;
}

Result<void> ConfigFile::rejectUnknownKeys() const {
  std::string path;
  const toml::key* k = impl_->firstUnknown(impl_->root, "", path);
  if (k == nullptr) return okResult();
  const std::string table = parentOf(path);
  const auto known = impl_->knownChildren(table);
  std::string hint;
  if (table.empty()) {
    hint = known.empty() ? "no keys are known at top level"
                         : "known at top level: " + joinNames(known);
  } else {
    hint = known.empty() ? "no keys are known in [" + table + "]"
                         : "known in [" + table + "]: " + joinNames(known);
  }
  return Error(Errc::kInvalidArgument,
               impl_->where(k->source()) + ": unknown key '" + path + "' (" + hint + ")");
}

const std::string& ConfigFile::source() const { return impl_->source; }

}  // namespace vnuma
