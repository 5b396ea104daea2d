#include "runtime/cgroup/device_filter.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <deque>
#include <map>
#include <mutex>

#include "common/error.h"

namespace vpcri::runtime::cgroup {
namespace {

// Registers: r1 = struct bpf_cgroup_dev_ctx* {u32 access_type; u32 major; u32 minor;} on entry,
// where access_type = (access << 16) | device type. After the prologue: r2 = type,
// r3 = access, r4 = major, r5 = minor.
bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  bpf_insn i{};
  i.code = code;
  i.dst_reg = dst & 0xf;
  i.src_reg = src & 0xf;
  i.off = off;
  i.imm = imm;
  return i;
}
bpf_insn load_u32(uint8_t dst, int16_t off) { return insn(BPF_LDX | BPF_MEM | BPF_W, dst, 1, off, 0); }
bpf_insn alu32_imm(uint8_t op, uint8_t dst, int32_t imm) { return insn(BPF_ALU | op | BPF_K, dst, 0, 0, imm); }
bpf_insn mov32_reg(uint8_t dst, uint8_t src) { return insn(BPF_ALU | BPF_MOV | BPF_X, dst, src, 0, 0); }
// 32-bit compares (BPF_JMP32): majors and minors are u32, an imm is s32, same bits.
bpf_insn jne32_imm(uint8_t dst, uint32_t imm, int16_t off) {
  return insn(BPF_JMP32 | BPF_JNE | BPF_K, dst, 0, off, static_cast<int32_t>(imm));
}
bpf_insn jne32_reg(uint8_t dst, uint8_t src, int16_t off) { return insn(BPF_JMP32 | BPF_JNE | BPF_X, dst, src, off, 0); }
void emit_return(std::vector<bpf_insn>& out, int32_t value) {
  out.push_back(insn(BPF_ALU | BPF_MOV | BPF_K, 0, 0, 0, value));
  out.push_back(insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
}

uint32_t access_bits(const std::string& access) {
  uint32_t bits = 0;
  for (char c : access) bits |= c == 'r' ? BPF_DEVCG_ACC_READ : c == 'w' ? BPF_DEVCG_ACC_WRITE : BPF_DEVCG_ACC_MKNOD;
  return bits;
}

constexpr uint32_t kAllAccess = BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD;

// Whether `rule` matches every access: nothing after it can be reached (the verifier refuses
// unreachable instructions).
bool matches_all(const DeviceRule& rule) { return rule.type == 'a' && access_bits(rule.access) == kAllAccess; }

}  // namespace

std::vector<bpf_insn> device_filter_program(const std::vector<DeviceRule>& allowed) {
  for (const DeviceRule& rule : allowed) validate_device_rule(rule);
  std::vector<bpf_insn> out = {
      load_u32(2, 0), alu32_imm(BPF_AND, 2, 0xffff),  // type
      load_u32(3, 0), alu32_imm(BPF_RSH, 3, 16),      // access
      load_u32(4, 4),                                 // major
      load_u32(5, 8),                                 // minor
  };
  for (const DeviceRule& rule : allowed) {
    // Each test jumps past the rest of this rule's block on a mismatch: offsets are patched once
    // the block's length is known (kSkip marks them).
    constexpr int16_t kSkip = -1;
    std::vector<bpf_insn> block;
    if (rule.type != 'a') {
      block.push_back(jne32_imm(2, rule.type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR, kSkip));
    }
    uint32_t bits = access_bits(rule.access);
    if (bits != kAllAccess) {  // requested access must be a subset: (access & bits) == access
      block.push_back(mov32_reg(1, 3));
      block.push_back(alu32_imm(BPF_AND, 1, static_cast<int32_t>(bits)));
      block.push_back(jne32_reg(1, 3, kSkip));
    }
    if (rule.type != 'a' && rule.major != kAnyDevice) block.push_back(jne32_imm(4, static_cast<uint32_t>(rule.major), kSkip));
    if (rule.type != 'a' && rule.minor != kAnyDevice) block.push_back(jne32_imm(5, static_cast<uint32_t>(rule.minor), kSkip));
    emit_return(block, 1);
    for (size_t i = 0; i < block.size(); i++)
      if ((block[i].code & 0x07) == BPF_JMP32) block[i].off = static_cast<int16_t>(block.size() - i - 1);
    out.insert(out.end(), block.begin(), block.end());
    if (matches_all(rule)) return out;
  }
  emit_return(out, 0);
  return out;
}

DeviceFilter::DeviceFilter(const std::vector<DeviceRule>& allowed) {
  std::vector<bpf_insn> program = device_filter_program(allowed);
  static const char kLicense[] = "Apache";
  auto load = [&](char* log, uint32_t log_size) {
    bpf_attr attr{};
    attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    attr.insns = reinterpret_cast<uint64_t>(program.data());
    attr.insn_cnt = static_cast<uint32_t>(program.size());
    attr.license = reinterpret_cast<uint64_t>(kLicense);
    attr.log_buf = reinterpret_cast<uint64_t>(log);
    attr.log_size = log_size;
    attr.log_level = log ? 1 : 0;
    return static_cast<int>(::syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof attr));
  };
  fd_.reset(load(nullptr, 0));
  if (fd_) return;
  int err = errno;
  // Load again with the verifier's log, only to explain the failure.
  std::string log(64 * 1024, '\0');
  UniqueFd again(load(log.data(), static_cast<uint32_t>(log.size())));
  log.resize(std::strlen(log.c_str()));
  throw_errno("load the cgroup device filter (BPF_PROG_LOAD)" + (log.empty() ? std::string() : ": " + log), err);
}

std::shared_ptr<const DeviceFilter> DeviceFilter::shared(const std::vector<DeviceRule>& allowed) {
  constexpr size_t kKept = 16;
  static std::mutex mu;
  static std::map<std::string, std::shared_ptr<const DeviceFilter>> loaded;  // by program bytes
  static std::deque<std::string> order;  // oldest first
  std::vector<bpf_insn> program = device_filter_program(allowed);
  std::string key(reinterpret_cast<const char*>(program.data()), program.size() * sizeof(bpf_insn));
  std::lock_guard lock(mu);
  if (auto it = loaded.find(key); it != loaded.end()) return it->second;
  auto filter = std::make_shared<const DeviceFilter>(allowed);
  if (order.size() >= kKept) {
    loaded.erase(order.front());  // cgroups it is attached to keep their own reference
    order.pop_front();
  }
  loaded.emplace(key, filter);
  order.push_back(std::move(key));
  return filter;
}

void DeviceFilter::attach(const std::string& cgroup_dir) const {
  UniqueFd dir(::open(cgroup_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) throw_errno("open cgroup " + cgroup_dir);
  bpf_attr attr{};
  attr.target_fd = static_cast<uint32_t>(dir.get());
  attr.attach_bpf_fd = static_cast<uint32_t>(fd_.get());
  attr.attach_type = BPF_CGROUP_DEVICE;
  attr.attach_flags = BPF_F_ALLOW_MULTI;
  if (::syscall(SYS_bpf, BPF_PROG_ATTACH, &attr, sizeof attr) != 0) {
    throw_errno("attach the device filter to cgroup " + cgroup_dir + " (BPF_PROG_ATTACH)");
  }
}

}  // namespace vpcri::runtime::cgroup
