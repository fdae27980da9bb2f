// The spool directory: durable create, state and removal with fsync of file and directory.
#include "server/spool/spool_directory.hpp"

#include "protocols/smtp/dot_unstuffer.hpp"
#include "server/store/crypto.hpp"

#include <algorithm>
#include <ctime>
#include <fcntl.h>
#include <fstream>
#include <unistd.h>

namespace mailgate::spool {

namespace fs = std::filesystem;

namespace {

bool fsync_directory(const fs::path& dir) {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return false;
    bool ok = ::fsync(fd) == 0;
    ::close(fd);
    return ok;
}

std::FILE* create_exclusive(const fs::path& path) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return nullptr;
    std::FILE* f = ::fdopen(fd, "wb");
    if (!f) ::close(fd);
    return f;
}

bool write_durably(const fs::path& temp, const fs::path& final_path, std::string_view text) {
    std::error_code ec;
    fs::remove(temp, ec);
    std::FILE* f = create_exclusive(temp);
    if (!f) return false;
    bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size() && std::fflush(f) == 0 &&
              ::fsync(::fileno(f)) == 0;
    ok = std::fclose(f) == 0 && ok;
    if (ok) ok = ::rename(temp.c_str(), final_path.c_str()) == 0;
    if (!ok) fs::remove(temp, ec);
    return ok && fsync_directory(final_path.parent_path());
}

std::string read_prefix(const fs::path& path, std::size_t limit) {
    std::ifstream in(path, std::ios::binary);
    std::string out(limit, '\0');
    in.read(out.data(), static_cast<std::streamsize>(limit));
    out.resize(static_cast<std::size_t>(in.gcount()));
    return out;
}

// Time-ordered and unguessable: "<unix seconds, 12 digits>-<16 hex>".
std::string new_id() {
    auto seconds = std::to_string(std::time(nullptr));
    return std::string(12 - std::min<std::size_t>(12, seconds.size()), '0') + seconds + "-" +
           store::to_hex(store::random_bytes(8));
}

constexpr std::size_t max_envelope = 512 * 1024; // 100 recipients of 2000 octets fit many times over

} // namespace

incoming_message::~incoming_message() {
    if (file_) std::fclose(file_);
    if (!committed_) {
        std::error_code ignored;
        fs::remove(temp_, ignored);
    }
}

bool incoming_message::write(std::string_view bytes) {
    if (!ok_ || !file_) return false;
    if (std::fwrite(bytes.data(), 1, bytes.size(), file_) != bytes.size()) ok_ = false;
    size_ += bytes.size();
    return ok_;
}

queued_message incoming_message::queued() const { return {head_, head_size_, size_}; }

bool incoming_message::commit() {
    if (!file_ || !ok_) return false;
    bool ok = std::fflush(file_) == 0 && ::fsync(::fileno(file_)) == 0;
    ok = std::fclose(file_) == 0 && ok;
    file_ = nullptr;
    if (!ok || ::rename(temp_.c_str(), final_.c_str()) != 0) return false;
    committed_ = true;
    // Renamed but not yet durable: if this fsync fails the client hears 451 and may send again; the file stays
    // (a duplicate is possible, a loss is not).
    return fsync_directory(final_.parent_path());
}

spool_directory::spool_directory(fs::path root)
    : root_(std::move(root)), incoming_(root_ / "incoming"), queue_(root_ / "queue") {
    fs::create_directories(incoming_);
    fs::create_directories(queue_);
    fs::permissions(root_, fs::perms::owner_all, fs::perm_options::replace);
}

void spool_directory::recover() {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(incoming_, ec)) fs::remove(entry.path(), ec);
    for (const auto& entry : fs::directory_iterator(queue_, ec)) {
        auto name = entry.path().filename().string();
        bool orphan_state =
            name.ends_with(".state") && !fs::exists(queue_ / (name.substr(0, name.size() - 6) + ".msg"));
        if (name.ends_with(".tmp") || orphan_state) fs::remove(entry.path(), ec);
    }
    fsync_directory(queue_);
}

