// Whether this instance should get new clients, as a load balancer asks it (GET /healthz): ready once every mail
// listener accepts and the store answers; not ready from the moment it drains (SIGUSR1 or POST /api/v1/drain:
// listeners closed, open sessions left to finish) until it is restarted.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>

namespace mailgate::admin {

class gateway_health {
public:
    // What draining does (close the listeners); set once at startup, before anything can call drain().
    void on_drain(std::function<void()> close_listeners) { close_listeners_ = std::move(close_listeners); }
    void set_accepting() { accepting_ = true; }

    bool accepting() const { return accepting_; }
    bool draining() const { return draining_; }
    // Starts draining; false when it had already started (nothing is done twice). Any thread.
    bool drain() {
        if (draining_.exchange(true)) return false;
        if (close_listeners_) close_listeners_();
        return true;
    }

private:
    std::atomic<bool> accepting_{false};
    std::atomic<bool> draining_{false};
    std::function<void()> close_listeners_;
};

} // namespace mailgate::admin
