// The instance id file.
#include "server/spool/instance_id.hpp"

#include "server/store/crypto.hpp"

#include <cctype>
#include <cerrno>
#include <fcntl.h>
#include <fstream>
#include <stdexcept>
#include <unistd.h>

namespace mailgate::spool {

namespace {

bool valid(const std::string& id) {
    if (id.empty() || id.size() > 80) return false;
    for (unsigned char c : id)
        if (!std::isalnum(c) && c != '-' && c != '.' && c != '_') return false;
    return true;
}

std::string host_name() {
    char name[256] = {};
    if (::gethostname(name, sizeof name - 1) != 0) return "mailgate";
    std::string out;
    for (unsigned char c : std::string(name).substr(0, 60))
        out += (std::isalnum(c) || c == '-' || c == '.') ? static_cast<char>(c) : '-';
    return out.empty() ? "mailgate" : out;
}

} // namespace

std::string load_or_create_instance_id(const std::filesystem::path& data_dir) {
    auto path = data_dir / "instance-id";
    if (std::ifstream in{path}) {
        std::string id;
        std::getline(in, id);
        if (!valid(id)) throw std::runtime_error(path.string() + " does not hold an instance id");
        return id;
    }
    auto id = host_name() + "-" + store::to_hex(store::random_bytes(4));
    auto temp = data_dir / "instance-id.tmp";
    int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    auto text = id + "\n";
    bool ok = fd >= 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
              ::fsync(fd) == 0;
    if (fd >= 0) ok = ::close(fd) == 0 && ok;
    // link() rather than rename(): two processes making it at once agree on the first one's.
    if (ok && ::link(temp.c_str(), path.c_str()) != 0 && errno != EEXIST) ok = false;
    std::error_code ignored;
    std::filesystem::remove(temp, ignored);
    if (!ok) throw std::runtime_error("cannot write " + path.string());
    if (std::ifstream in{path}) std::getline(in, id);
    return id;
}

} // namespace mailgate::spool
