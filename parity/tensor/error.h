// parity::Error and the checks that throw it.
//
// Every failure a user can cause (bad shapes, dtypes, devices, arguments) throws
// parity::Error with a message that names the op, what it got and what it
// expected (DESIGN.md, principle 5). Internal invariants use the same macro: a
// library never aborts the process.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace parity {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// Thrown when a device allocation fails even after the cache was released.
class OutOfMemoryError : public Error {
 public:
  using Error::Error;
};

namespace detail {

// Streams every argument into one string: PARITY_CHECK(x, "op: got ", a, " expected ", b).
template <typename... Args>
std::string concat(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}

[[noreturn]] void throw_error(const char* file, int line, const std::string& message);

}  // namespace detail
}  // namespace parity

// Throws parity::Error(message) unless cond holds. The message arguments are
// only evaluated on failure, so checks on hot paths cost a branch.
#define PARITY_CHECK(cond, ...)                                                   \
  do {                                                                            \
    if (!(cond)) [[unlikely]] {                                                   \
      ::parity::detail::throw_error(__FILE__, __LINE__,                           \
                                    ::parity::detail::concat(__VA_ARGS__));       \
    }                                                                             \
  } while (0)

#define PARITY_FAIL(...) \
  ::parity::detail::throw_error(__FILE__, __LINE__, ::parity::detail::concat(__VA_ARGS__))
