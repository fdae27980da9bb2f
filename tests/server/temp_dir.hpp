// A unique temporary directory removed at scope exit, for store tests; and the store to use with it: SQLite in
// the directory, or, when MAILGATE_TEST_POSTGRES names a PostgreSQL server (postgresql://user:pw@host:port/, a
// role that may create databases; tests/integration/test_store_postgresql.py sets it), a new database there.
#pragma once

#include "server/store/postgres_database.hpp"

#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>

struct temp_dir {
    std::filesystem::path path;
    temp_dir() {
        std::random_device rd;
        path = std::filesystem::temp_directory_path() /
               ("mailgate-test-" + std::to_string(rd()) + std::to_string(rd()));
        std::filesystem::create_directories(path);
    }
    ~temp_dir() { std::filesystem::remove_all(path); }
    std::filesystem::path data() const { return path / "data"; }
    // The same location on every call, so that a test may open the store again.
    const std::string& store() {
        const char* server = std::getenv("MAILGATE_TEST_POSTGRES");
        if (!server || !*server || !store_.empty()) return store_;
        std::random_device rd;
        auto name = "mgtest_" + std::to_string(rd()) + std::to_string(rd());
        mailgate::store::postgres_database(std::string(server) + "mailgate").exec("CREATE DATABASE " + name);
        store_ = std::string(server) + name;
        return store_;
    }
    static bool on_postgresql() {
        const char* server = std::getenv("MAILGATE_TEST_POSTGRES");
        return server && *server;
    }

private:
    std::string store_;
};
