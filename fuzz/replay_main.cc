// The fuzz targets as plain executables (every build, every compiler): each argument is a file or
// a directory of files, and each file is handed to LLVMFuzzerTestOneInput once. Meson runs them
// on the seed corpus as tests, so the corpus (crash regressions included) replays in every CI leg.
// The libFuzzer build (-Dfuzzing=true, .ci/fuzz) links libFuzzer's own main instead.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/fs.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);

int main(int argc, char** argv) {
  if (LLVMFuzzerInitialize != nullptr) LLVMFuzzerInitialize(&argc, &argv);
  std::vector<std::filesystem::path> inputs;
  for (int i = 1; i < argc; ++i) {
    std::filesystem::path arg = argv[i];
    if (std::filesystem::is_directory(arg)) {
      for (const auto& entry : std::filesystem::directory_iterator(arg))
        if (entry.is_regular_file()) inputs.push_back(entry.path());
    } else {
      inputs.push_back(arg);
    }
  }
  if (inputs.empty()) {
    std::fprintf(stderr, "no inputs: give the corpus directory or files\n");
    return 1;  // an empty corpus would make this test pass without testing anything
  }
  for (const auto& path : inputs) {
    std::string bytes;
    try {
      bytes = vpcri::fs::read_file(path);
    } catch (const vpcri::Error& e) {
      std::fprintf(stderr, "%s\n", e.what());
      return 1;
    }
    std::fprintf(stderr, "replaying %s (%zu bytes)\n", path.c_str(), bytes.size());
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  }
  std::fprintf(stderr, "%zu inputs replayed\n", inputs.size());
  return 0;
}
