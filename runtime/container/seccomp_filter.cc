#include "runtime/container/seccomp_filter.h"

#include "common/error.h"
#include "common/fs.h"
#include "runtime/security/filter_cache.h"
#include "runtime/security/seccomp.h"

namespace vpcri::runtime::container {

void compile_seccomp(InitSpec& spec) {
  SeccompSpec& seccomp = spec.process.seccomp;
  seccomp.filter.clear();
  std::string profile;
  switch (seccomp.mode) {
    case SeccompSpec::Mode::unconfined: return;
    case SeccompSpec::Mode::runtime_default: profile = security::runtime_default_profile_json(); break;
    case SeccompSpec::Mode::localhost:
      try {
        profile = fs::read_file(seccomp.profile_path);
      } catch (const Error& e) {
        throw Error(e.code(), std::string("seccomp profile: ") + e.what());
      }
      break;
  }
  try {
    seccomp.filter = security::cached_filter(profile, spec.process.capabilities);
  } catch (const Error& e) {
    throw Error(e.code(), std::string("seccomp: ") + e.what());
  }
}

}  // namespace vpcri::runtime::container
