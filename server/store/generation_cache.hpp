// Values read from the store, each kept with the repository generation it was read under
// (account_repository::generation()): a lookup under any other generation misses, so nothing stale is served.
// Bounded: when full it starts again empty.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <unordered_map>

namespace mailgate::store {

template <class Key, class Value> class generation_cache {
public:
    explicit generation_cache(std::size_t capacity) : capacity_(capacity) {}

    std::optional<Value> find(const Key& key, std::uint64_t generation) {
        std::lock_guard lock(mutex_);
        auto it = entries_.find(key);
        if (it == entries_.end() || it->second.generation != generation) return std::nullopt;
        return it->second.value;
    }

    void remember(const Key& key, std::uint64_t generation, Value value) {
        std::lock_guard lock(mutex_);
        if (entries_.size() >= capacity_ && !entries_.count(key)) entries_.clear();
        entries_.insert_or_assign(key, entry{generation, std::move(value)});
    }

private:
    struct entry {
        std::uint64_t generation;
        Value value;
    };
    std::size_t capacity_;
    std::mutex mutex_;
    std::unordered_map<Key, entry> entries_;
};

} // namespace mailgate::store