std::unique_ptr<incoming_message> spool_directory::begin(envelope head) {
    head.id = new_id();
    auto temp = incoming_ / (head.id + ".tmp");
    std::FILE* f = create_exclusive(temp);
    if (!f) return nullptr;
    auto text = serialize_envelope(head);
    auto final_path = queue_ / (head.id + ".msg");
    std::unique_ptr<incoming_message> m(
        new incoming_message(std::move(head), text.size(), temp, final_path, f));
    if (std::fwrite(text.data(), 1, text.size(), f) != text.size()) return nullptr;
    return m;
}

bool spool_directory::valid_id(std::string_view id) {
    if (id.size() != 29 || id[12] != '-') return false;
    for (std::size_t i = 0; i < id.size(); ++i) {
        char c = id[i];
        if (i == 12) continue;
        bool ok = i < 12 ? (c >= '0' && c <= '9') : ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
        if (!ok) return false;
    }
    return true;
}

std::vector<std::string> spool_directory::list() const {
    std::vector<std::string> ids;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(queue_, ec)) {
        auto name = entry.path().filename().string();
        if (!name.ends_with(".msg")) continue;
        auto id = name.substr(0, name.size() - 4);
        if (valid_id(id)) ids.push_back(std::move(id));
    }
    std::sort(ids.begin(), ids.end());
    return ids;
}

fs::path spool_directory::message_path(const std::string& id) const { return queue_ / (id + ".msg"); }

std::optional<std::string> spool_directory::contents(const std::string& id) const {
    if (!valid_id(id)) return std::nullopt;
    std::error_code ec;
    auto size = fs::file_size(message_path(id), ec);
    if (ec) return std::nullopt;
    auto text = read_prefix(message_path(id), static_cast<std::size_t>(size));
    if (text.size() != size) return std::nullopt;
    return text;
}

std::optional<queued_message> spool_directory::read(const std::string& id) const {
    if (!valid_id(id)) return std::nullopt;
    auto path = message_path(id);
    std::error_code ec;
    auto size = fs::file_size(path, ec);
    if (ec) return std::nullopt;
    auto text = read_prefix(path, max_envelope);
    std::size_t head = 0;
    auto e = parse_envelope(text, head);
    if (!e || e->id != id) return std::nullopt;
    return queued_message{std::move(*e), head, size - head};
}

delivery_state spool_directory::read_state(const std::string& id) const {
    if (!valid_id(id)) return {};
    return parse_state(read_prefix(queue_ / (id + ".state"), 1024 * 1024));
}

bool spool_directory::write_state(const std::string& id, const delivery_state& state) {
    if (!valid_id(id)) return false;
    return write_durably(queue_ / (id + ".state.tmp"), queue_ / (id + ".state"), serialize_state(state));
}

bool spool_directory::remove(const std::string& id) {
    if (!valid_id(id)) return false;
    std::error_code ec;
    bool removed = fs::remove(message_path(id), ec);
    fs::remove(queue_ / (id + ".state"), ec);
    fsync_directory(queue_);
    return removed;
}

std::optional<std::string> spool_directory::headers(const std::string& id, std::size_t limit) const {
    auto m = read(id);
    if (!m) return std::nullopt;
    auto text = read_prefix(message_path(id), static_cast<std::size_t>(m->data_offset) + limit);
    return header_section(std::string_view(text).substr(static_cast<std::size_t>(m->data_offset)));
}

bool spool_directory::restore(const std::string& id, std::string_view file, const delivery_state& state) {
    if (!valid_id(id)) return false;
    return write_durably(queue_ / (id + ".state.tmp"), queue_ / (id + ".state"), serialize_state(state)) &&
           write_durably(queue_ / (id + ".msg.tmp"), message_path(id), file);
}

std::string header_section(std::string_view data) {
    auto end = data.find("\r\n\r\n");
    data = data.substr(0, end == std::string_view::npos ? data.size() : end + 2);
    std::string out;
    // Dot-stuffing undone; the terminator may be missing here, which is fine for a prefix.
    protocols::smtp::dot_unstuffer unstuffer;
    unstuffer.feed(data, out);
    return out;
}

std::uint64_t spool_directory::total_bytes() const {
    std::uint64_t total = 0;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(queue_, ec)) {
        if (!entry.path().filename().string().ends_with(".msg")) continue;
        auto size = entry.file_size(ec);
        if (!ec) total += size;
    }
    return total;
}

} // namespace mailgate::spool
