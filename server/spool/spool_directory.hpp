// The spool on disk (DATA_DIR/spool): a message being received is written to incoming/ and becomes
// queue/ID.msg (envelope head + DATA bytes) only once it is fsynced, renamed, and the directory fsynced; its
// delivery state is queue/ID.state, replaced atomically and durably. A file in incoming/ was never answered 250
// and is removed at start-up. Used by the running gateway and by `mailgate queue` alike.
#pragma once

#include "server/spool/spool_message.hpp"

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mailgate::spool {

struct queued_message {
    envelope head;
    std::uint64_t data_offset = 0; // where the DATA bytes start in the file
    std::uint64_t data_size = 0;
};

// A message being received. Removed unless committed.
class incoming_message {
public:
    ~incoming_message();
    incoming_message(const incoming_message&) = delete;
    incoming_message& operator=(const incoming_message&) = delete;

    // DATA bytes as forwarded to a provider (dot-stuffed, the last chunk ending in CRLF "." CRLF).
    bool write(std::string_view bytes);
    std::uint64_t data_size() const { return size_; }
    // What the queue holds once committed (no need to read the file back).
    queued_message queued() const;
    const std::string& id() const { return id_; }
    // Durably in the queue: fsync of the file, rename, fsync of the directory. False on any failure (the
    // client must not hear 250 then).
    bool commit();

private:
    friend class spool_directory;
    incoming_message(envelope head, std::size_t head_size, std::filesystem::path temp,
                     std::filesystem::path final_path, std::FILE* file)
        : id_(head.id), head_(std::move(head)), head_size_(head_size), temp_(std::move(temp)),
          final_(std::move(final_path)), file_(file) {}

    std::string id_;
    envelope head_;
    std::size_t head_size_;
    std::filesystem::path temp_, final_;
    std::FILE* file_;
    std::uint64_t size_ = 0;
    bool ok_ = true;
    bool committed_ = false;
};

// The header section of a message's DATA bytes (or a prefix of them), dot-stuffing undone.
std::string header_section(std::string_view data);

class spool_directory {
public:
    explicit spool_directory(std::filesystem::path root);

    const std::filesystem::path& root() const { return root_; }
    // Start-up: removes what never became a queued message (incoming files, orphaned state files).
    void recover();

    // A new message for `head` (its id is assigned here); nullptr when the file cannot be created.
    std::unique_ptr<incoming_message> begin(envelope head);

    std::vector<std::string> list() const; // ids of queued messages, oldest first
    std::optional<queued_message> read(const std::string& id) const;
    delivery_state read_state(const std::string& id) const;
    bool write_state(const std::string& id, const delivery_state& state); // durable
    bool remove(const std::string& id);                                   // durable
    std::filesystem::path message_path(const std::string& id) const;
    std::optional<std::string> contents(const std::string& id) const; // the whole message file
    // The message's header section (dot-stuffing undone), at most `limit` octets.
    std::optional<std::string> headers(const std::string& id, std::size_t limit = 64 * 1024) const;
    // A queued message written whole (a copy from the shared spool): its state, then the message file, each
    // durably, so that a crash leaves either nothing or the message with its state.
    bool restore(const std::string& id, std::string_view file, const delivery_state& state);
    std::uint64_t total_bytes() const; // of all queued message files

    // A syntactically valid id (what `mailgate queue` and the admin API accept).
    static bool valid_id(std::string_view id);

private:
    std::filesystem::path root_, incoming_, queue_;
};

} // namespace mailgate::spool
