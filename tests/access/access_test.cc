#include <catch2/catch.hpp>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "baton/access.h"

using baton::AccessController;
using baton::Code;
using baton::EventType;
using baton::Principal;
using baton::sha256_hex;
using baton::Status;

namespace {

constexpr const char* kReporterToken = "reporter-token-0f3a";
constexpr const char* kWorkerToken = "worker-token-77c1";
constexpr const char* kViewerToken = "viewer-token-9e02";
constexpr const char* kAdminToken = "admin-token-5b6d";
constexpr const char* kScopedToken = "scoped-token-c4e8";

const EventType kAllTypes[] = {
    EventType::kRunStart,   EventType::kRunEnd,   EventType::kRunCancel,
    EventType::kSuiteStart, EventType::kSuiteEnd, EventType::kTestStart,
    EventType::kTestEnd,    EventType::kTestLog,  EventType::kQueueClaim,
    EventType::kSpecEnd,    EventType::kWorkerHeartbeat,
};

std::string token_entry(const std::string& token, const std::string& roles,
                        const std::string& extra = "") {
  return R"({"sha256": ")" + sha256_hex(token) + R"(", "roles": )" + roles + extra + "}";
}

std::string standard_config() {
  return R"({"tokens": [)" + token_entry(kReporterToken, R"(["reporter"])") + "," +
         token_entry(kWorkerToken, R"(["worker"])") + "," +
         token_entry(kViewerToken, R"(["viewer"])") + "," +
         token_entry(kAdminToken, R"(["admin"])") + "," +
         token_entry(kScopedToken, R"(["reporter", "worker"])",
                     R"(, "runs": "nightly-*", "clients": "ci-*")") +
         "]}";
}

std::string credentials(const std::string& client, const std::string& token) {
  return R"({"client": ")" + client + R"(", "token": ")" + token + R"("})";
}

Principal login(const AccessController& ac, const std::string& token,
                const std::string& client = "ci-1") {
  Principal p;
  const Status st = ac.authenticate(credentials(client, token), &p);
  INFO(st.message());
  REQUIRE(st.is_ok());
  return p;
}

// Which of reporter/worker/viewer/admin may send each message type.
bool expected_allowed(const char* role, EventType type) {
  const std::string r = role;
  if (r == "admin") return true;
  if (r == "viewer") return false;
  switch (type) {
    case EventType::kRunStart:
      return r == "reporter" || r == "worker";
    case EventType::kRunEnd:
    case EventType::kSuiteStart:
    case EventType::kSuiteEnd:
    case EventType::kTestStart:
    case EventType::kTestEnd:
    case EventType::kTestLog:
      return r == "reporter";
    case EventType::kQueueClaim:
    case EventType::kSpecEnd:
    case EventType::kWorkerHeartbeat:
      return r == "worker";
    case EventType::kRunCancel:
      return false;
  }
  return false;
}

}  // namespace

TEST_CASE("sha256_hex is lowercase hex SHA-256", "[access]") {
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha256_hex(std::string("a\0b", 3)) != sha256_hex("a"));
}

TEST_CASE("open mode admits everyone for everything", "[access]") {
  AccessController ac;
  CHECK(ac.open_mode());
  Principal p;
  REQUIRE(ac.authenticate("", &p).is_ok());
  CHECK(p.client == "anonymous");
  CHECK(p.open_mode);
  CHECK(p.digest.empty());
  REQUIRE(ac.authenticate(R"({"client": "ci-7"})", &p).is_ok());
  CHECK(p.client == "ci-7");
  for (EventType type : kAllTypes) CHECK(ac.authorize(p, type, "any-run").is_ok());
  CHECK(ac.authorize_role(p, baton::kRoleAdmin, "any-run").is_ok());
  // Reloading with empty or null json is open mode as well.
  REQUIRE(ac.reload(standard_config()).is_ok());
  CHECK_FALSE(ac.open_mode());
  REQUIRE(ac.reload("").is_ok());
  CHECK(ac.open_mode());
  REQUIRE(ac.reload(standard_config()).is_ok());
  REQUIRE(ac.reload(" null ").is_ok());
  CHECK(ac.open_mode());
}

