// Catch2's own main(); the baton listener registers itself from its file.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
