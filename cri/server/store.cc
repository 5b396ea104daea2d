#include "cri/server/store.h"

#include <fcntl.h>
#include <google/protobuf/util/json_util.h>
#include <sys/random.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/error.h"
#include "common/fd.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/text.h"
#include "runtime/snapshot/fs_at.h"

namespace vpcri::cri {
namespace {

namespace stdfs = std::filesystem;
namespace pbutil = google::protobuf::util;
using nlohmann::json;

std::string proto_json_text(const google::protobuf::Message& message) {
  std::string text;
  pbutil::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  auto status = pbutil::MessageToJsonString(message, &text, options);
  if (!status.ok()) throw Error(Errc::internal, "serializing " + message.GetTypeName() + ": " + status.ToString());
  return text;
}

// The config's JSON text, converted on the record's first save.
const std::string& config_json(const google::protobuf::Message& config, std::shared_ptr<const std::string>& cache) {
  if (!cache) cache = std::make_shared<const std::string>(proto_json_text(config));
  return *cache;
}

// The record file: `fields` plus messages already in JSON text, spliced in (a parse into a tree
// and a dump of it again cost more than the rest of the save).
std::string record_text(const json& fields, std::initializer_list<std::pair<const char*, const std::string&>> messages) {
  std::string text = fields.dump();  // "{...}", never empty: every record has an id
  text.pop_back();
  for (const auto& [key, value] : messages) {
    text += ",\"";
    text += key;
    text += "\":";
    text += value;
  }
  text += "}\n";
  return text;
}

template <class Message>
Message proto_from_json(const json& j) {
  Message message;
  auto status = pbutil::JsonStringToMessage(j.dump(), &message);
  if (!status.ok()) throw std::runtime_error("parsing " + message.GetTypeName() + ": " + status.ToString());
  return message;
}

json process_to_json(const runtime::ProcessRef& p) { return {{"pid", p.pid}, {"start_time", p.start_time}}; }
runtime::ProcessRef process_from_json(const json& j) {
  return {j.at("pid").get<pid_t>(), j.at("start_time").get<uint64_t>()};
}

template <class Record, class Parse>
std::vector<Record> load_records(const std::string& dir, const char* file, Parse parse) {
  std::vector<Record> out;
  std::error_code ec;
  for (const auto& entry : stdfs::directory_iterator(dir, ec)) {
    const std::string path = entry.path().string() + "/" + file;
    if (!fs::exists(path)) continue;  // a leftover the orphan sweep (recovery.cc) removes
    try {
      out.push_back(parse(json::parse(fs::read_file(path))));
    } catch (const std::exception& e) {
      // Records are not fsynced: a power loss can leave one torn. Its object is swept at start
      // (recovery.cc), like any leftover no record explains.
      log::error("damaged record: its object is swept", {{"path", path}, {"error", e.what()}});
    }
  }
  return out;
}

}  // namespace

std::vector<std::string> mount_points_under(const std::string& path);

namespace {

// Octal escapes of /proc/self/mountinfo ("\040" for a space) decoded.
std::string unescape_mount_path(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 3), nullptr, 8));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

// Moving a tree that still has something mounted in it would have the trash delete inside the
// mount (a pod's /dev/shm may be the host's): refuse instead.
void throw_away(Trash& trash, const std::string& path) {
  const auto mounts = mount_points_under(path);
  if (!mounts.empty()) {
    throw Error(Errc::failed_precondition, "not removing " + path + ": " + mounts.front() + " is still mounted");
  }
  trash.throw_away(path);
}

// Deletes what the trash holds: fd-relative and symlink-proof (a container's upper holds whatever
// it wrote), and never into a mount (remove_tree_at does not cross one).
void delete_from_trash(const std::string& path) {
  const auto slash = path.rfind('/');
  UniqueFd parent(::open(path.substr(0, slash).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!parent) throw_errno("open " + path.substr(0, slash));
  runtime::snapshot::remove_tree_at(parent.get(), path.substr(slash + 1));
}

}  // namespace

std::vector<std::string> mount_points_under(const std::string& path) {
  std::vector<std::string> out;
  std::istringstream mountinfo(fs::read_file("/proc/self/mountinfo"));
  std::string line;
  while (std::getline(mountinfo, line)) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, mount_point;
    fields >> id >> parent >> dev >> root >> mount_point;
    mount_point = unescape_mount_path(mount_point);
    if (mount_point == path || mount_point.rfind(path + "/", 0) == 0) out.push_back(mount_point);
  }
  return out;
}

template <class Record>
typename Table<Record>::Ptr Table<Record>::find(const std::string& id_or_prefix) const {
  if (id_or_prefix.empty()) throw Error(Errc::invalid_argument, std::string(kind_) + " id is empty");
  std::lock_guard lock(mu_);
  auto exact = objects_.find(id_or_prefix);
  if (exact != objects_.end()) return exact->second;
  Ptr match;
  for (auto it = objects_.lower_bound(id_or_prefix); it != objects_.end(); ++it) {
    if (it->first.compare(0, id_or_prefix.size(), id_or_prefix) != 0) break;
    if (match) {
      throw Error(Errc::invalid_argument, std::string(kind_) + " id prefix " + id_or_prefix +
                                              " is ambiguous: it matches " + match->id() + " and " + it->first);
    }
    match = it->second;
  }
  return match;
}