TEST_CASE("every role against every message type", "[access][roles]") {
  AccessController ac;
  REQUIRE(ac.reload(standard_config()).is_ok());
  const std::pair<const char*, const char*> roles[] = {
      {"reporter", kReporterToken},
      {"worker", kWorkerToken},
      {"viewer", kViewerToken},
      {"admin", kAdminToken},
  };
  for (const auto& [role, token] : roles) {
    const Principal p = login(ac, token);
    CHECK_FALSE(p.open_mode);
    CHECK(p.digest == sha256_hex(token));
    for (EventType type : kAllTypes) {
      INFO(role << " sends " << baton::event_type_name(type));
      const Status st = ac.authorize(p, type, "run-1");
      if (expected_allowed(role, type)) {
        CHECK(st.is_ok());
      } else {
        CHECK(st.code() == Code::kDenied);
        CHECK_THAT(st.message(), Catch::StartsWith("token lacks role "));
        CHECK_THAT(st.message(), Catch::EndsWith(std::string(" for ") +
                                                 baton::event_type_name(type)));
        CHECK(st.field() == "type");
      }
    }
  }
  const Principal worker = login(ac, kWorkerToken);
  CHECK(ac.authorize(worker, EventType::kTestEnd, "r").message() ==
        "token lacks role reporter for test.end");
  const Principal reporter = login(ac, kReporterToken);
  CHECK(ac.authorize(reporter, EventType::kQueueClaim, "r").message() ==
        "token lacks role worker for queue.claim");
  CHECK(ac.authorize(reporter, EventType::kRunCancel, "r").message() ==
        "token lacks role admin for run.cancel");
  const Principal viewer = login(ac, kViewerToken);
  CHECK(ac.authorize(viewer, EventType::kRunStart, "r").message() ==
        "token lacks role reporter or worker for run.start");
}

TEST_CASE("run scope", "[access][scope]") {
  AccessController ac;
  REQUIRE(ac.reload(standard_config()).is_ok());
  const Principal p = login(ac, kScopedToken, "ci-3");
  CHECK(ac.authorize(p, EventType::kTestEnd, "nightly-2024-05-01").is_ok());
  CHECK(ac.authorize(p, EventType::kQueueClaim, "nightly-1").is_ok());
  const Status st = ac.authorize(p, EventType::kTestEnd, "x");
  CHECK(st.code() == Code::kDenied);
  CHECK(st.message() == R"(run "x" is outside this token's scope "nightly-*")");
  CHECK(st.field() == "run");
  CHECK(ac.authorize(p, EventType::kRunStart, "weekly-1").code() == Code::kDenied);
  CHECK(ac.authorize(p, EventType::kRunStart, "").code() == Code::kDenied);
  // A heartbeat names no run: a scoped worker may send it.
  CHECK(ac.authorize(p, EventType::kWorkerHeartbeat, "").is_ok());
  // ... but a heartbeat naming a run outside the scope is still refused.
  CHECK(ac.authorize(p, EventType::kWorkerHeartbeat, "weekly-1").code() == Code::kDenied);
  // Role is checked before scope: the missing role is what gets reported.
  CHECK(ac.authorize(p, EventType::kRunCancel, "x").message() ==
        "token lacks role admin for run.cancel");
  // Heartbeat without a run still needs the worker role.
  const Principal reporter = login(ac, kReporterToken);
  CHECK(ac.authorize(reporter, EventType::kWorkerHeartbeat, "").message() ==
        "token lacks role worker for worker.heartbeat");
  const Principal admin = login(ac, kAdminToken);
  CHECK(ac.authorize(admin, EventType::kWorkerHeartbeat, "").is_ok());
}

TEST_CASE("client scope", "[access][scope]") {
  AccessController ac;
  REQUIRE(ac.reload(standard_config()).is_ok());
  Principal p;
  CHECK(ac.authenticate(credentials("ci-12", kScopedToken), &p).is_ok());
  CHECK(p.client == "ci-12");

  const Status outside = ac.authenticate(credentials("laptop", kScopedToken), &p);
  CHECK(outside.code() == Code::kDenied);
  CHECK(outside.message() == R"(client "laptop" is outside this token's client scope "ci-*")");
  CHECK(outside.field() == "client");

  // Without a client the session is "anonymous", which ci-* does not cover.
  const std::string no_client = std::string(R"({"token": ")") + kScopedToken + "\"}";
  CHECK(ac.authenticate(no_client, &p).code() == Code::kDenied);
  const std::string unscoped = std::string(R"({"token": ")") + kReporterToken + "\"}";
  REQUIRE(ac.authenticate(unscoped, &p).is_ok());
  CHECK(p.client == "anonymous");

  // A principal whose client is outside the scope (say, the scope was
  // narrowed) is refused on every message.
  Principal forged = login(ac, kScopedToken, "ci-1");
  forged.client = "laptop";
  CHECK(ac.authorize(forged, EventType::kTestEnd, "nightly-1").field() == "client");
}

