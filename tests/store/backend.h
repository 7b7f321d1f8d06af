// The store under test. The conformance cases are compiled once and linked
// into one executable per store: test_store_sqlite links backend_sqlite.cc,
// test_store_postgresql links backend_postgresql.cc. Each case asks for a new,
// empty database, so the cases share nothing.
#ifndef BATON_TESTS_STORE_BACKEND_H_
#define BATON_TESTS_STORE_BACKEND_H_

#include <memory>
#include <string>
#include <string_view>

#include <catch2/catch.hpp>

#include "baton/store.h"

// A failed Status shows its message in a failed check, not "{?}".
namespace Catch {
template <>
struct StringMaker<baton::Status> {
  static std::string convert(const baton::Status& s) { return s ? "ok" : s.message(); }
};
}  // namespace Catch

namespace baton::testing {

class TestDatabase {
 public:
  virtual ~TestDatabase() = default;  // removes the database

  // The store's name, for messages: "sqlite" or "postgresql".
  virtual std::string store_name() const = 0;
  // Where the database is, for messages.
  virtual std::string describe() const = 0;
  // StoreOptions naming this database (path or dsn), durability `normal`.
  virtual StoreOptions store_options() const = 0;
  // Opens the store under test on `options`.
  virtual Status open_store(const StoreOptions& options, std::unique_ptr<EventStore>* out) const = 0;
  // baton_open's options naming this database, with `extra` ("\"k\":v,...",
  // may be empty) added.
  virtual std::string engine_options(std::string_view extra) const = 0;
  // Marks the (closed) database as written by a baton of schema `version`,
  // by the store's own means, bypassing the store.
  virtual void set_schema_version(int version) = 0;
};

// A new, empty database named after `label` (letters, digits and '-').
// Throws std::runtime_error saying what is missing when the store cannot be
// reached (for PostgreSQL: BATON_PG_DSN unset or the server down).
std::unique_ptr<TestDatabase> new_test_database(std::string_view label);

}  // namespace baton::testing

#endif  // BATON_TESTS_STORE_BACKEND_H_
