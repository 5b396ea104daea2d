#include "cri/server/request_log.h"

#include <doctest/doctest.h>

#include "cri/server/store.h"

using namespace vpcri::cri;

namespace {

// A store holding pod "default/web" (id p1...) with container "app" (id c1...), in memory only.
struct Fixture {
  Store store{"/nonexistent/root", "/nonexistent/state"};
  Fixture() {
    SandboxRecord pod;
    pod.id = "p1" + std::string(62, 'a');
    pod.config.mutable_metadata()->set_name("web");
    pod.config.mutable_metadata()->set_namespace_("default");
    store.sandboxes.insert(std::make_shared<Sandbox>(pod));
    ContainerRecord container;
    container.id = "c1" + std::string(62, 'b');
    container.sandbox_id = pod.id;
    container.config.mutable_metadata()->set_name("app");
    store.containers.insert(std::make_shared<Container>(container));
  }
};

}  // namespace

TEST_CASE("request_subject: from the pod config a request carries") {
  Fixture f;
  v1::RunPodSandboxRequest run;
  run.mutable_config()->mutable_metadata()->set_name("new");
  run.mutable_config()->mutable_metadata()->set_namespace_("kube-system");
  RequestSubject s = request_subject(run, f.store);
  CHECK(s.pod == "kube-system/new");
  CHECK(s.container == "");

  v1::CreateContainerRequest create;
  create.set_pod_sandbox_id("p1");
  create.mutable_config()->mutable_metadata()->set_name("sidecar");
  create.mutable_sandbox_config()->mutable_metadata()->set_name("web");
  create.mutable_sandbox_config()->mutable_metadata()->set_namespace_("default");
  s = request_subject(create, f.store);
  CHECK(s.pod == "default/web");
  CHECK(s.container == "sidecar");
}

TEST_CASE("request_subject: from the ids a request names, by full id or prefix") {
  Fixture f;
  v1::StopPodSandboxRequest stop;
  stop.set_pod_sandbox_id("p1");
  CHECK(request_subject(stop, f.store).pod == "default/web");

  v1::ContainerStatusRequest status;
  status.set_container_id("c1" + std::string(62, 'b'));
  RequestSubject s = request_subject(status, f.store);
  CHECK(s.pod == "default/web");
  CHECK(s.container == "app");
}

TEST_CASE("request_subject: nothing for unknown or empty ids and requests about no pod") {
  Fixture f;
  v1::RemoveContainerRequest remove;
  remove.set_container_id("ffff");
  RequestSubject s = request_subject(remove, f.store);
  CHECK(s.pod == "");
  CHECK(s.container == "");
  v1::StopPodSandboxRequest empty;
  CHECK(request_subject(empty, f.store).pod == "");
  v1::VersionRequest version;
  CHECK(request_subject(version, f.store).pod == "");
  v1::ListContainersRequest list;
  list.mutable_filter()->set_pod_sandbox_id("p1");  // a filter names no subject
  CHECK(request_subject(list, f.store).pod == "");
}

TEST_CASE("request_names: copied without a lookup, resolved against the store as it is then") {
  Fixture f;
  v1::ContainerStatusRequest status;
  status.set_container_id("c2");
  RequestNames names = request_names(status);
  CHECK(names.container_id == "c2");
  CHECK(resolve_subject(names, f.store).container == "");  // not known yet

  ContainerRecord later;
  later.id = "c2" + std::string(62, 'c');
  later.sandbox_id = "p1" + std::string(62, 'a');
  later.config.mutable_metadata()->set_name("late");
  f.store.containers.insert(std::make_shared<Container>(later));
  RequestSubject s = resolve_subject(names, f.store);
  CHECK(s.container == "late");
  CHECK(s.pod == "default/web");
}