TEST_CASE("reload revokes and narrows open sessions at once", "[access][reload]") {
  AccessController ac;
  REQUIRE(ac.reload(standard_config()).is_ok());
  const Principal reporter = login(ac, kReporterToken);
  const Principal worker = login(ac, kWorkerToken);
  REQUIRE(ac.authorize(reporter, EventType::kTestEnd, "nightly-1").is_ok());

  SECTION("a token removed from the configuration") {
    REQUIRE(ac.reload(R"({"tokens": [)" + token_entry(kWorkerToken, R"(["worker"])") + "]}")
                .is_ok());
    const Status st = ac.authorize(reporter, EventType::kTestEnd, "nightly-1");
    CHECK(st.code() == Code::kDenied);
    CHECK(st.message() == "token was revoked");
    CHECK(ac.authorize_role(reporter, baton::kRoleViewer, "").message() == "token was revoked");
    CHECK(ac.authorize(worker, EventType::kQueueClaim, "nightly-1").is_ok());
    Principal again;
    CHECK(ac.authenticate(credentials("ci-1", kReporterToken), &again).code() == Code::kDenied);
  }
  SECTION("a token's runs narrowed") {
    REQUIRE(ac.reload(R"({"tokens": [)" +
                      token_entry(kReporterToken, R"(["reporter"])", R"(, "runs": "nightly-*")") +
                      "]}")
                .is_ok());
    CHECK(ac.authorize(reporter, EventType::kTestEnd, "nightly-1").is_ok());
    CHECK(ac.authorize(reporter, EventType::kTestEnd, "adhoc").message() ==
          R"(run "adhoc" is outside this token's scope "nightly-*")");
  }
  SECTION("a token's roles narrowed") {
    REQUIRE(ac.reload(R"({"tokens": [)" + token_entry(kReporterToken, R"(["viewer"])") + "]}")
                .is_ok());
    CHECK(ac.authorize(reporter, EventType::kTestEnd, "nightly-1").message() ==
          "token lacks role reporter for test.end");
  }
  SECTION("a token's clients narrowed") {
    REQUIRE(ac.reload(R"({"tokens": [)" +
                      token_entry(kReporterToken, R"(["reporter"])", R"(, "clients": "gpu-*")") +
                      "]}")
                .is_ok());
    CHECK(ac.authorize(reporter, EventType::kTestEnd, "nightly-1").message() ==
          R"(client "ci-1" is outside this token's client scope "gpu-*")");
  }
  SECTION("an empty token list denies everyone") {
    REQUIRE(ac.reload(R"({"tokens": []})").is_ok());
    CHECK_FALSE(ac.open_mode());
    CHECK(ac.authorize(reporter, EventType::kTestEnd, "nightly-1").code() == Code::kDenied);
    Principal p;
    CHECK(ac.authenticate("", &p).code() == Code::kDenied);
  }
  SECTION("open mode, then access again") {
    AccessController fresh;
    Principal anonymous;
    REQUIRE(fresh.authenticate("", &anonymous).is_ok());
    Principal with_token;
    REQUIRE(fresh.authenticate(credentials("ci-1", kReporterToken), &with_token).is_ok());
    CHECK(with_token.open_mode);
    REQUIRE(fresh.reload(standard_config()).is_ok());
    // A session that presented no token has nothing to be authorized with...
    const Status st = fresh.authorize(anonymous, EventType::kTestEnd, "r");
    CHECK(st.code() == Code::kDenied);
    CHECK_THAT(st.message(), Catch::Contains("no token"));
    // ... one that presented a configured token keeps that token's rights.
    CHECK(fresh.authorize(with_token, EventType::kTestEnd, "r").is_ok());
    CHECK(fresh.authorize(with_token, EventType::kRunCancel, "r").code() == Code::kDenied);
    REQUIRE(fresh.reload("").is_ok());
    CHECK(fresh.authorize(anonymous, EventType::kRunCancel, "r").is_ok());
  }
}

