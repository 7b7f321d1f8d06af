// The screenshot policy: when a test attempt fails, the reply to its
// test.end asks the client to capture evidence:
//   "capture":{"test":ID,"attempt":N,"kind":"screenshot","path":"screenshots/ID-N.png"}
// `path` is a suggestion (under `dir`, the test id made file-name safe).
// Clients that capture before reporting send the file with the failing
// test.end as an attachment; it is stored with that run and attempt and
// appears in every export. Clients that report first keep the capture as a
// CI artifact at the suggested path, or attach it to the test's next
// attempt when it is retried.
#include <fmt/format.h>

#include "common/json_writer.h"
#include "plugins/builtins.h"

namespace baton::plugins {

namespace {

class ScreenshotPlugin final : public Plugin {
 public:
  std::string kind = "screenshot";
  std::string dir = "screenshots";
  std::string extension = "png";
  std::vector<TestStatus> statuses{TestStatus::kFailed, TestStatus::kTimedout};

  uint32_t event_mask() const override { return event_type_bit(EventType::kTestEnd); }
  bool has_observer() const override { return false; }

  void annotate_reply(const PluginEvent& ev, std::string* fields) override {
    const Event& e = ev.event();
    bool wanted = false;
    for (TestStatus s : statuses) wanted = wanted || s == e.status;
    if (!wanted) return;
    int64_t attempt = e.attempt > 0 ? e.attempt : 1;
    fields->append(",\"capture\":");
    JsonWriter w(fields);
    w.begin_object().field("test", e.id).field("attempt", attempt).field("kind", kind);
    w.field("path", fmt::format("{}/{}-{}.{}", dir, file_safe(e.id), attempt, extension)).end_object();
  }
};

}  // namespace

Status make_screenshot(Settings& settings, std::unique_ptr<Plugin>* out) {
  auto p = std::make_unique<ScreenshotPlugin>();
  Status s = settings.string("kind", &p->kind);
  if (!s) return s;
  if (!(s = settings.string("dir", &p->dir))) return s;
  if (!(s = settings.string("extension", &p->extension))) return s;
  std::vector<std::string> statuses;
  if (!(s = settings.strings("statuses", &statuses))) return s;
  if (settings.has("statuses")) {
    p->statuses.clear();
    for (const std::string& name : statuses) {
      TestStatus st;
      if (!parse_test_status(name, &st)) {
        return settings.error("statuses", fmt::format("holds \"{}\", not a test status", name));
      }
      p->statuses.push_back(st);
    }
  }
  if (p->kind.empty()) return settings.error("kind", "must not be empty");
  if (!(s = settings.finish())) return s;
  *out = std::move(p);
  return Status::ok();
}

}  // namespace baton::plugins
