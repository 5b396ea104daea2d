#include "runtime/security/seccomp.h"

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <utility>

#include "common/error.h"
#include "common/fd.h"
#include "runtime/security/capabilities.h"
#include "runtime/security/seccomp_load.h"

namespace vpcri::runtime::security {
namespace {

using nlohmann::json;

[[noreturn]] void bad_profile(const std::string& what) {
  throw Error(Errc::invalid_argument, "seccomp profile: " + what);
}

struct ArgCond {
  unsigned index = 0;
  uint64_t value = 0;
  uint64_t value_two = 0;
  scmp_compare op = SCMP_CMP_EQ;
};

struct Conditions {
  std::vector<std::string> caps;
  std::vector<std::string> arches;
  std::optional<std::pair<int, int>> min_kernel;
};

struct Rule {
  std::vector<std::string> names;
  uint32_t action = SCMP_ACT_ALLOW;
  std::vector<ArgCond> args;
  Conditions includes, excludes;
};

struct Profile {
  uint32_t default_action = SCMP_ACT_ALLOW;
  std::vector<uint32_t> arches;  // besides the native one
  std::vector<Rule> rules;
};

// ---- reading the JSON, with messages that say where it is wrong ----

// The member `key` of `obj`, or nullptr when absent or null (both mean "not set" in this format).
const json* member(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it == obj.end() || it->is_null() ? nullptr : &*it;
}

std::string string_of(const json& v, const std::string& where) {
  if (!v.is_string()) bad_profile(where + " must be a string");
  return v.get<std::string>();
}

uint64_t unsigned_of(const json& v, const std::string& where) {
  if (!v.is_number_unsigned()) bad_profile(where + " must be a non-negative integer");
  return v.get<uint64_t>();
}

std::vector<std::string> strings_of(const json* v, const std::string& where) {
  std::vector<std::string> out;
  if (!v) return out;
  if (!v->is_array()) bad_profile(where + " must be an array of strings");
  for (const auto& s : *v) out.push_back(string_of(s, where + " entries"));
  return out;
}

uint32_t arch_token(const std::string& name) {
  static const std::string prefix = "SCMP_ARCH_";
  uint32_t token = 0;
  if (name.rfind(prefix, 0) == 0) {
    std::string lower = name.substr(prefix.size());
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    token = seccomp_arch_resolve_name(lower.c_str());
  }
  if (token == 0) bad_profile("unknown architecture \"" + name + "\"");
  return token;
}

// The errno an ERRNO/TRACE action returns: EPERM unless the profile says otherwise.
uint32_t errno_ret(const json* v, const std::string& where) {
  if (!v) return EPERM;
  uint64_t e = unsigned_of(*v, where);
  if (e > 4095) bad_profile(where + " " + std::to_string(e) + " is not an errno");
  return static_cast<uint32_t>(e);
}

uint32_t action_of(const std::string& name, uint32_t err, const std::string& where) {
  if (name == "SCMP_ACT_ALLOW") return SCMP_ACT_ALLOW;
  if (name == "SCMP_ACT_ERRNO") return SCMP_ACT_ERRNO(err);
  if (name == "SCMP_ACT_KILL" || name == "SCMP_ACT_KILL_THREAD") return SCMP_ACT_KILL_THREAD;
  if (name == "SCMP_ACT_KILL_PROCESS") return SCMP_ACT_KILL_PROCESS;
  if (name == "SCMP_ACT_TRAP") return SCMP_ACT_TRAP;
  if (name == "SCMP_ACT_TRACE") return SCMP_ACT_TRACE(err);
  if (name == "SCMP_ACT_LOG") return SCMP_ACT_LOG;
  // NOTIFY needs a listener (a seccomp agent) that vpcri does not have.
  if (name == "SCMP_ACT_NOTIFY") bad_profile(where + " SCMP_ACT_NOTIFY is not supported");
  bad_profile(where + " has unknown action \"" + name + "\"");
}

scmp_compare op_of(const std::string& name, const std::string& where) {
  static const std::pair<const char*, scmp_compare> ops[] = {
      {"SCMP_CMP_NE", SCMP_CMP_NE}, {"SCMP_CMP_LT", SCMP_CMP_LT},
      {"SCMP_CMP_LE", SCMP_CMP_LE}, {"SCMP_CMP_EQ", SCMP_CMP_EQ},
      {"SCMP_CMP_GE", SCMP_CMP_GE}, {"SCMP_CMP_GT", SCMP_CMP_GT},
      {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
  };
  for (const auto& [n, op] : ops)
    if (name == n) return op;
  bad_profile(where + " has unknown op \"" + name + "\"");
}

// "4.8" -> {4, 8}; also reads a kernel release such as "6.1.0-18-amd64".
std::optional<std::pair<int, int>> parse_version(const std::string& s) {
  int major = 0, minor = 0;
  char dot = 0;
  if (std::sscanf(s.c_str(), "%d%c%d", &major, &dot, &minor) != 3 || dot != '.') return std::nullopt;
  return std::make_pair(major, minor);
}

Conditions conditions_of(const json* v, bool includes, const std::string& where) {
  Conditions c;
  if (!v) return c;
  if (!v->is_object()) bad_profile(where + " must be an object");
  c.caps = strings_of(member(*v, "caps"), where + ".caps");
  for (auto& cap : c.caps) {
    for (auto& ch : cap) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    if (cap.rfind("CAP_", 0) != 0) cap = "CAP_" + cap;
  }
  c.arches = strings_of(member(*v, "arches"), where + ".arches");
  if (const json* mk = member(*v, "minKernel"); mk && includes) {
    std::string s = string_of(*mk, where + ".minKernel");
    c.min_kernel = parse_version(s);
    if (!c.min_kernel) bad_profile(where + ".minKernel \"" + s + "\" is not a kernel version");
  }
  return c;
}

ArgCond arg_of(const json& a, const std::string& where) {
  if (!a.is_object()) bad_profile(where + " must be an object");
  ArgCond c;
  const json* index = member(a, "index");
  if (!index) bad_profile(where + " has no index");
  uint64_t i = unsigned_of(*index, where + ".index");
  if (i > 5) bad_profile(where + ".index " + std::to_string(i) + " is out of range (0-5)");
  c.index = static_cast<unsigned>(i);
  if (const json* v = member(a, "value")) c.value = unsigned_of(*v, where + ".value");
  if (const json* v = member(a, "valueTwo")) c.value_two = unsigned_of(*v, where + ".valueTwo");
  const json* op = member(a, "op");
  if (!op) bad_profile(where + " has no op");
  c.op = op_of(string_of(*op, where + ".op"), where);
  return c;
}

Rule rule_of(const json& s, const std::string& where) {
  if (!s.is_object()) bad_profile(where + " must be an object");
  Rule r;
  r.names = strings_of(member(s, "names"), where + ".names");
  if (const json* name = member(s, "name")) r.names.push_back(string_of(*name, where + ".name"));
  if (r.names.empty()) bad_profile(where + " names no syscall");
  const json* action = member(s, "action");
  if (!action) bad_profile(where + " has no action");
  r.action = action_of(string_of(*action, where + ".action"),
                       errno_ret(member(s, "errnoRet"), where + ".errnoRet"), where);
  if (const json* args = member(s, "args")) {
    if (!args->is_array()) bad_profile(where + ".args must be an array");
    for (size_t i = 0; i < args->size(); ++i)
      r.args.push_back(arg_of((*args)[i], where + ".args[" + std::to_string(i) + "]"));
  }
  r.includes = conditions_of(member(s, "includes"), true, where + ".includes");
  r.excludes = conditions_of(member(s, "excludes"), false, where + ".excludes");
  return r;
}

Profile parse(const std::string& text) {
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::exception& e) {
    bad_profile(std::string("not valid JSON: ") + e.what());
  }
  if (!doc.is_object()) bad_profile("not a JSON object");

  Profile p;
  const json* def = member(doc, "defaultAction");
  if (!def) bad_profile("no defaultAction");
  p.default_action = action_of(string_of(*def, "defaultAction"),
                               errno_ret(member(doc, "defaultErrnoRet"), "defaultErrnoRet"),
                               "defaultAction");

  // The native architecture always; "architectures" as listed (as runc does); from archMap the
  // sub-architectures of the native one (as moby does), so 32-bit binaries work where the profile
  // allows them. Every name is checked, used or not.
  const uint32_t native = seccomp_arch_native();
  std::set<uint32_t> arches;
  for (const auto& a : strings_of(member(doc, "architectures"), "architectures"))
    arches.insert(arch_token(a));
  if (const json* map = member(doc, "archMap")) {
    if (!map->is_array()) bad_profile("archMap must be an array");
    for (const auto& entry : *map) {
      if (!entry.is_object() || !member(entry, "architecture"))
        bad_profile("archMap entries must be objects with an architecture");
      uint32_t main = arch_token(string_of(*member(entry, "architecture"), "archMap architecture"));
      for (const auto& sub : strings_of(member(entry, "subArchitectures"), "archMap subArchitectures")) {
        uint32_t token = arch_token(sub);
        if (main == native) arches.insert(token);
      }
    }
  }
  arches.erase(native);
  p.arches.assign(arches.begin(), arches.end());

  if (const json* calls = member(doc, "syscalls")) {
    if (!calls->is_array()) bad_profile("syscalls must be an array");
    for (size_t i = 0; i < calls->size(); ++i)
      p.rules.push_back(rule_of((*calls)[i], "syscalls[" + std::to_string(i) + "]"));
  }
  return p;
}

// ---- building the filter ----

struct CtxRelease {
  void operator()(void* ctx) const { seccomp_release(ctx); }
};
using Ctx = std::unique_ptr<void, CtxRelease>;

// includes/excludes.arches use Go's GOARCH names (moby compares them with runtime.GOARCH).
const char* native_goarch() {
  switch (seccomp_arch_native()) {
    case SCMP_ARCH_X86_64: return "amd64";
    case SCMP_ARCH_X86: return "386";
    case SCMP_ARCH_AARCH64: return "arm64";
    case SCMP_ARCH_ARM: return "arm";
    case SCMP_ARCH_PPC64LE: return "ppc64le";
    case SCMP_ARCH_PPC64: return "ppc64";
    case SCMP_ARCH_S390X: return "s390x";
    case SCMP_ARCH_RISCV64: return "riscv64";
    case SCMP_ARCH_MIPS64: return "mips64";
    case SCMP_ARCH_MIPSEL64: return "mips64le";
    case SCMP_ARCH_MIPS: return "mips";
    case SCMP_ARCH_MIPSEL: return "mipsle";
    default: return "";
  }
}

std::pair<int, int> kernel_version() {
  static const std::pair<int, int> version = [] {
    struct utsname u {};
    if (::uname(&u) != 0) throw_errno("uname");
    return parse_version(u.release).value_or(std::make_pair(0, 0));
  }();
  return version;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// moby's rules: every included cap must be held, no excluded cap may be.
bool applies(const Rule& r, const std::vector<std::string>& caps) {
  const std::string arch = native_goarch();
  for (const auto& c : r.includes.caps)
    if (!contains(caps, c)) return false;
  if (!r.includes.arches.empty() && !contains(r.includes.arches, arch)) return false;
  if (r.includes.min_kernel && kernel_version() < *r.includes.min_kernel) return false;
  for (const auto& c : r.excludes.caps)
    if (contains(caps, c)) return false;
  return !contains(r.excludes.arches, arch);
}

void add_rule(void* ctx, const Rule& r, const std::string& name, int nr) {
  auto check = [&](int rc) {
    if (rc < 0)
      throw Error(Errc::invalid_argument,
                  "seccomp profile: rule for " + name + ": " + std::strerror(-rc));
  };
  std::vector<scmp_arg_cmp> cmps;
  for (const auto& a : r.args) cmps.push_back({a.index, a.op, a.value, a.value_two});
  // libseccomp takes one comparison per argument in a rule. Like runc, conditions on the same
  // argument become separate rules (so they are ORed); otherwise one rule ANDs them all.
  std::set<unsigned> indexes;
  for (const auto& a : r.args) indexes.insert(a.index);
  if (indexes.size() == r.args.size()) {
    check(seccomp_rule_add_array(ctx, r.action, nr, static_cast<unsigned>(cmps.size()), cmps.data()));
  } else {
    for (const auto& c : cmps) check(seccomp_rule_add_array(ctx, r.action, nr, 1, &c));
  }
}

Ctx build(const Profile& p, const std::vector<std::string>& caps) {
  Ctx ctx(seccomp_init(p.default_action));
  if (!ctx) throw Error(Errc::invalid_argument, "seccomp profile: defaultAction is not usable here");
  // vpcri-init sets no_new_privs itself when the container asks for it; without it, loading
  // needs CAP_SYS_ADMIN (see load_profile_json).
  if (int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_NNP, 0); rc < 0)
    throw_errno("seccomp_attr_set(CTL_NNP)", -rc);
  for (uint32_t arch : p.arches)
    if (int rc = seccomp_arch_add(ctx.get(), arch); rc < 0 && rc != -EEXIST)
      throw_errno("seccomp_arch_add", -rc);

  for (const auto& r : p.rules) {
    // libseccomp refuses rules that repeat the default action; they change nothing anyway.
    if (r.action == p.default_action || !applies(r, caps)) continue;
    for (const auto& name : r.names) {
      // Names this libseccomp (or no architecture of ours) knows are skipped, as runc does.
      int nr = seccomp_syscall_resolve_name(name.c_str());
      if (nr == __NR_SCMP_ERROR) continue;
      add_rule(ctx.get(), r, name, nr);
    }
  }
  return ctx;
}

// The filter as a classic BPF program (so the context is freed before the filter is in force:
// nothing runs between loading and returning that the profile could forbid).
std::string export_bpf(void* ctx) {
  UniqueFd fd(::memfd_create("vpcri-seccomp", MFD_CLOEXEC));
  if (!fd) throw_errno("memfd_create");
  if (int rc = seccomp_export_bpf(ctx, fd.get()); rc < 0) throw_errno("seccomp_export_bpf", -rc);
  off_t size = ::lseek(fd.get(), 0, SEEK_END);
  if (size < 0) throw_errno("lseek");
  if (size == 0 || size % static_cast<off_t>(sizeof(sock_filter)) != 0)
    throw Error(Errc::internal, "seccomp_export_bpf wrote " + std::to_string(size) + " bytes");
  std::string prog(static_cast<size_t>(size), '\0');
  if (::pread(fd.get(), prog.data(), prog.size(), 0) != size) throw_errno("pread");
  return prog;
}

}  // namespace

std::string check_profile_json(const std::string& json) {
  try {
    // Every capability, so that every capability-gated rule is built once.
    build(parse(json), all_capabilities());
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

std::string compile_profile_json(const std::string& json, const std::vector<std::string>& caps) {
  Ctx ctx = build(parse(json), caps);
  return export_bpf(ctx.get());
}

void load_profile_json(const std::string& json, const std::vector<std::string>& caps) {
  load_filter(compile_profile_json(json, caps));
}

}  // namespace vpcri::runtime::security