TEST_CASE("authorize_role for operations that are not messages", "[access][roles]") {
  AccessController ac;
  REQUIRE(ac.reload(standard_config()).is_ok());
  const Principal viewer = login(ac, kViewerToken);
  const Principal admin = login(ac, kAdminToken);
  const Principal reporter = login(ac, kReporterToken);
  const Principal scoped = login(ac, kScopedToken);
  CHECK(ac.authorize_role(viewer, baton::kRoleViewer, "").is_ok());
  CHECK(ac.authorize_role(viewer, baton::kRoleViewer, "run-1").is_ok());
  CHECK(ac.authorize_role(admin, baton::kRoleViewer, "run-1").is_ok());
  CHECK(ac.authorize_role(admin, baton::kRoleAdmin, "").is_ok());
  const Status st = ac.authorize_role(reporter, baton::kRoleViewer, "run-1");
  CHECK(st.code() == Code::kDenied);
  CHECK(st.message() == "token lacks role viewer for this operation");
  CHECK(ac.authorize_role(viewer, baton::kRoleAdmin, "").message() ==
        "token lacks role admin for this operation");
  CHECK(ac.authorize_role(scoped, baton::kRoleWorker, "nightly-3").is_ok());
  CHECK(ac.authorize_role(scoped, baton::kRoleWorker, "other").message() ==
        R"(run "other" is outside this token's scope "nightly-*")");
}

TEST_CASE("malformed credentials and unknown tokens", "[access][credentials]") {
  AccessController ac;
  REQUIRE(ac.reload(standard_config()).is_ok());
  Principal p;
  p.client = "unchanged";
  struct Case {
    const char* json;
    const char* field;
  };
  const Case malformed[] = {
      {R"({"client": "a", "token": )", "credentials"},
      {R"(["client", "token"])", "credentials"},
      {R"({"client": "a", "tokn": "x"})", "tokn"},
      {R"({"client": 5})", "client"},
      {R"({"client": ""})", "client"},
      {R"({"token": 12})", "token"},
      {R"({"client": "a", "client": "b"})", "client"},
  };
  for (const Case& c : malformed) {
    INFO(c.json);
    const Status st = ac.authenticate(c.json, &p);
    CHECK(st.code() == Code::kInvalidArgument);
    CHECK(st.field() == c.field);
  }
  const std::string long_client = credentials(std::string(257, 'c'), kAdminToken);
  CHECK(ac.authenticate(long_client, &p).code() == Code::kInvalidArgument);

  const Status missing = ac.authenticate(R"({"client": "ci-1"})", &p);
  CHECK(missing.code() == Code::kDenied);
  CHECK_THAT(missing.message(), Catch::Contains("token is required"));
  CHECK(ac.authenticate(credentials("ci-1", ""), &p).code() == Code::kDenied);
  const Status unknown = ac.authenticate(credentials("ci-1", "guess"), &p);
  CHECK(unknown.code() == Code::kDenied);
  CHECK(unknown.message() == "unknown token");
  // The token is matched exactly: its hash, not a prefix or a case-folding.
  CHECK(ac.authenticate(credentials("ci-1", std::string(kAdminToken) + " "), &p).code() ==
        Code::kDenied);
  CHECK(ac.authenticate(credentials("ci-1", "ADMIN-TOKEN-5B6D"), &p).code() == Code::kDenied);
  CHECK(p.client == "unchanged");
}

