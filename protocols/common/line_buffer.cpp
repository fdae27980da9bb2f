// Line splitting shared by every protocol codec.
#include "protocols/common/line_buffer.hpp"

#include "protocols/common/secret.hpp"

namespace mailgate::protocols {

void line_buffer::append(std::string_view bytes) {
    compact();
    data_.append(bytes);
}

line_buffer::result line_buffer::next_line(std::string_view& out) {
    std::string_view view = rest();
    std::size_t lf = view.find('\n');
    if (lf == std::string_view::npos) {
        // The limit counts the CRLF too; a partial line already at the limit can never become valid.
        return view.size() >= max_line_ ? result::too_long : result::need_more;
    }
    if (lf + 1 > max_line_) return result::too_long;
    bool crlf = lf > 0 && view[lf - 1] == '\r';
    if (!crlf && !accept_bare_lf_) return result::bare_lf;
    out = view.substr(0, crlf ? lf - 1 : lf);
    pos_ += lf + 1;
    return result::line;
}

bool line_buffer::take_bytes(std::size_t n, std::string_view& out) {
    if (buffered() < n) return false;
    out = rest().substr(0, n);
    pos_ += n;
    return true;
}

line_buffer::~line_buffer() { wipe(data_); }

void line_buffer::clear() {
    wipe(data_);
    pos_ = 0;
}

void line_buffer::wipe_spent() noexcept {
    secure_wipe(data_.data(), pos_);
    // Past the end: erase() in compact() moved bytes down without clearing where they came from.
    std::size_t size = data_.size();
    data_.resize(data_.capacity());
    secure_wipe(data_.data() + size, data_.size() - size);
    data_.resize(size);
}

bool line_buffer::discard_line() {
    auto lf = rest().find('\n');
    if (lf == std::string_view::npos) {
        clear();
        return false;
    }
    pos_ += lf + 1;
    return true;
}

void line_buffer::compact() {
    if (pos_ == 0) return;
    data_.erase(0, pos_);
    pos_ = 0;
}

} // namespace mailgate::protocols
