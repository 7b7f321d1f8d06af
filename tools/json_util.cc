#include "json_util.h"

#include <fmt/format.h>

#include "cli.h"

namespace baton_cli {

void json_append_quoted(std::string* out, std::string_view s) {
  out->push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      case '\b': out->append("\\b"); break;
      case '\f': out->append("\\f"); break;
      default:
        if (c < 0x20) {
          out->append(fmt::format("\\u{:04x}", c));
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

std::string json_quote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  json_append_quoted(&out, s);
  return out;
}

std::optional<Document> Document::parse(std::string_view text) {
  Document doc;
  doc.parser_ = std::make_unique<simdjson::dom::parser>();
  auto result = doc.parser_->parse(text.data(), text.size(), true);
  if (result.error()) return std::nullopt;
  doc.root_ = result.value_unsafe();
  return doc;
}

std::optional<simdjson::dom::element> get_field(simdjson::dom::element obj,
                                                std::string_view key) {
  if (!obj.is_object()) return std::nullopt;
  auto r = obj.get_object().value_unsafe()[key];
  if (r.error()) return std::nullopt;
  return r.value_unsafe();
}

std::optional<std::string_view> get_string(simdjson::dom::element obj, std::string_view key) {
  auto f = get_field(obj, key);
  if (!f || !f->is_string()) return std::nullopt;
  return f->get_string().value_unsafe();
}

std::optional<int64_t> get_int(simdjson::dom::element obj, std::string_view key) {
  auto f = get_field(obj, key);
  if (!f) return std::nullopt;
  if (f->is_int64()) return f->get_int64().value_unsafe();
  if (f->is_uint64()) return static_cast<int64_t>(f->get_uint64().value_unsafe());
  if (f->is_double()) return static_cast<int64_t>(f->get_double().value_unsafe());
  return std::nullopt;
}

std::optional<double> get_number(simdjson::dom::element obj, std::string_view key) {
  auto f = get_field(obj, key);
  if (!f || !f->is_number()) return std::nullopt;
  return f->get_double().value_unsafe();
}

std::optional<bool> get_bool(simdjson::dom::element obj, std::string_view key) {
  auto f = get_field(obj, key);
  if (!f || !f->is_bool()) return std::nullopt;
  return f->get_bool().value_unsafe();
}

simdjson::dom::object as_object(simdjson::dom::element e) {
  simdjson::dom::object obj;
  if (e.get_object().get(obj) != simdjson::SUCCESS) return {};
  return obj;
}

simdjson::dom::array as_array(simdjson::dom::element e) {
  simdjson::dom::array arr;
  if (e.get_array().get(arr) != simdjson::SUCCESS) return {};
  return arr;
}

std::string compact_json(simdjson::dom::element e) { return simdjson::minify(e); }

namespace {

void pretty_into(std::string* out, simdjson::dom::element e, int depth) {
  const std::string indent(static_cast<size_t>(depth + 1) * 2, ' ');
  const std::string closing(static_cast<size_t>(depth) * 2, ' ');
  if (e.is_object()) {
    simdjson::dom::object obj = as_object(e);
    if (obj.size() == 0) {
      out->append("{}");
      return;
    }
    out->append("{\n");
    bool first = true;
    for (auto field : obj) {
      if (!first) out->append(",\n");
      first = false;
      out->append(indent);
      json_append_quoted(out, field.key);
      out->append(": ");
      pretty_into(out, field.value, depth + 1);
    }
    out->append("\n").append(closing).append("}");
  } else if (e.is_array()) {
    simdjson::dom::array arr = as_array(e);
    if (arr.size() == 0) {
      out->append("[]");
      return;
    }
    out->append("[\n");
    bool first = true;
    for (auto item : arr) {
      if (!first) out->append(",\n");
      first = false;
      out->append(indent);
      pretty_into(out, item, depth + 1);
    }
    out->append("\n").append(closing).append("]");
  } else {
    out->append(simdjson::minify(e));
  }
}

}  // namespace

std::string pretty_json(simdjson::dom::element e) {
  std::string out;
  pretty_into(&out, e, 0);
  return out;
}

std::string json_object_with(std::string_view base_object_json,
                             const std::vector<std::pair<std::string, std::string>>& raw_fields,
                             std::string_view what) {
  std::string out = "{";
  bool first = true;
  auto add = [&](std::string_view key, std::string_view raw_value) {
    if (!first) out.push_back(',');
    first = false;
    json_append_quoted(&out, key);
    out.push_back(':');
    out.append(raw_value);
  };
  if (!base_object_json.empty()) {
    auto doc = Document::parse(base_object_json);
    if (!doc || !doc->root().is_object()) {
      throw CliError(kExitUsage, fmt::format("{} must be a JSON object", what),
                     "quote it for the shell, e.g. --options '{\"durability\":\"full\"}'");
    }
    for (auto field : as_object(doc->root())) {
      bool overridden = false;
      for (const auto& [k, v] : raw_fields) overridden = overridden || field.key == k;
      if (!overridden) add(field.key, simdjson::minify(field.value));
    }
  }
  for (const auto& [k, v] : raw_fields) add(k, v);
  out.push_back('}');
  return out;
}

}  // namespace baton_cli
