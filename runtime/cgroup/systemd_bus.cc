#include "runtime/cgroup/systemd_bus.h"

#include <systemd/sd-bus.h>

#include <cstring>
#include <memory>

#include "common/error.h"

namespace vpcri::runtime::cgroup {
namespace {

constexpr const char* kService = "org.freedesktop.systemd1";
constexpr const char* kManagerPath = "/org/freedesktop/systemd1";
constexpr const char* kManager = "org.freedesktop.systemd1.Manager";
constexpr uint64_t kCallTimeoutUs = 30ull * 1000 * 1000;

struct BusError {
  sd_bus_error e = SD_BUS_ERROR_NULL;
  ~BusError() { sd_bus_error_free(&e); }
  std::string text(int r) const {
    if (e.message) return std::string(e.name ? e.name : "") + ": " + e.message;
    return std::strerror(-r);
  }
  bool is(const char* name) const { return sd_bus_error_has_name(&e, name); }
};

struct MessageDeleter {
  void operator()(sd_bus_message* m) const { sd_bus_message_unref(m); }
};
using Message = std::unique_ptr<sd_bus_message, MessageDeleter>;

void check(int r, const std::string& what) {
  if (r < 0) throw Error(Errc::internal, what + ": " + std::strerror(-r));
}

void append_property(sd_bus_message* m, const UnitProperty& p) {
  const char* sig = dbus_signature(p.value);
  const std::string what = "encoding systemd property " + p.name;
  check(sd_bus_message_open_container(m, 'r', "sv"), what);
  check(sd_bus_message_append(m, "s", p.name.c_str()), what);
  check(sd_bus_message_open_container(m, 'v', sig), what);
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, bool>) {
          check(sd_bus_message_append(m, "b", static_cast<int>(v)), what);
        } else if constexpr (std::is_same_v<T, uint64_t>) {
          check(sd_bus_message_append(m, "t", v), what);
        } else if constexpr (std::is_same_v<T, std::string>) {
          check(sd_bus_message_append(m, "s", v.c_str()), what);
        } else if constexpr (std::is_same_v<T, std::vector<uint32_t>>) {
          check(sd_bus_message_append_array(m, 'u', v.data(), v.size() * sizeof(uint32_t)), what);
        } else {
          check(sd_bus_message_append_array(m, 'y', v.data(), v.size()), what);
        }
      },
      p.value);
  check(sd_bus_message_close_container(m), what);
  check(sd_bus_message_close_container(m), what);
}

void append_properties(sd_bus_message* m, const std::vector<UnitProperty>& properties) {
  check(sd_bus_message_open_container(m, 'a', "(sv)"), "encoding systemd properties");
  for (const UnitProperty& p : properties) append_property(m, p);
  check(sd_bus_message_close_container(m), "encoding systemd properties");
}

Message new_manager_call(sd_bus* bus, const char* method) {
  sd_bus_message* m = nullptr;
  check(sd_bus_message_new_method_call(bus, &m, kService, kManagerPath, kManager, method),
        std::string("preparing systemd call ") + method);
  return Message(m);
}

// JobRemoved(u id, o job, s unit, s result): remembered, so a job that ends before its
// StartTransientUnit reply is read is not missed.
int on_job_removed(sd_bus_message* m, void* userdata, sd_bus_error*) {
  auto* removed = static_cast<std::vector<std::pair<std::string, std::string>>*>(userdata);
  uint32_t id = 0;
  const char* job = nullptr;
  const char* unit = nullptr;
  const char* result = nullptr;
  if (sd_bus_message_read(m, "uoss", &id, &job, &unit, &result) >= 0) removed->emplace_back(job, result);
  return 0;
}

}  // namespace

SystemdBus::SystemdBus() {
  int r = sd_bus_open_system(&bus_);
  if (r < 0) {
    // No dbus-daemon: systemd's own socket (root only), as systemctl does.
    bus_ = sd_bus_flush_close_unref(bus_);
    r = sd_bus_new(&bus_);
    if (r >= 0) r = sd_bus_set_address(bus_, "unix:path=/run/systemd/private");
    if (r >= 0) r = sd_bus_start(bus_);
    if (r < 0) {
      bus_ = sd_bus_flush_close_unref(bus_);
      throw Error(Errc::unavailable, std::string("cannot reach systemd over D-Bus (system bus or /run/systemd/private): ") +
                                         std::strerror(-r) + "; cgroup_driver: systemd needs systemd as init");
    }
  }
  // No sender in the match: on the private socket messages carry none.
  r = sd_bus_match_signal(bus_, &job_removed_match_, nullptr, kManagerPath, kManager, "JobRemoved", on_job_removed,
                          &removed_jobs_);
  if (r >= 0) {
    // Without a subscriber systemd may not emit the manager's signals at all.
    BusError error;
    r = sd_bus_call_method(bus_, kService, kManagerPath, kManager, "Subscribe", &error.e, nullptr, "");
  }
  if (r < 0) {
    sd_bus_slot_unref(job_removed_match_);
    sd_bus_flush_close_unref(bus_);
    throw Error(Errc::unavailable, std::string("cannot subscribe to systemd's job signals: ") + std::strerror(-r));
  }
}

