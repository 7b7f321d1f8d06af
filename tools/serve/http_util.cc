#include "http_util.h"

#include <algorithm>
#include <cctype>

#include "../json_util.h"

namespace baton_cli {

namespace http = boost::beast::http;

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      int hi = hex_value(text[i + 1]);
      int lo = hex_value(text[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(text[i]);
  }
  return out;
}

std::string query_param(std::string_view target, std::string_view name) {
  auto q = target.find('?');
  if (q == std::string_view::npos) return {};
  std::string_view query = target.substr(q + 1);
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    auto eq = pair.find('=');
    if (pair.substr(0, eq) == name) {
      return eq == std::string_view::npos ? std::string() : percent_decode(pair.substr(eq + 1));
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return {};
}

std::string bearer_token(const HttpRequest& req) {
  auto it = req.find(http::field::authorization);
  if (it == req.end()) return {};
  std::string_view value(it->value().data(), it->value().size());
  constexpr std::string_view kScheme = "bearer ";
  if (value.size() <= kScheme.size()) return {};
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(value[i])) != kScheme[i]) return {};
  }
  value.remove_prefix(kScheme.size());
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  return std::string(value);
}

std::string client_name(const HttpRequest& req) {
  auto it = req.find("X-Baton-Client");
  if (it != req.end() && !it->value().empty()) return std::string(it->value());
  std::string_view target(req.target().data(), req.target().size());
  return query_param(target, "client");
}

std::string credentials_json(const std::string& client, const std::string& token) {
  if (client.empty() && token.empty()) return {};
  std::string out = "{";
  if (!client.empty()) {
    out += "\"client\":";
    json_append_quoted(&out, client);
  }
  if (!token.empty()) {
    if (out.size() > 1) out += ',';
    out += "\"token\":";
    json_append_quoted(&out, token);
  }
  out += '}';
  return out;
}

bool origin_allowed(const HttpRequest& req, const std::vector<std::string>& origins) {
  auto it = req.find(http::field::origin);
  if (it == req.end()) return true;
  std::string_view origin(it->value().data(), it->value().size());
  return std::any_of(origins.begin(), origins.end(),
                     [&](const std::string& allowed) { return allowed == "*" || allowed == origin; });
}

}  // namespace baton_cli
