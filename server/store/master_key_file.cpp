// Master key file handling with strict permissions.
#include "server/store/master_key_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

namespace mailgate::store {

master_key load_or_create_master_key(const std::filesystem::path& path, bool may_create) {
    master_key key{};
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 && errno == ENOENT) {
        if (!may_create)
            throw key_file_error("master key " + path.string() +
                                 " is missing but the database exists; restore the key file from backup "
                                 "(the stored provider passwords cannot be decrypted without it)");
        auto bytes = random_bytes(key.size());
        fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0)
            throw key_file_error("cannot create master key " + path.string() + ": " + std::strerror(errno));
        bool ok =
            ::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()) && ::fsync(fd) == 0;
        ::close(fd);
        if (!ok) throw key_file_error("cannot write master key " + path.string());
        std::memcpy(key.data(), bytes.data(), key.size());
        wipe(bytes);
        return key;
    }
    if (fd < 0) throw key_file_error("cannot open master key " + path.string() + ": " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        throw key_file_error("master key " + path.string() + " is not a regular file");
    }
    if ((st.st_mode & 077) != 0) {
        ::close(fd);
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", unsigned(st.st_mode & 07777));
        throw key_file_error("master key " + path.string() + " has mode " + mode +
                             " and is readable by group or others; run: chmod 600 " + path.string());
    }
    ssize_t n = ::read(fd, key.data(), key.size());
    char extra;
    bool longer = ::read(fd, &extra, 1) > 0;
    ::close(fd);
    if (n != static_cast<ssize_t>(key.size()) || longer)
        throw key_file_error("master key " + path.string() + " must be exactly 32 bytes");
    return key;
}

} // namespace mailgate::store
