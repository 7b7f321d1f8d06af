#include "cli.h"

#include <charconv>

#include <fmt/format.h>

namespace baton_cli {

namespace {

const OptionSpec* find_spec(const std::vector<OptionSpec>& specs, std::string_view name) {
  for (const auto& s : specs) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

}  // namespace

Args Args::parse(std::span<char* const> argv, const std::vector<OptionSpec>& specs,
                 std::string_view help, bool allow_command) {
  Args args;
  for (size_t i = 0; i < argv.size(); ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") throw HelpRequested{std::string(help)};
    if (arg == "--") {
      if (!allow_command) {
        throw CliError(kExitUsage, "unexpected '--': this command runs no child command");
      }
      for (size_t j = i + 1; j < argv.size(); ++j) args.command_.emplace_back(argv[j]);
      break;
    }
    if (arg.size() > 2 && arg.starts_with("--")) {
      std::string_view body = arg.substr(2);
      std::optional<std::string> inline_value;
      if (auto eq = body.find('='); eq != std::string_view::npos) {
        inline_value = std::string(body.substr(eq + 1));
        body = body.substr(0, eq);
      }
      const OptionSpec* spec = find_spec(specs, body);
      if (!spec) throw CliError(kExitUsage, fmt::format("unknown option --{}", body));
      std::string value;
      if (spec->takes_value) {
        if (inline_value) {
          value = *inline_value;
        } else if (i + 1 < argv.size()) {
          value = argv[++i];
        } else {
          throw CliError(kExitUsage, fmt::format("option --{} needs a value", body));
        }
      } else if (inline_value) {
        throw CliError(kExitUsage, fmt::format("option --{} takes no value", body));
      }
      auto& slot = args.values_[spec->name];
      if (!slot.empty() && !spec->repeatable) {
        throw CliError(kExitUsage, fmt::format("option --{} given twice", body));
      }
      slot.push_back(std::move(value));
      continue;
    }
    if (arg.size() == 2 && arg[0] == '-' && arg[1] != '-') {
      const OptionSpec* spec = nullptr;
      for (const auto& s : specs) {
        if (s.short_name == arg[1]) spec = &s;
      }
      if (spec) {
        if (spec->takes_value && i + 1 >= argv.size()) {
          throw CliError(kExitUsage, fmt::format("option {} needs a value", arg));
        }
        auto& slot = args.values_[spec->name];
        if (!slot.empty() && !spec->repeatable) {
          throw CliError(kExitUsage, fmt::format("option {} given twice", arg));
        }
        slot.push_back(spec->takes_value ? std::string(argv[++i]) : std::string());
        continue;
      }
    }
    if (arg.size() > 1 && arg[0] == '-' && arg != "-") {
      throw CliError(kExitUsage, fmt::format("unknown option {}", arg));
    }
    args.positional_.emplace_back(arg);
  }
  return args;
}

bool Args::has(std::string_view name) const { return values_.find(name) != values_.end(); }

std::optional<std::string> Args::get(std::string_view name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  return it->second.back();
}

std::string Args::get_or(std::string_view name, std::string fallback) const {
  auto v = get(name);
  return v ? *v : std::move(fallback);
}

std::vector<std::string> Args::all(std::string_view name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return {};
  return it->second;
}

std::optional<long long> Args::get_int(std::string_view name, long long min,
                                       long long max) const {
  auto v = get(name);
  if (!v) return std::nullopt;
  return parse_int(*v, min, max, fmt::format("--{}", name));
}

long long parse_int(std::string_view text, long long min, long long max, std::string_view what) {
  long long value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max) {
    throw CliError(kExitUsage,
                   fmt::format("{} must be a whole number from {} to {}, got '{}'", what, min,
                               max, text));
  }
  return value;
}

CliError usage_error(std::string_view command, std::string message) {
  return CliError(kExitUsage, std::move(message), fmt::format("see 'baton {} --help'", command));
}

}  // namespace baton_cli
