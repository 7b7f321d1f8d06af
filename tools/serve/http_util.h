// Reading credentials and origins from an HTTP upgrade request.
#ifndef BATON_TOOLS_SERVE_HTTP_UTIL_H_
#define BATON_TOOLS_SERVE_HTTP_UTIL_H_

#include <string>
#include <string_view>
#include <vector>

#include <boost/beast/http.hpp>

namespace baton_cli {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;

// "%2F" -> "/", "+" stays "+" (paths and query values, not form bodies).
std::string percent_decode(std::string_view text);
// The value of `name` in the target's query string, decoded; "" when absent.
std::string query_param(std::string_view target, std::string_view name);
// The token of "Authorization: Bearer TOKEN"; "" when absent or another scheme.
std::string bearer_token(const HttpRequest& req);
// X-Baton-Client, else ?client= in the target; "" when neither.
std::string client_name(const HttpRequest& req);
// {"client":..., "token":...} with the empty ones left out; "" when both are.
std::string credentials_json(const std::string& client, const std::string& token);
// No Origin header (not a browser), "*" in the list, or an exact match.
bool origin_allowed(const HttpRequest& req, const std::vector<std::string>& origins);

}  // namespace baton_cli

#endif  // BATON_TOOLS_SERVE_HTTP_UTIL_H_
