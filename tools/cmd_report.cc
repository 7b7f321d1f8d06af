// baton report: a run exported in one of the engine's formats.
#include <cerrno>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>

#include "commands.h"
#include "engine.h"

namespace baton_cli {

namespace {

constexpr const char* kHelp =
    "usage: baton report RUN --db PATH --format junit|ctrf|json|html [-o FILE]\n"
    "\n"
    "Exports run RUN through the engine (baton_export) and writes it to FILE, or to\n"
    "stdout without -o. The format name is passed to the engine unchanged, so any\n"
    "format the library supports works; an unknown one is refused with its reason.\n"
    "\n"
    "options:\n"
    "@DB_OPTIONS@\n"
    "  --format NAME        junit, ctrf, json or html (required)\n"
    "  -o, --output FILE    write the report here instead of stdout\n"
    "\n"
    "exit codes: 0 ok, 2 usage error, 3 no database at PATH or FILE not writable,\n"
    "4 the engine refused (no such run, or a format this library does not export).\n";

}  // namespace

int run_report(CommandArgs argv) {
  auto specs = db_option_specs();
  specs.push_back({"format"});
  specs.push_back({"output", true, false, 'o'});
  Args args = Args::parse(argv, specs, with_db_help(kHelp));
  if (args.positional().size() != 1) throw usage_error("report", "give exactly one RUN id");
  auto format = args.get("format");
  if (!format || format->empty()) {
    throw usage_error("report", "--format is required: junit, ctrf, json or html");
  }
  Engine engine(db_settings_from(args, "report", /*must_exist=*/true));
  const std::string& run = args.positional()[0];
  BatonString out;
  int rc = baton_export(engine.get(), run.c_str(), format->c_str(), out.out(), out.out_len());
  if (rc != BATON_OK) {
    CliError e = status_error(rc, fmt::format("exporting run {} as {}", run, *format));
    if (rc == BATON_EINVALID_ARGUMENT || rc == BATON_EINVALID) {
      // Bad format names come back as invalid arguments: that is the engine refusing,
      // not a mistake in the other flags.
      throw CliError(kExitRefused, e.what(),
                     "this library may not export that format; try junit, ctrf or json");
    }
    throw e;
  }
  std::string_view body = out.view();
  if (auto path = args.get("output")) {
    std::FILE* f = std::fopen(path->c_str(), "wb");
    if (!f) {
      throw CliError(kExitRuntime, fmt::format("cannot write {}: {}", *path, std::strerror(errno)),
                     "check that the directory exists and is writable");
    }
    bool ok = std::fwrite(body.data(), 1, body.size(), f) == body.size();
    ok = (std::fclose(f) == 0) && ok;
    if (!ok) throw CliError(kExitRuntime, fmt::format("writing {} failed", *path));
    std::fprintf(stderr, "wrote %s report of run %s to %s (%zu bytes)\n", format->c_str(),
                 run.c_str(), path->c_str(), body.size());
  } else {
    std::fwrite(body.data(), 1, body.size(), stdout);
    if (!body.empty() && body.back() != '\n') std::fputc('\n', stdout);
  }
  return kExitOk;
}

}  // namespace baton_cli
