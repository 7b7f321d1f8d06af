// The C ABI: a thin adapter from baton.h to the C++ core. No exception
// crosses this file's functions; every one maps failures to a status code and
// leaves the detail in baton_last_error().
#include "baton/baton.h"

#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

#include <fmt/format.h>

#include "baton/orchestrator.h"
#include "baton/version.h"
#include "orchestrator/engine_impl.h"

using baton::Code;
using baton::Status;

struct baton_engine {
  std::unique_ptr<baton::Orchestrator> rep;
};

struct baton_session {
  baton_engine* engine;
  std::unique_ptr<baton::Session> rep;
};

struct baton_event {
  baton::PluginEvent* rep;
  std::string json;  // NUL-terminated copy, made on first request
  bool json_ready = false;
};

namespace {

thread_local std::string tls_last_error;

int fail(int code, std::string message) {
  tls_last_error = std::move(message);
  return code;
}

int fail(const Status& s) { return fail(static_cast<int>(s.code()), s.message()); }

int succeed() {
  tls_last_error.clear();
  return BATON_OK;
}

// Copies `s` into a malloc'd NUL-terminated buffer for baton_free.
int hand_out(const std::string& s, char** out, size_t* out_len) {
  char* p = static_cast<char*>(std::malloc(s.size() + 1));
  if (p == nullptr) return fail(BATON_EINTERNAL, "out of memory");
  std::memcpy(p, s.data(), s.size());
  p[s.size()] = '\0';
  *out = p;
  if (out_len) *out_len = s.size();
  return BATON_OK;
}

template <typename Fn>
int guarded(Fn&& fn) {
  try {
    return fn();
  } catch (const std::bad_alloc&) {
    return fail(BATON_EINTERNAL, "out of memory");
  } catch (const std::exception& e) {
    return fail(BATON_EINTERNAL, fmt::format("internal error: {}", e.what()));
  } catch (...) {
    return fail(BATON_EINTERNAL, "internal error");
  }
}

std::string_view opt(const char* s) { return s ? std::string_view(s) : std::string_view(); }

// Function pointers behind the C++ plugin interface.
class CPlugin final : public baton::Plugin {
 public:
  CPlugin(baton_filter_fn filter, baton_observe_fn observe, baton_destroy_fn destroy, void* ud)
      : filter_(filter), observe_(observe), destroy_(destroy), user_data_(ud) {}
  ~CPlugin() override {
    if (destroy_) destroy_(user_data_);
  }
  bool has_filter() const override { return filter_ != nullptr; }
  bool has_observer() const override { return observe_ != nullptr; }

  Status filter(baton::PluginEvent& ev) override {
    baton_event cev{&ev, {}, false};
    int rc = filter_(user_data_, &cev);
    if (rc == BATON_OK) return Status::ok();
    if (rc == BATON_EREJECTED) return Status::error(Code::kRejected, "rejected");
    return Status::error(Code::kUser, fmt::format("filter returned {} ({})", rc,
                                                  baton::code_name(rc)));
  }

  Status observe(const baton::PluginEvent& ev) override {
    baton_event cev{const_cast<baton::PluginEvent*>(&ev), {}, false};
    int rc = observe_(user_data_, &cev);
    if (rc == BATON_OK) return Status::ok();
    return Status::error(Code::kUser, fmt::format("observer returned {} ({})", rc,
                                                  baton::code_name(rc)));
  }

 private:
  baton_filter_fn filter_;
  baton_observe_fn observe_;
  baton_destroy_fn destroy_;
  void* user_data_;
};

}  // namespace

