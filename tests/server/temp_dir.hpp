// A unique temporary directory removed at scope exit, for store tests.
#pragma once

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
};