template <class Record>
typename Table<Record>::Ptr Table<Record>::get(const std::string& id_or_prefix) const {
  Ptr object = find(id_or_prefix);
  if (!object) throw Error(Errc::not_found, std::string(kind_) + " " + id_or_prefix + " not found");
  return object;
}

template <class Record>
std::vector<typename Table<Record>::Ptr> Table<Record>::all() const {
  std::lock_guard lock(mu_);
  std::vector<Ptr> out;
  out.reserve(objects_.size());
  for (const auto& [id, object] : objects_) out.push_back(object);
  return out;
}

template <class Record>
void Table<Record>::reserve_name(const std::string& name, const std::string& id) {
  std::lock_guard lock(mu_);
  auto [it, inserted] = names_.emplace(name, id);
  if (!inserted && it->second != id) {
    throw Error(Errc::already_exists,
                std::string(kind_) + " name " + name + " is already in use by " + kind_ + " " + it->second);
  }
}

template <class Record>
void Table<Record>::release_name(const std::string& name) {
  std::lock_guard lock(mu_);
  names_.erase(name);
}

template <class Record>
void Table<Record>::insert(Ptr object) {
  std::lock_guard lock(mu_);
  objects_[object->id()] = std::move(object);
}

template <class Record>
void Table<Record>::erase(const std::string& id) {
  std::lock_guard lock(mu_);
  objects_.erase(id);
}

template class Table<SandboxRecord>;
template class Table<ContainerRecord>;

std::string sandbox_name(const v1::PodSandboxMetadata& m) {
  return m.name() + "_" + m.namespace_() + "_" + m.uid() + "_" + std::to_string(m.attempt());
}

std::string container_name(const SandboxRecord& pod, const v1::ContainerMetadata& m) {
  return m.name() + "_" + sandbox_name(pod.config.metadata()) + "_" + std::to_string(m.attempt());
}

std::string new_id() {
  unsigned char bytes[32];
  size_t got = 0;
  while (got < sizeof bytes) {
    ssize_t n = ::getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("getrandom");
    }
    got += static_cast<size_t>(n);
  }
  return hex_encode(std::string_view(reinterpret_cast<const char*>(bytes), sizeof bytes));
}

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Store::Store(std::string root, std::string state) : root_(std::move(root)), state_(std::move(state)) {
  fs::mkdir_p(root_ + "/pods", 0700);
  fs::mkdir_p(root_ + "/containers", 0700);
  fs::mkdir_p(state_ + "/pods", 0700);
  fs::mkdir_p(state_ + "/containers", 0700);
  root_trash_ = std::make_unique<Trash>(root_ + "/trash", delete_from_trash);
  state_trash_ = std::make_unique<Trash>(state_ + "/trash", delete_from_trash);
}

Store::~Store() = default;

std::vector<std::shared_ptr<Object<ContainerRecord>>> Store::containers_of(const std::string& sandbox_id) const {
  std::vector<std::shared_ptr<Object<ContainerRecord>>> out;
  for (auto& c : containers.all()) {
    bool in_pod = false;
    c->read([&](const ContainerRecord& r) { in_pod = r.sandbox_id == sandbox_id; });
    if (in_pod) out.push_back(std::move(c));
  }
  return out;
}

void Store::drain_trash() const {
  root_trash_->drain();
  state_trash_->drain();
}

size_t Store::remove_stale_temp_files() const {
  std::vector<std::string> dirs = {root_, root_ + "/network", root_ + "/pods", root_ + "/containers", state_ + "/pods",
                                   state_ + "/containers"};
  for (const char* kind : {"/pods", "/containers"}) {
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(root_ + kind, ec)) dirs.push_back(e.path().string());
    for (const auto& e : std::filesystem::directory_iterator(state_ + kind, ec)) {
      dirs.push_back(e.path().string());
      dirs.push_back(e.path().string() + (kind == std::string("/pods") ? "/pause" : "/monitor"));
    }
  }
  size_t removed = 0;
  for (const auto& dir : dirs) removed += fs::remove_stale_temp_files(dir);
  return removed;
}

namespace {

ContainerRecord::User user_of(const runtime::container::InitSpec& spec) {
  return {spec.process.uid, spec.process.gid, spec.process.additional_gids};
}

}  // namespace

void set_init_spec(ContainerRecord& r, const runtime::container::InitSpec& spec) {
  r.init_spec = runtime::container::init_spec_to_json(spec);
  r.user = user_of(spec);
}