TEST_CASE("digests are compared whole", "[access][credentials]") {
  AccessController ac;
  // Upper-case hex in the configuration names the same digest.
  std::string upper = sha256_hex(kAdminToken);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  REQUIRE(ac.reload(R"({"tokens": [{"sha256": ")" + upper + R"(", "roles": ["admin"]}]})")
              .is_ok());
  Principal p = login(ac, kAdminToken);
  CHECK(ac.authorize(p, EventType::kRunCancel, "r").is_ok());
  // A principal whose digest differs in any single byte matches nothing.
  for (size_t i : {size_t{0}, size_t{31}, size_t{63}}) {
    Principal altered = p;
    altered.digest[i] = altered.digest[i] == '0' ? '1' : '0';
    CHECK(ac.authorize(altered, EventType::kRunCancel, "r").message() == "token was revoked");
  }
  Principal truncated = p;
  truncated.digest.pop_back();
  CHECK(ac.authorize(truncated, EventType::kRunCancel, "r").code() == Code::kDenied);
  Principal garbage = p;
  garbage.digest = std::string(64, 'z');
  CHECK(ac.authorize(garbage, EventType::kRunCancel, "r").code() == Code::kDenied);
}

TEST_CASE("bad configurations are refused naming the problem, keeping the old one",
          "[access][reload]") {
  AccessController ac;
  REQUIRE(ac.reload(standard_config()).is_ok());
  const Principal admin = login(ac, kAdminToken);
  const std::string good_hex = sha256_hex("x");
  struct Case {
    std::string json;
    std::string field;
    std::string mentions;
  };
  const std::vector<Case> cases = {
      {R"({"tokens": [], "mode": "strict"})", "access.mode", "mode"},
      {R"({"tokens": {}})", "access.tokens", "tokens"},
      {R"({})", "access.tokens", "tokens"},
      {R"([])", "access", "access"},
      {R"({"tokens": [)", "access", "JSON"},
      {R"({"tokens": ["abc"]})", "access.tokens[0]", "access.tokens[0]"},
      {R"({"tokens": [{"sha256": ")" + good_hex + R"(", "roles": ["admin"], "name": "x"}]})",
       "access.tokens[0].name", "name"},
      {R"({"tokens": [{"sha256": ")" + good_hex.substr(1) + R"(", "roles": ["admin"]}]})",
       "access.tokens[0].sha256", "64 hexadecimal digits"},
      {R"({"tokens": [{"sha256": ")" + good_hex.substr(1) + R"(g", "roles": ["admin"]}]})",
       "access.tokens[0].sha256", "64 hexadecimal digits"},
      {R"({"tokens": [{"sha256": 5, "roles": ["admin"]}]})", "access.tokens[0].sha256",
       "sha256"},
      {R"({"tokens": [{"roles": ["admin"]}]})", "access.tokens[0].sha256", "required"},
      {R"({"tokens": [{"sha256": ")" + good_hex + R"("}]})", "access.tokens[0].roles",
       "required"},
      {R"({"tokens": [{"sha256": ")" + good_hex + R"(", "roles": []}]})",
       "access.tokens[0].roles", "empty"},
      {R"({"tokens": [{"sha256": ")" + good_hex + R"(", "roles": "admin"}]})",
       "access.tokens[0].roles", "array"},
      {R"({"tokens": [{"sha256": ")" + good_hex + R"(", "roles": ["reporter", "root"]}]})",
       "access.tokens[0].roles[1]", "\"root\""},
      {R"({"tokens": [{"sha256": ")" + good_hex + R"(", "roles": [1]}]})",
       "access.tokens[0].roles[0]", "role"},
      {R"({"tokens": [{"sha256": ")" + good_hex + R"(", "roles": ["admin"], "runs": ""}]})",
       "access.tokens[0].runs", "runs"},
      {R"({"tokens": [{"sha256": ")" + good_hex + R"(", "roles": ["admin"], "clients": 3}]})",
       "access.tokens[0].clients", "clients"},
      {R"({"tokens": [{"sha256": ")" + good_hex + R"(", "roles": ["admin"]}, {"sha256": ")" +
           good_hex + R"(", "roles": ["viewer"]}]})",
       "access.tokens[1].sha256", "access.tokens[0]"},
  };
  for (const Case& c : cases) {
    INFO(c.json);
    const Status st = ac.reload(c.json);
    CHECK(st.code() == Code::kInvalidArgument);
    CHECK(st.field() == c.field);
    CHECK_THAT(st.message(), Catch::Contains(c.mentions));
    CHECK_THAT(st.message(), !Catch::Contains(good_hex));
    CHECK_THAT(st.message(), !Catch::Contains(good_hex.substr(1)));
  }
  // The configuration in force before is untouched.
  CHECK_FALSE(ac.open_mode());
  CHECK(ac.authorize(admin, EventType::kRunCancel, "r").is_ok());
  Principal p;
  CHECK(ac.authenticate(credentials("ci-1", "x"), &p).code() == Code::kDenied);
}

