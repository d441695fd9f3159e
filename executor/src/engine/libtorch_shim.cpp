// libtorch settings that tch does not expose. Every function is noexcept
// towards Rust: errors are reported as return values.
#include <ATen/Context.h>
#include <ATen/Version.h>
#include <cstring>
#include <string>

extern "C" {

// Turns deterministic algorithms on or off (torch.use_deterministic_algorithms).
int atoma_set_deterministic_algorithms(int on) {
    try {
        at::globalContext().setDeterministicAlgorithms(on != 0, false);
        return 0;
    } catch (...) {
        return -1;
    }
}

int atoma_deterministic_algorithms() {
    return at::globalContext().deterministicAlgorithms() ? 1 : 0;
}

// Writes the CPU capability ATen dispatches to ("AVX2", "AVX512", "DEFAULT")
// into buf (NUL-terminated); returns its length, or -1 if it does not fit.
int atoma_cpu_capability(char* buf, int len) {
    std::string cap = at::get_cpu_capability();
    if (static_cast<int>(cap.size()) + 1 > len) return -1;
    std::memcpy(buf, cap.c_str(), cap.size() + 1);
    return static_cast<int>(cap.size());
}
}
