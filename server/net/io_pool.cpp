// Thread-per-context pool.
#include "server/net/io_pool.hpp"

#include <thread>

namespace mailgate::net {

io_pool::io_pool(std::size_t threads) {
    for (std::size_t i = 0; i < std::max<std::size_t>(1, threads); ++i) {
        contexts_.push_back(std::make_unique<boost::asio::io_context>(1));
        guards_.emplace_back(contexts_.back()->get_executor());
    }
}

boost::asio::any_io_executor io_pool::next() { return contexts_[next_++ % contexts_.size()]->get_executor(); }

void io_pool::run() {
    std::vector<std::thread> workers;
    for (std::size_t i = 1; i < contexts_.size(); ++i)
        workers.emplace_back([this, i] { contexts_[i]->run(); });
    contexts_.front()->run();
    for (auto& t : workers) t.join();
}

void io_pool::stop() {
    guards_.clear();
    for (auto& c : contexts_) c->stop();
}

} // namespace mailgate::net
