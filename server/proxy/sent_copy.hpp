// Sent copies for providers that do not file submitted mail themselves (domain::saves_sent_copy): while a
// message goes to the provider, its bytes (unstuffed, as the client wrote them) are also written to a spool file;
// after the provider's 250 the file is APPENDed to the account's Sent folder over IMAP with \Seen, in the
// background. The client's 250 never waits for it, and a failed copy never fails the send: it is retried on
// connection failures (gateway_settings::sent_copy_retries), then logged and recorded as an account event.
#pragma once

#include "protocols/smtp/dot_unstuffer.hpp"
#include "server/proxy/gateway_settings.hpp"
#include "server/store/account.hpp"

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

namespace mailgate::proxy {

// One message's spool file while it is being submitted. The file is removed unless handed to send_sent_copy.
class sent_copy_file {
public:
    // nullptr when the spool file cannot be created (logged by the caller; the send goes on without a copy).
    static std::unique_ptr<sent_copy_file> create(const std::filesystem::path& spool_dir);
    ~sent_copy_file();
    sent_copy_file(const sent_copy_file&) = delete;
    sent_copy_file& operator=(const sent_copy_file&) = delete;

    // DATA as forwarded to the provider (dot-stuffed, ending in CRLF "." CRLF). False on a write error.
    bool write(std::string_view wire);
    // Closes the file once the whole message is in: its path and size, and the file is the caller's to remove.
    bool finish(std::filesystem::path& path, std::uint64_t& size);

private:
    sent_copy_file(std::filesystem::path path, std::FILE* file) : path_(std::move(path)), file_(file) {}

    std::filesystem::path path_;
    std::FILE* file_;
    protocols::smtp::dot_unstuffer unstuffer_;
    std::string buffer_;
    std::uint64_t size_ = 0;
    bool ok_ = true;
    bool handed_over_ = false;
};

// Removes spool files a previous run left behind (their messages went out; only the copy is lost).
void clear_sent_spool(const std::filesystem::path& spool_dir);

// Starts the copy of `path` (`size` octets) into the account's Sent folder on `executor`, and returns at once.
// The file is removed when the copy is done or given up. `settings` must outlive the copy (it belongs to the
// listener's session handler, which lives as long as the process serves).
void send_sent_copy(boost::asio::any_io_executor executor, const gateway_settings& settings,
                    store::account account, std::uint64_t session_id, std::string peer,
                    std::filesystem::path path, std::uint64_t size);

} // namespace mailgate::proxy