TEST_CASE("no message ever contains a token or its digest", "[access][secrecy]") {
  const std::string secret = "s3cr3t-TOKEN-value-1234567890";
  const std::string digest = sha256_hex(secret);
  std::vector<Status> seen;
  AccessController ac;
  const std::string scoped =
      R"({"tokens": [)" +
      token_entry(secret, R"(["reporter"])", R"(, "runs": "nightly-*", "clients": "ci-*")") + "]}";
  REQUIRE(ac.reload(scoped).is_ok());
  Principal p;
  seen.push_back(ac.authenticate(credentials("laptop", secret), &p));
  seen.push_back(ac.authenticate(credentials("ci-1", secret + "x"), &p));
  seen.push_back(ac.authenticate(R"({"client": "ci-1", "token": ")" + secret + R"(", "x": 1})", &p));
  seen.push_back(ac.authenticate(R"({"client": 1, "token": ")" + secret + R"("})", &p));
  seen.push_back(ac.authenticate(R"({"client": "ci-1", "token": ")" + secret, &p));
  const Principal session = login(ac, secret, "ci-1");
  seen.push_back(ac.authorize(session, EventType::kQueueClaim, "nightly-1"));
  seen.push_back(ac.authorize(session, EventType::kTestEnd, "weekly-1"));
  seen.push_back(ac.authorize_role(session, baton::kRoleAdmin, "nightly-1"));
  Principal moved = session;
  moved.client = "laptop";
  seen.push_back(ac.authorize(moved, EventType::kTestEnd, "nightly-1"));
  // Configuration mistakes around the same digest, or the token pasted in
  // place of its digest.
  seen.push_back(ac.reload(R"({"tokens": [{"sha256": ")" + secret + R"(", "roles": ["admin"]}]})"));
  seen.push_back(ac.reload(R"({"tokens": [{"sha256": ")" + digest + R"(x", "roles": ["admin"]}]})"));
  seen.push_back(ac.reload(R"({"tokens": [)" + token_entry(secret, R"(["admin"])") + "," +
                           token_entry(secret, R"(["viewer"])") + "]}"));
  seen.push_back(ac.reload(R"({"tokens": [)" + token_entry(secret, R"(["boss"])") + "]}"));
  REQUIRE(ac.reload(R"({"tokens": []})").is_ok());
  seen.push_back(ac.authorize(session, EventType::kTestEnd, "nightly-1"));

  int refusals = 0;
  for (const Status& st : seen) {
    if (!st.is_ok()) ++refusals;
    for (const std::string& text : {st.message(), st.field(), st.rule()}) {
      INFO(text);
      CHECK(text.find(secret) == std::string::npos);
      CHECK(text.find(digest) == std::string::npos);
      CHECK(text.find(digest.substr(0, 16)) == std::string::npos);
    }
  }
  CHECK(refusals == static_cast<int>(seen.size()));
}

TEST_CASE("reload is safe while other threads authorize", "[access][reload]") {
  AccessController ac;
  REQUIRE(ac.reload(standard_config()).is_ok());
  const Principal admin = login(ac, kAdminToken);
  const std::string without_admin =
      R"({"tokens": [)" + token_entry(kReporterToken, R"(["reporter"])") + "]}";
  std::atomic<bool> stop{false};
  std::atomic<int> allowed{0}, refused{0}, wrong{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back([&] {
      while (!stop.load()) {
        const Status st = ac.authorize(admin, EventType::kRunCancel, "r");
        if (st.is_ok()) ++allowed;
        else if (st.message() == "token was revoked") ++refused;
        else ++wrong;
      }
    });
  }
  for (int i = 0; i < 2000; ++i) {
    REQUIRE(ac.reload(i % 2 == 0 ? without_admin : standard_config()).is_ok());
  }
  REQUIRE(ac.reload(without_admin).is_ok());
  // Once reload has returned, no thread sees the old configuration.
  CHECK(ac.authorize(admin, EventType::kRunCancel, "r").message() == "token was revoked");
  stop = true;
  for (auto& t : threads) t.join();
  CHECK(wrong == 0);
  CHECK(allowed + refused > 0);
}
