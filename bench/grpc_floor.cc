// vpcri-grpc-floor: the idle memory of a bare gRPC C++ server on the libraries vpcrid is built
// on (Debian's libgrpc++_unsecure, protobuf, libstdc++), so the bench table shows how much of vpcrid's
// idle RSS is its own and how much any daemon serving the CRI this way pays.
//
// The server is a child that registers the CRI RuntimeService with Version answered and nothing
// else, on a unix socket. The parent, once it is ready, calls Version --calls times through its
// own channel (so the server has accepted a connection and served, as vpcrid has when the bench
// measures it idle), waits a second, and reads the server's VmRSS and Pss from /proc. gRPC is
// initialised only after the fork, separately in each process.
//
//   vpcri-grpc-floor --socket PATH --out FILE [--calls N]
// The generated CRI header first: its Signal enum's values would collide with <signal.h>'s macros.
#include "api.grpc.pb.h"
#include "bench/proc_files.h"

#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

namespace {

namespace v1 = runtime::v1;

class VersionOnly final : public v1::RuntimeService::Service {
  grpc::Status Version(grpc::ServerContext*, const v1::VersionRequest*, v1::VersionResponse* resp) override {
    resp->set_version("0.1.0");
    resp->set_runtime_name("grpc-floor");
    resp->set_runtime_version("0");
    resp->set_runtime_api_version("v1");
    return grpc::Status::OK;
  }
};

[[noreturn]] void serve(const std::string& socket, int ready_fd) {
  VersionOnly service;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix:" + socket, grpc::InsecureServerCredentials());
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  char byte = server ? 1 : 0;
  if (::write(ready_fd, &byte, 1) != 1 || !server) std::_Exit(1);
  ::close(ready_fd);
  server->Wait();  // until the parent kills us
  std::_Exit(0);
}

}  // namespace

int main(int argc, char** argv) {
  std::string socket, out;
  int calls = 20;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--socket") socket = argv[i + 1];
    else if (a == "--out") out = argv[i + 1];
    else if (a == "--calls") calls = std::atoi(argv[i + 1]);
    else {
      std::cerr << "usage: vpcri-grpc-floor --socket PATH --out FILE [--calls N]\n";
      return 2;
    }
  }
  if (socket.empty() || out.empty()) {
    std::cerr << "usage: vpcri-grpc-floor --socket PATH --out FILE [--calls N]\n";
    return 2;
  }
  int ready[2];
  if (::pipe2(ready, O_CLOEXEC) != 0) return 1;
  pid_t child = ::fork();
  if (child < 0) return 1;
  if (child == 0) {
    ::close(ready[0]);
    serve(socket, ready[1]);
  }
  ::close(ready[1]);
  char byte = 0;
  bool started = ::read(ready[0], &byte, 1) == 1 && byte == 1;
  ::close(ready[0]);
  int rc = 0;
  nlohmann::json doc{{"kind", "grpc_floor"}, {"calls", calls}};
  if (started) {
    auto channel = grpc::CreateChannel("unix:" + socket, grpc::InsecureChannelCredentials());
    auto stub = v1::RuntimeService::NewStub(channel);
    for (int i = 0; i < calls && rc == 0; i++) {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
      v1::VersionRequest req;
      v1::VersionResponse resp;
      grpc::Status s = stub->Version(&ctx, req, &resp);
      if (!s.ok()) {
        doc["error"] = "Version: " + s.error_message();
        rc = 1;
      }
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
    const vpcri::bench::ProcMemory memory = vpcri::bench::proc_memory(child);
    doc["rss_kb"] = memory.rss_kb;
    doc["pss_kb"] = memory.pss_kb;
  } else {
    doc["error"] = "the server did not start on " + socket;
    rc = 1;
  }
  ::kill(child, SIGKILL);
  while (::waitpid(child, nullptr, 0) < 0 && errno == EINTR) {
  }
  ::unlink(socket.c_str());
  std::ofstream(out) << doc.dump(2) << "\n";
  return rc;
}
