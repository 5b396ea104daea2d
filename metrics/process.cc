#include "metrics/process.h"

#include <dirent.h>

#include <cstdlib>
#include <string>

#include "common/fs.h"

namespace vpcri::metrics {
namespace {

// A "Name:   value [kB]" line of /proc/self/status; -1 if absent.
long status_field(const std::string& status, const std::string& name) {
  size_t pos = status.find("\n" + name + ":");
  if (pos == std::string::npos) return -1;
  return std::strtol(status.c_str() + pos + name.size() + 2, nullptr, 10);
}

long count_open_fds() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (!dir) return -1;
  long count = 0;
  while (dirent* e = ::readdir(dir)) {
    if (e->d_name[0] != '.') ++count;
  }
  ::closedir(dir);
  return count - 1;  // the directory's own fd
}

}  // namespace

double resident_memory_bytes(int pid) {
  try {
    long kib = status_field("\n" + fs::read_file("/proc/" + std::to_string(pid) + "/status"), "VmRSS");
    return kib < 0 ? -1 : static_cast<double>(kib) * 1024;
  } catch (const std::exception&) {
    return -1;  // gone
  }
}

void collect_process(Collection& out) {
  std::string status;
  try {
    status = "\n" + fs::read_file("/proc/self/status");
  } catch (const std::exception&) {
    // Without /proc only the fd count (if any) is reported.
  }
  long rss_kib = status_field(status, "VmRSS");
  long threads = status_field(status, "Threads");
  if (rss_kib >= 0) {
    out.gauge("vpcri_process_resident_memory_bytes", "Resident memory of vpcrid, in bytes.", {},
              static_cast<double>(rss_kib) * 1024);
  }
  if (threads >= 0) out.gauge("vpcri_process_threads", "Threads of vpcrid.", {}, static_cast<double>(threads));
  long fds = count_open_fds();
  if (fds >= 0) out.gauge("vpcri_process_open_fds", "Open file descriptors of vpcrid.", {}, static_cast<double>(fds));
}

}  // namespace vpcri::metrics
