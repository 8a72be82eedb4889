// parity::Error and the checks that throw it.
//
// Every failure a user can cause (bad shapes, dtypes, devices, arguments) throws
// parity::Error with a message that names the op, what it got and what it
// expected (docs/ARCHITECTURE.md, principle 5). A broken internal invariant (a bug in
// Parity itself) throws parity::InternalError instead, through
// PARITY_INTERNAL_ASSERT: a library never aborts the process, and the message
// tells the user the fault is not theirs.
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

// Thrown by PARITY_INTERNAL_ASSERT / PARITY_INTERNAL_FAIL: Parity broke one of
// its own invariants. A parity::Error, so callers' existing catch sites see it.
class InternalError : public Error {
 public:
  using Error::Error;
};

namespace detail {

// What every InternalError's message starts with.
inline constexpr const char* kInternalErrorPrefix =
    "parity internal error (a bug in Parity, not in the caller's input; please report it): ";

// Streams every argument into one string: PARITY_CHECK(x, "op: got ", a, " expected ", b).
template <typename... Args>
std::string concat(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}

[[noreturn]] void throw_error(const char* file, int line, const std::string& message);
[[noreturn]] void throw_internal_error(const char* file, int line, const std::string& message);

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

// For what only a bug in Parity can break (an unreachable dispatch default, an
// invariant on internal data), never for the caller's input: throws
// parity::InternalError(kInternalErrorPrefix + message) unless cond holds.
#define PARITY_INTERNAL_ASSERT(cond, ...)                                                                \
  do {                                                                                                   \
    if (!(cond)) [[unlikely]] {                                                                          \
      ::parity::detail::throw_internal_error(__FILE__, __LINE__, ::parity::detail::concat(__VA_ARGS__)); \
    }                                                                                                    \
  } while (0)

#define PARITY_INTERNAL_FAIL(...) \
  ::parity::detail::throw_internal_error(__FILE__, __LINE__, ::parity::detail::concat(__VA_ARGS__))
