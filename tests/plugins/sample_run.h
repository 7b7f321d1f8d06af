// A run with every outcome the reports must render: nested suites, a pass,
// a failure with stack, output and attachments, a skip, a flaky test
// (failed, then passed), a test failing on every attempt, a timeout, and
// text holding markup and characters XML cannot carry.
#ifndef BATON_TESTS_PLUGINS_SAMPLE_RUN_H_
#define BATON_TESTS_PLUGINS_SAMPLE_RUN_H_

#include <string>

#include "core/helpers.h"

namespace baton::testing {

// Pushes the sample run `run` at manual times starting at `t0` (the engine
// must use {"clock":"manual"}); every push must be accepted.
inline void push_sample_run(Engine& e, const std::string& run, int64_t t0 = 1764140000000) {
  auto at = [&](int64_t offset_ms) { e.engine->clock_set(t0 + offset_ms); };
  auto push = [&](const std::string& client, const std::string& json) {
    Code code;
    std::string reply = e.push(client, json, &code);
    if (code != Code::kOk) throw std::runtime_error("refused: " + json + " -> " + reply);
    return reply;
  };
  at(0);
  push("ci-1", fmt::format(R"({{"type":"run.start","run":"{}","name":"nightly <main> & co","build":"b-7","platform":"linux"}})", run));
  push("ci-1", fmt::format(R"({{"type":"suite.start","run":"{}","id":"s-auth","name":"auth","file":"tests/auth.spec.ts"}})", run));
  push("ci-1", fmt::format(R"({{"type":"suite.start","run":"{}","id":"s-login","name":"login","parent":"s-auth","file":"tests/auth.spec.ts"}})", run));
  push("ci-2", fmt::format(R"({{"type":"suite.start","run":"{}","id":"s-cart","name":"cart","file":"tests/cart.spec.ts"}})", run));

  at(10);
  push("ci-1", fmt::format(R"({{"type":"test.start","run":"{}","id":"t-pass","name":"accepts a valid password","suite":"s-login","file":"tests/auth.spec.ts","worker":"w1"}})", run));
  push("ci-2", fmt::format(R"({{"type":"test.start","run":"{}","id":"t-fail","name":"adds an item <b>twice</b>","suite":"s-cart","file":"tests/cart.spec.ts","worker":"w2"}})", run));
  at(130);
  push("ci-1", fmt::format(R"({{"type":"test.end","run":"{}","id":"t-pass","status":"passed","duration_ms":120.5,"stdout":"logged in\n"}})", run));
  at(360);
  push("ci-2", fmt::format(
      R"({{"type":"test.end","run":"{}","id":"t-fail","status":"failed","duration_ms":350,)"
      R"("error":{{"message":"expected 2 items, got 1 \u0001 \u001b[31m & <cart>\nsecond line","type":"AssertionError","stack":"AssertionError: expected 2 items\n    at cart.spec.ts:12:5 \uffff"}},)"
      R"("stdout":"step 1 ok\nstep 2 ]]> failed\n","stderr":"warn: slow network\n",)"
      R"("attachments":[{{"name":"screenshot","content_type":"image/png","path":"artifacts/t-fail-1.png"}}]}})",
      run));

  at(400);
  push("ci-1", fmt::format(R"({{"type":"test.start","run":"{}","id":"t-skip","name":"pays with a gift card","suite":"s-cart","worker":"w1"}})", run));
  push("ci-1", fmt::format(R"({{"type":"test.end","run":"{}","id":"t-skip","status":"skipped","duration_ms":0,"error":{{"message":"gift cards are off in this build"}}}})", run));

  at(420);
  push("ci-1", fmt::format(R"({{"type":"test.start","run":"{}","id":"t-flaky","name":"logs out after idle","suite":"s-login","attempt":1,"worker":"w1"}})", run));
  at(520);
  push("ci-1", fmt::format(R"({{"type":"test.end","run":"{}","id":"t-flaky","status":"failed","attempt":1,"duration_ms":100,"error":{{"message":"timer fired late","stack":"Error: timer fired late\n    at idle.ts:3"}},"stdout":"idle 1\n"}})", run));
  at(530);
  push("ci-1", fmt::format(R"({{"type":"test.start","run":"{}","id":"t-flaky","name":"logs out after idle","suite":"s-login","attempt":2,"worker":"w2"}})", run));
  at(610);
  push("ci-1", fmt::format(R"({{"type":"test.end","run":"{}","id":"t-flaky","status":"passed","attempt":2,"duration_ms":80}})", run));

  at(620);
  push("ci-2", fmt::format(R"({{"type":"test.start","run":"{}","id":"t-broken","name":"applies a coupon","suite":"s-cart","attempt":1,"worker":"w2"}})", run));
  at(700);
  push("ci-2", fmt::format(R"({{"type":"test.end","run":"{}","id":"t-broken","status":"failed","attempt":1,"duration_ms":75,"error":{{"message":"coupon rejected: 500"}}}})", run));
  at(710);
  push("ci-2", fmt::format(R"({{"type":"test.start","run":"{}","id":"t-broken","name":"applies a coupon","suite":"s-cart","attempt":2,"worker":"w2"}})", run));
  at(800);
  push("ci-2", fmt::format(R"({{"type":"test.end","run":"{}","id":"t-broken","status":"failed","attempt":2,"duration_ms":85,"error":{{"message":"coupon rejected: 502"}}}})", run));

  at(810);
  push("ci-1", fmt::format(R"({{"type":"test.start","run":"{}","id":"t-slow","name":"loads the catalogue","worker":"w1","file":"tests/catalogue.spec.ts"}})", run));
  at(5810);
  push("ci-1", fmt::format(R"({{"type":"test.end","run":"{}","id":"t-slow","status":"timedout","duration_ms":5000,"error":{{"message":"Timeout of 5000ms exceeded"}}}})", run));

  push("ci-1", fmt::format(R"({{"type":"suite.end","run":"{}","id":"s-login"}})", run));
  push("ci-1", fmt::format(R"({{"type":"suite.end","run":"{}","id":"s-auth"}})", run));
  push("ci-2", fmt::format(R"({{"type":"suite.end","run":"{}","id":"s-cart"}})", run));
  at(6000);
  push("ci-1", fmt::format(R"({{"type":"run.end","run":"{}"}})", run));
}

}  // namespace baton::testing

#endif  // BATON_TESTS_PLUGINS_SAMPLE_RUN_H_
