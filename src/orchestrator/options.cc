#include <simdjson.h>

#include <fmt/format.h>

#include "baton/event.h"
#include "baton/orchestrator.h"

namespace baton {

namespace {

Status bad(std::string message) { return Status::error(Code::kInvalidArgument, std::move(message)); }

}  // namespace

Status EngineOptions::from_json(std::string_view json, EngineOptions* out) {
  *out = EngineOptions();
  if (json.find_first_not_of(" \t\r\n") == std::string_view::npos) return Status::ok();
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(json.data(), json.size()).get(root) != simdjson::SUCCESS) {
    return bad("options are not well-formed JSON");
  }
  simdjson::dom::object obj;
  if (root.get(obj) != simdjson::SUCCESS) return bad("options must be a JSON object");
  for (auto field : obj) {
    std::string_view key = field.key;
    simdjson::dom::element v = field.value;
    auto want_string = [&](std::string* dst) -> Status {
      std::string_view s;
      if (v.get(s) != simdjson::SUCCESS) return bad(fmt::format("option \"{}\" must be a string", key));
      dst->assign(s);
      return Status::ok();
    };
    auto want_int = [&](int64_t* dst, int64_t min, int64_t max = kMaxSpanMs) -> Status {
      int64_t n;
      if (v.get(n) != simdjson::SUCCESS || n < min || n > max) {
        return bad(fmt::format("option \"{}\" must be an integer from {} to {}", key, min, max));
      }
      *dst = n;
      return Status::ok();
    };
    Status s;
    if (key == "path") {
      s = want_string(&out->store.path);
      if (s && out->store.path.empty()) s = bad("option \"path\" must not be empty");
    } else if (key == "durability") {
      std::string d;
      s = want_string(&d);
      if (!s) return s;
      if (d == "full") out->store.durability = Durability::kFull;
      else if (d == "normal") out->store.durability = Durability::kNormal;
      else if (d == "async") out->store.durability = Durability::kAsync;
      else return bad(fmt::format("option \"durability\" must be \"full\", \"normal\" or \"async\", not \"{}\"", d));
    } else if (key == "clock") {
      std::string c;
      s = want_string(&c);
      if (!s) return s;
      if (c == "manual") out->manual_clock = true;
      else if (c == "system") out->manual_clock = false;
      else return bad(fmt::format("option \"clock\" must be \"system\" or \"manual\", not \"{}\"", c));
    } else if (key == "store") {
      s = want_string(&out->store_kind);
      if (s && out->store_kind != "sqlite" && out->store_kind != "postgresql") {
        return bad(fmt::format("option \"store\" must be \"sqlite\" or \"postgresql\", not \"{}\"", out->store_kind));
      }
    } else if (key == "sqlite_vfs") {
      s = want_string(&out->store.sqlite_vfs);
    } else if (key == "dsn") {
      s = want_string(&out->store.dsn);
    } else if (key == "ack_journal") {
      if (v.get(out->store.ack_journal) != simdjson::SUCCESS) {
        return bad("option \"ack_journal\" must be true or false");
      }
    } else if (key == "async_flush_ms") {
      s = want_int(&out->store.async_flush_ms, 1);
    } else if (key == "session_grace_ms") {
      s = want_int(&out->session_grace_ms, 0);
    } else if (key == "limits" || key == "rate_limit" || key == "access" || key == "plugins") {
      if (!v.is_object()) return bad(fmt::format("option \"{}\" must be an object", key));
      std::string sub = simdjson::minify(v);
      if (key == "limits") {
        s = Limits::from_json(sub, &out->limits);
      } else if (key == "rate_limit") {
        s = RateLimitOptions::from_json(sub, &out->rate_limit);
      } else if (key == "access") {
        out->access_json = std::move(sub);
      } else {
        out->plugins_json = std::move(sub);
      }
      if (!s) return Status::error(Code::kInvalidArgument, fmt::format("option \"{}\": {}", key, s.message()));
    } else {
      return bad(fmt::format("unknown option \"{}\"", key));
    }
    if (!s) return s;
  }
  return Status::ok();
}

}  // namespace baton
