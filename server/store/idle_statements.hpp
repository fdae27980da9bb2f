// Compiled statements waiting for their SQL text to be prepared again, shared by both engines: logins run the
// same dozen queries every time, and compiling them was most of the store's CPU. Bounded, so SQL built with
// varying text could never grow it without end. Owns what it keeps (deleted with it).
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace mailgate::store {

template <class Statement> class idle_statements {
public:
    idle_statements() = default;
    idle_statements(const idle_statements&) = delete;

    // One kept for `sql`, or nullptr.
    Statement* take(std::string_view sql) {
        std::lock_guard lock(mutex_);
        auto it = idle_.find(sql);
        if (it == idle_.end() || it->second.empty()) return nullptr;
        auto* s = it->second.back().release();
        it->second.pop_back();
        --count_;
        return s;
    }
    // Keeps `s` (reset) under `sql`; false when full: the caller disposes of it.
    bool keep(std::string_view sql, Statement* s) {
        std::lock_guard lock(mutex_);
        if (count_ >= max_idle) return false;
        idle_[std::string(sql)].emplace_back(s);
        ++count_;
        return true;
    }

    void clear() {
        std::lock_guard lock(mutex_);
        idle_.clear();
        count_ = 0;
    }

private:
    static constexpr std::size_t max_idle = 128;
    struct text_hash : std::hash<std::string_view> {
        using is_transparent = void; // looked up by string_view, without a std::string per prepare()
    };
    std::mutex mutex_;
    std::unordered_map<std::string, std::vector<std::unique_ptr<Statement>>, text_hash, std::equal_to<>>
        idle_;
    std::size_t count_ = 0;
};

} // namespace mailgate::store