extern "C" {

const char* baton_version(void) { return BATON_VERSION_STRING; }

int baton_abi_version(void) { return BATON_ABI_VERSION; }

const char* baton_status_name(int status) { return baton::code_name(status); }

const char* baton_last_error(void) { return tls_last_error.c_str(); }

void baton_free(void* p) { std::free(p); }

int baton_open(const char* options_json, baton_engine** out) {
  return guarded([&] {
    if (out == nullptr) return fail(BATON_EINVALID_ARGUMENT, "out is NULL");
    *out = nullptr;
    baton::EngineOptions options;
    Status s = baton::EngineOptions::from_json(opt(options_json), &options);
    if (!s) return fail(s);
    auto engine = std::make_unique<baton_engine>();
    s = baton::Orchestrator::open(options, &engine->rep);
    if (!s) return fail(s);
    *out = engine.release();
    return succeed();
  });
}

int baton_close(baton_engine* e) {
  if (e == nullptr) return succeed();
  return guarded([&] {
    Status s = e->rep->close();
    delete e;
    return s ? succeed() : fail(s);
  });
}

int baton_flush(baton_engine* e) {
  return guarded([&] {
    if (e == nullptr) return fail(BATON_EINVALID_ARGUMENT, "engine is NULL");
    Status s = e->rep->flush();
    return s ? succeed() : fail(s);
  });
}

int baton_clock_set(baton_engine* e, int64_t now_ms) {
  return guarded([&] {
    if (e == nullptr) return fail(BATON_EINVALID_ARGUMENT, "engine is NULL");
    Status s = e->rep->clock_set(now_ms);
    return s ? succeed() : fail(s);
  });
}

int baton_access_reload(baton_engine* e, const char* access_json) {
  return guarded([&] {
    if (e == nullptr) return fail(BATON_EINVALID_ARGUMENT, "engine is NULL");
    Status s = e->rep->access_reload(opt(access_json));
    return s ? succeed() : fail(s);
  });
}

int baton_session_open(baton_engine* e, const char* credentials_json, baton_session** out) {
  return guarded([&] {
    if (out == nullptr) return fail(BATON_EINVALID_ARGUMENT, "out is NULL");
    *out = nullptr;
    if (e == nullptr) return fail(BATON_EINVALID_ARGUMENT, "engine is NULL");
    auto session = std::make_unique<baton_session>();
    session->engine = e;
    Status s = e->rep->open_session(opt(credentials_json), &session->rep);
    if (!s) return fail(s);
    *out = session.release();
    return succeed();
  });
}

int baton_session_close(baton_session* s) {
  if (s == nullptr) return succeed();
  return guarded([&] {
    s->engine->rep->close_session(s->rep.get());
    delete s;
    return succeed();
  });
}

int baton_push(baton_session* s, const char* msg, size_t len, char** reply, size_t* reply_len) {
  if (reply) *reply = nullptr;
  if (reply_len) *reply_len = 0;
  std::string text;
  int rc = guarded([&] {
    if (s == nullptr) {
      Status st = Status::error(Code::kInvalidArgument, "session is NULL");
      baton::refusal_reply(st, &text);
      return fail(st);
    }
    if (msg == nullptr && len > 0) {
      Status st = Status::error(Code::kInvalidArgument, "msg is NULL");
      baton::refusal_reply(st, &text);
      return fail(st);
    }
    Status st = s->engine->rep->push(s->rep.get(), std::string_view(msg ? msg : "", len), &text);
    return st ? succeed() : fail(st);
  });
  if (reply) {
    if (text.empty()) {
      text = fmt::format("{{\"ok\":false,\"code\":\"{}\",\"error\":\"internal error\"}}",
                         baton::code_name(rc));
    }
    int h = hand_out(text, reply, reply_len);
    if (h != BATON_OK) return h;
  }
  return rc;
}

int baton_session_query(baton_session* s, const char* request_json, char** out,
                        size_t* out_len) {
  return guarded([&] {
    if (out) *out = nullptr;
    if (s == nullptr || request_json == nullptr || out == nullptr) {
      return fail(BATON_EINVALID_ARGUMENT, "session, request_json and out must not be NULL");
    }
    std::string answer;
    Status st = s->engine->rep->query_as(s->rep.get(), request_json, &answer);
    if (!st) return fail(st);
    int h = hand_out(answer, out, out_len);
    return h == BATON_OK ? succeed() : h;
  });
}

int baton_query(baton_engine* e, const char* request_json, char** out, size_t* out_len) {
  return guarded([&] {
    if (out) *out = nullptr;
    if (e == nullptr || request_json == nullptr || out == nullptr) {
      return fail(BATON_EINVALID_ARGUMENT, "engine, request_json and out must not be NULL");
    }
    std::string answer;
    Status st = e->rep->query(request_json, &answer);
    if (!st) return fail(st);
    int h = hand_out(answer, out, out_len);
    return h == BATON_OK ? succeed() : h;
  });
}

int baton_export(baton_engine* e, const char* run, const char* format, char** out,
                 size_t* out_len) {
  return guarded([&] {
    if (out) *out = nullptr;
    if (e == nullptr || run == nullptr || format == nullptr || out == nullptr) {
      return fail(BATON_EINVALID_ARGUMENT, "engine, run, format and out must not be NULL");
    }
    std::string text;
    Status st = e->rep->export_run(run, format, &text);
    if (!st) return fail(st);
    int h = hand_out(text, out, out_len);
    return h == BATON_OK ? succeed() : h;
  });
}

const char* baton_event_type(const baton_event* ev) {
  if (ev == nullptr) return "";
  return ev->rep->type_name();
}

const char* baton_event_json(const baton_event* ev, size_t* len) {
  if (ev == nullptr) {
    if (len) *len = 0;
    return "";
  }
  auto* mut = const_cast<baton_event*>(ev);
  if (!mut->json_ready) {
    mut->json.assign(ev->rep->json());
    mut->json_ready = true;
  }
  if (len) *len = mut->json.size();
  return mut->json.c_str();
}

int64_t baton_event_seq(const baton_event* ev) { return ev ? ev->rep->seq() : 0; }

int baton_event_replace(baton_event* ev, const char* json, size_t len) {
  return guarded([&] {
    if (ev == nullptr || json == nullptr) {
      return fail(BATON_EINVALID_ARGUMENT, "event and json must not be NULL");
    }
    Status s = ev->rep->replace(std::string_view(json, len));
    if (!s) return fail(s);
    ev->json.assign(json, len);
    ev->json_ready = true;
    return succeed();
  });
}

int baton_plugin_add(baton_engine* e, const char* name, baton_filter_fn filter,
                     baton_observe_fn observe, baton_destroy_fn destroy, void* user_data,
                     uint64_t* out_id) {
  // Until the plugin object owns user_data, a failure must call destroy here.
  bool owned = false;
  int rc = guarded([&] {
    if (e == nullptr || name == nullptr || out_id == nullptr) {
      return fail(BATON_EINVALID_ARGUMENT, "engine, name and out_id must not be NULL");
    }
    if (filter == nullptr && observe == nullptr) {
      return fail(BATON_EINVALID_ARGUMENT, "a plugin needs a filter or an observe function");
    }
    auto plugin = std::make_unique<CPlugin>(filter, observe, destroy, user_data);
    owned = true;  // from here on, destroying `plugin` calls destroy
    Status s = e->rep->add_plugin(name, std::move(plugin), out_id);
    return s ? succeed() : fail(s);
  });
  if (!owned && destroy != nullptr) destroy(user_data);
  return rc;
}

int baton_plugin_remove(baton_engine* e, uint64_t id) {
  return guarded([&] {
    if (e == nullptr) return fail(BATON_EINVALID_ARGUMENT, "engine is NULL");
    Status s = e->rep->remove_plugin(id);
    return s ? succeed() : fail(s);
  });
}

int baton_set_logger(baton_engine* e, baton_log_fn fn, int min_level, void* user_data) {
  return guarded([&] {
    if (e == nullptr) return fail(BATON_EINVALID_ARGUMENT, "engine is NULL");
    if (fn == nullptr) {
      e->rep->set_logger(nullptr, min_level);
    } else {
      e->rep->set_logger(
          [fn, user_data](int level, std::string_view message) {
            std::string text(message);
            fn(user_data, level, text.c_str());
          },
          min_level);
    }
    return succeed();
  });
}

int baton_replay(baton_engine* e, const char* filter_json, baton_replay_fn fn, void* user_data) {
  return guarded([&] {
    if (e == nullptr || fn == nullptr) return fail(BATON_EINVALID_ARGUMENT, "engine and fn must not be NULL");
    Status s = e->rep->replay(opt(filter_json), [&](const baton::PluginEvent& ev) {
      baton_event cev{const_cast<baton::PluginEvent*>(&ev), {}, false};
      return fn(user_data, &cev) == 0;
    });
    return s ? succeed() : fail(s);
  });
}

}  // extern "C"