SystemdBus::~SystemdBus() {
  sd_bus_slot_unref(job_removed_match_);
  sd_bus_flush_close_unref(bus_);
}

void SystemdBus::wait_for_job(const std::string& job, const std::string& what, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    for (const auto& [path, result] : removed_jobs_) {
      if (path != job) continue;
      if (result == "done") return;
      throw Error(Errc::internal, what + ": systemd's job ended with result \"" + result + "\"");
    }
    int r = sd_bus_process(bus_, nullptr);
    check(r, what + ": reading systemd's signals");
    if (r > 0) continue;
    auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      throw Error(Errc::deadline_exceeded, what + ": systemd's job " + job + " did not finish in " +
                                               std::to_string(timeout.count()) + "ms");
    r = sd_bus_wait(bus_, static_cast<uint64_t>(left.count()));
    if (r < 0 && r != -EINTR) check(r, what + ": waiting for systemd");
  }
}

void SystemdBus::start_transient_unit(const std::string& name, const std::vector<UnitProperty>& properties,
                                      std::chrono::milliseconds timeout) {
  const std::string what = "starting systemd unit " + name;
  Message call = new_manager_call(bus_, "StartTransientUnit");
  check(sd_bus_message_append(call.get(), "ss", name.c_str(), "fail"), what);
  append_properties(call.get(), properties);
  check(sd_bus_message_append(call.get(), "a(sa(sv))", 0), what);  // no auxiliary units
  BusError error;
  sd_bus_message* reply = nullptr;
  int r = sd_bus_call(bus_, call.get(), kCallTimeoutUs, &error.e, &reply);
  Message owned_reply(reply);
  if (r < 0) {
    Errc code = error.is("org.freedesktop.systemd1.UnitExists") ? Errc::already_exists : Errc::internal;
    throw Error(code, what + ": " + error.text(r));
  }
  const char* job = nullptr;
  check(sd_bus_message_read(reply, "o", &job), what + ": reading the job");
  wait_for_job(job, what, timeout);
}

void SystemdBus::set_unit_properties(const std::string& name, const std::vector<UnitProperty>& properties) {
  const std::string what = "setting properties of systemd unit " + name;
  Message call = new_manager_call(bus_, "SetUnitProperties");
  check(sd_bus_message_append(call.get(), "sb", name.c_str(), 1), what);
  append_properties(call.get(), properties);
  BusError error;
  sd_bus_message* reply = nullptr;
  int r = sd_bus_call(bus_, call.get(), kCallTimeoutUs, &error.e, &reply);
  Message owned_reply(reply);
  if (r < 0)
    throw Error(error.is("org.freedesktop.systemd1.NoSuchUnit") ? Errc::not_found : Errc::internal,
                what + ": " + error.text(r));
}

void SystemdBus::stop_unit(const std::string& name, std::chrono::milliseconds timeout) {
  const std::string what = "stopping systemd unit " + name;
  BusError error;
  sd_bus_message* reply = nullptr;
  int r = sd_bus_call_method(bus_, kService, kManagerPath, kManager, "StopUnit", &error.e, &reply, "ss", name.c_str(),
                             "replace");
  Message owned_reply(reply);
  if (r < 0) {
    if (error.is("org.freedesktop.systemd1.NoSuchUnit")) return;
    throw Error(Errc::internal, what + ": " + error.text(r));
  }
  const char* job = nullptr;
  check(sd_bus_message_read(reply, "o", &job), what + ": reading the job");
  wait_for_job(job, what, timeout);
}

std::string SystemdBus::unit_state(const std::string& name) {
  BusError error;
  sd_bus_message* reply = nullptr;
  int r = sd_bus_call_method(bus_, kService, kManagerPath, kManager, "GetUnit", &error.e, &reply, "s", name.c_str());
  Message owned_reply(reply);
  if (r < 0) {
    if (error.is("org.freedesktop.systemd1.NoSuchUnit")) return "";
    throw Error(Errc::internal, "looking up systemd unit " + name + ": " + error.text(r));
  }
  const char* path = nullptr;
  check(sd_bus_message_read(reply, "o", &path), "reading systemd unit path");
  char* state = nullptr;
  BusError error2;
  r = sd_bus_get_property_string(bus_, kService, path, "org.freedesktop.systemd1.Unit", "ActiveState", &error2.e,
                                 &state);
  if (r < 0) throw Error(Errc::internal, "reading ActiveState of " + name + ": " + error2.text(r));
  std::string out = state;
  free(state);
  return out;
}

}  // namespace vpcri::runtime::cgroup