void Store::save(const SandboxRecord& r) const {
  json j{{"id", r.id},
         {"runtime_handler", r.runtime_handler},
         {"state", v1::PodSandboxState_Name(r.state)},
         {"created_at", r.created_at},
         {"cgroup_parent", r.cgroup_parent},
         {"owns_cgroup_parent", r.owns_cgroup_parent},
         {"created_cgroup_parent", r.created_cgroup_parent},
         {"hostname", r.hostname},
         {"ip", r.ip},
         {"pause", process_to_json(r.pause)},
         {"creating", r.creating}};
  fs::mkdir_p(pod_root(r.id), 0700);
  fs::replace_file(pod_root(r.id) + "/pod.json", record_text(j, {{"config", config_json(r.config, r.config_json)}}), 0600);
}

void Store::save(const ContainerRecord& r) const {
  json j{{"id", r.id},
         {"sandbox_id", r.sandbox_id},
         {"image_id", r.image_id},
         {"state", v1::ContainerState_Name(r.state)},
         {"created_at", r.created_at},
         {"started_at", r.started_at},
         {"finished_at", r.finished_at},
         {"exit_code", r.exit_code},
         {"reason", r.reason},
         {"message", r.message},
         {"log_path", r.log_path},
         {"init_spec", r.init_spec},
         {"cgroup_path", r.cgroup_path},
         {"stop_signal", r.stop_signal},
         {"process", process_to_json(r.process)},
         {"creating", r.creating}};
  fs::mkdir_p(container_root(r.id), 0700);
  const std::string resources = proto_json_text(r.resources);
  fs::replace_file(container_root(r.id) + "/container.json",
                   record_text(j, {{"config", config_json(r.config, r.config_json)}, {"resources", resources}}), 0600);
}

// The <root> directory goes last and whole, record included (one rename): until then a restarted
// vpcrid still knows the object and a retried removal finishes it; after it, nothing is left that
// the next start would take for the object.
void Store::erase_files(const SandboxRecord& r) const {
  throw_away(*state_trash_, pod_state(r.id));
  throw_away(*root_trash_, pod_root(r.id));
}

void Store::erase_files(const ContainerRecord& r) const {
  throw_away(*state_trash_, container_state(r.id));
  throw_away(*root_trash_, container_root(r.id));
}

std::vector<SandboxRecord> Store::load_sandboxes() const {
  return load_records<SandboxRecord>(root_ + "/pods", "pod.json", [](const json& j) {
    SandboxRecord r;
    r.id = j.at("id").get<std::string>();
    r.config = proto_from_json<v1::PodSandboxConfig>(j.at("config"));
    r.runtime_handler = j.at("runtime_handler").get<std::string>();
    if (!v1::PodSandboxState_Parse(j.at("state").get<std::string>(), &r.state)) throw std::runtime_error("bad state");
    r.created_at = j.at("created_at").get<int64_t>();
    r.cgroup_parent = j.at("cgroup_parent").get<std::string>();
    r.owns_cgroup_parent = j.at("owns_cgroup_parent").get<bool>();
    r.created_cgroup_parent = j.value("created_cgroup_parent", std::string());
    r.hostname = j.at("hostname").get<std::string>();
    r.ip = j.value("ip", std::string());
    r.pause = process_from_json(j.at("pause"));
    r.creating = j.value("creating", false);
    return r;
  });
}

std::vector<ContainerRecord> Store::load_containers() const {
  return load_records<ContainerRecord>(root_ + "/containers", "container.json", [](const json& j) {
    ContainerRecord r;
    r.id = j.at("id").get<std::string>();
    r.sandbox_id = j.at("sandbox_id").get<std::string>();
    r.config = proto_from_json<v1::ContainerConfig>(j.at("config"));
    r.image_id = j.at("image_id").get<std::string>();
    if (!v1::ContainerState_Parse(j.at("state").get<std::string>(), &r.state)) throw std::runtime_error("bad state");
    r.created_at = j.at("created_at").get<int64_t>();
    r.started_at = j.at("started_at").get<int64_t>();
    r.finished_at = j.at("finished_at").get<int64_t>();
    r.exit_code = j.at("exit_code").get<int32_t>();
    r.reason = j.at("reason").get<std::string>();
    r.message = j.at("message").get<std::string>();
    r.log_path = j.at("log_path").get<std::string>();
    r.init_spec = j.at("init_spec").get<std::string>();
    try {
      if (!r.init_spec.empty()) {
        r.user = user_of(runtime::container::init_spec_from_json(r.init_spec));
      }
    } catch (const std::exception& e) {  // the container is still known; only its user is not
      log::warn("container record: unreadable init spec", {{"id", r.id}, {"error", e.what()}});
    }
    r.cgroup_path = j.at("cgroup_path").get<std::string>();
    r.stop_signal = j.at("stop_signal").get<int>();
    r.process = process_from_json(j.at("process"));
    r.resources = proto_from_json<v1::LinuxContainerResources>(j.at("resources"));
    r.creating = j.value("creating", false);
    return r;
  });
}

}  // namespace vpcri::cri
