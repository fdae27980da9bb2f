// An input-dependent failure with a message meant for the user (CLI, API); used as the error of result<T>.
#pragma once

#include <boost/assert/source_location.hpp>
#include <boost/system/result.hpp>

#include <stdexcept>
#include <string>

namespace mailgate {

struct user_error {
    std::string message;
};

template <class T> using user_result = boost::system::result<T, user_error>;

// Found by ADL when result<T, user_error>::value() is called on an error.
[[noreturn]] inline void throw_exception_from_error(const user_error& e, const boost::source_location&) {
    throw std::runtime_error(e.message);
}

} // namespace mailgate
