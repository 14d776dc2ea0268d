#pragma once
// Expected failures are values: Result<T> holds a T or an Error.
#include <string>
#include <utility>
#include <variant>

#include "sim/core/assert.hpp"

namespace cutover {

struct Error {
  std::string message;
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}       // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}   // NOLINT: implicit by design

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }

  T& value() & { CUTOVER_ASSERT(ok()); return std::get<T>(v_); }
  const T& value() const& { CUTOVER_ASSERT(ok()); return std::get<T>(v_); }
  T&& value() && { CUTOVER_ASSERT(ok()); return std::get<T>(std::move(v_)); }
  const Error& error() const { CUTOVER_ASSERT(!ok()); return std::get<Error>(v_); }

 private:
  std::variant<T, Error> v_;
};

}  // namespace cutover
