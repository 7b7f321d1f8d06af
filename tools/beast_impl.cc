// The one translation unit that compiles Boost.Asio and Boost.Beast: the
// other files include only declarations (BOOST_*_SEPARATE_COMPILATION), which
// keeps the tool quick to rebuild.
#include <boost/asio/impl/src.hpp>
#include <boost/beast/src.hpp>
