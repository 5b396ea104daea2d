// The streaming server with TLS (streaming.tls_cert_file / tls_key_file) through the real vpcrid:
// a CA and a node certificate for 127.0.0.1 made with the openssl CLI, https:// URLs, exec and
// port forward over TLS through our client and `vpcrictl`, a plain-HTTP client turned away while
// the daemon goes on, a client that does not trust the certificate refused, bad config refused.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "common/fd.h"
#include "cri/streaming/client.h"
#include "cri/streaming/http.h"
#include "cri/streaming/port_forward.h"
#include "cri/streaming/remote_command.h"
#include "cri/streaming/test_support.h"
#include "cri/streaming/tls.h"
#include "tests/integration/daemon_fixture.h"
#include "tests/integration/net_checks.h"
#include "tests/integration/pods.h"

using namespace vpcri::test;
namespace v1 = runtime::v1;
namespace streaming = vpcri::streaming;
using namespace std::chrono_literals;
using vpcri::UniqueFd;
using namespace vpcri::streaming::test;

namespace {

const std::string kOpenssl = "/usr/bin/openssl";

void openssl(std::vector<std::string> args) {
  args.insert(args.begin(), kOpenssl);
  RunResult r = run(args);
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
}

// A CA, a node certificate it signed for IP 127.0.0.1, and a second CA that signed nothing.
struct Certificates {
  Certificates() {
    const std::string d = dir.path() + "/";
    ca = d + "ca.pem";
    cert = d + "node.pem";
    key = d + "node.key";
    other_ca = d + "other-ca.pem";
    for (const auto& [name, pem] : {std::pair{"ca", ca}, std::pair{"other-ca", other_ca}}) {
      openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
               d + name + ".key", "-out", pem, "-days", "1", "-subj", std::string("/CN=vpcri test ") + name});
    }
    openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out",
             d + "node.csr", "-subj", "/CN=vpcri test node"});
    REQUIRE(run({"/bin/sh", "-c", "echo subjectAltName=IP:127.0.0.1 > " + d + "node.ext"}).exit_code == 0);
    openssl({"x509", "-req", "-in", d + "node.csr", "-CA", ca, "-CAkey", d + "ca.key", "-CAcreateserial", "-out", cert,
             "-days", "1", "-extfile", d + "node.ext"});
  }
  TempDir dir;
  std::string ca, cert, key, other_ca;
};

std::string exec_url(Daemon& d, const std::string& id, const std::vector<std::string>& cmd) {
  v1::ExecRequest req;
  req.set_container_id(id);
  for (const auto& c : cmd) req.add_cmd(c);
  req.set_stdin(true);
  req.set_stdout(true);
  req.set_stderr(true);
  v1::ExecResponse resp;
  grpc::Status s = d.runtime().Exec(context().get(), req, &resp);
  REQUIRE_MESSAGE(s.ok(), s.error_message());
  return resp.url();
}

struct ExecRun {
  streaming::ExecOutcome outcome;
  std::string out;
};

ExecRun run_exec(const std::string& url, const std::string& in) {
  streaming::Upgraded u = streaming::upgrade(url, streaming::remote_command_protocols());
  int p[2];
  REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
  UniqueFd in_fd(p[0]);
  REQUIRE(::write(p[1], in.data(), in.size()) == static_cast<ssize_t>(in.size()));
  ::close(p[1]);
  UniqueFd out(::memfd_create("out", MFD_CLOEXEC)), err(::memfd_create("err", MFD_CLOEXEC));
  streaming::ExecClientIo io;
  io.in = in_fd.get();
  io.out = out.get();
  io.err = err.get();
  ExecRun r;
  r.outcome = streaming::run_exec_client(*u.conn, u.protocol, io);
  r.out = contents(out.get());
  return r;
}

uint16_t port_of(const std::string& url) {
  size_t colon = url.find(':', 8), slash = url.find('/', 8);
  return static_cast<uint16_t>(std::stoi(url.substr(colon + 1, slash - colon - 1)));
}

}  // namespace

TEST_CASE("streaming over TLS: https URLs, exec and port forward, plain HTTP turned away, untrusted clients refused") {
  Certificates certs;
  Daemon d;
  d.set_config(pods_config_yaml() + "streaming:\n  tls_cert_file: " + certs.cert + "\n  tls_key_file: " + certs.key +
               "\n");
  d.start();
  Pod pod(d, pod_config("tls"));
  std::string ctr = run_shell_container(d, pod, "web",
                                        "mkdir -p /w; echo secure > /w/index.html; httpd -p 8080 -h /w; exec sleep 1000",
                                        v1::CONTAINER);
  streaming::tls::set_client_options({certs.ca, false});

  // Exec: the URL is https, stdin in, stdout and the exit code back, all through TLS.
  std::string url = exec_url(d, ctr, {"/bin/sh", "-c", "cat; exit 3"});
  CHECK(url.rfind("https://127.0.0.1:", 0) == 0);
  ExecRun r = run_exec(url, "through tls\n");
  CHECK(r.out == "through tls\n");
  CHECK(r.outcome.exit_code == 3);

  // Port forward over TLS to the pod's httpd.
  wait_tcp_listening(d, ctr, 8080);
  {
    std::string pf_url = port_forward_url(d, pod.id());
    CHECK(pf_url.rfind("https://127.0.0.1:", 0) == 0);
    streaming::Upgraded u = streaming::upgrade(pf_url, {streaming::kPortForwardProtocol});
    uint16_t local = 0;
    UniqueFd listener = loopback_listener(local);
    UniqueFd stop(::eventfd(0, EFD_CLOEXEC));
    std::string ended;
    std::thread client([&] { ended = streaming::run_port_forward_client(*u.conn, {{listener.get(), 8080}}, stop.get()); });
    std::string answer;
    {
      UniqueFd c = connect_loopback(local);
      streaming::http::write_all(c.get(), "GET /index.html HTTP/1.0\r\n\r\n");
      answer = read_to_eof(c.get());
    }
    signal_eventfd(stop.get());
    client.join();
    CHECK(ended == "stopped");
    CHECK(answer.find("\r\n\r\nsecure\n") != std::string::npos);
  }

  // A plain-HTTP client on the TLS port gets no HTTP answer and a closed connection; the token it
  // spent is not honoured over plain HTTP either.
  {
    std::string plain_url = exec_url(d, ctr, {"true"});
    UniqueFd raw = connect_loopback(port_of(plain_url));
    timeval tv{10, 0};
    ::setsockopt(raw.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::string path = plain_url.substr(plain_url.find('/', 8));
    REQUIRE(streaming::http::write_all(raw.get(), "POST " + path +
                                                      " HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
                                                      "X-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n"));
    std::string answer = read_to_eof(raw.get());
    CHECK(answer.find("HTTP/1.1") == std::string::npos);
    char byte;
    CHECK(::recv(raw.get(), &byte, 1, 0) == 0);  // closed by the server, not our receive timeout
    CHECK(d.log().find("TLS handshake failed") != std::string::npos);
    std::string http_url = "http://" + plain_url.substr(8);
    CHECK_THROWS_AS(streaming::upgrade(http_url, streaming::remote_command_protocols()), vpcri::Error);
  }

  // A client that trusts another CA refuses the server; one told not to check connects.
  streaming::tls::set_client_options({certs.other_ca, false});
  CHECK_THROWS_WITH_AS(streaming::upgrade(exec_url(d, ctr, {"true"}), streaming::remote_command_protocols()),
                       doctest::Contains("certificate verify failed"), vpcri::Error);
  streaming::tls::set_client_options({"", true});
  CHECK(run_exec(exec_url(d, ctr, {"echo", "unchecked"}), "").out == "unchecked\n");
  streaming::tls::set_client_options({certs.ca, false});

  // vpcrictl over TLS: with the CA, with --streaming-insecure, and refused with the system's CAs.
  RunResult ok = run({binary("VPCRICTL"), "-r", d.socket(), "--streaming-ca-file", certs.ca, "exec", "-i", ctr,
                      "/bin/sh", "-c", "echo out; exit 4"});
  // Exit 1 with the output right was LeakSanitizer in vpcrictl: it exited while the detached TLS
  // relay was still freeing OpenSSL's objects (now awaited: tls::wait_for_client_relays).
  CHECK_MESSAGE(ok.exit_code == 4, "vpcrictl: " << ok.err << "\ndaemon log:\n" << d.log());
  CHECK(ok.out == "out\n");
  RunResult insecure = run({binary("VPCRICTL"), "-r", d.socket(), "--streaming-insecure", "exec", "-i", ctr, "true"});
  CHECK_MESSAGE(insecure.exit_code == 0, insecure.err);
  RunResult untrusted = run({binary("VPCRICTL"), "-r", d.socket(), "exec", "-i", ctr, "true"});
  CHECK(untrusted.exit_code != 0);
  CHECK_MESSAGE(untrusted.err.find("certificate verify failed") != std::string::npos, untrusted.err);

  // The daemon went on through all of it.
  CHECK(d.running());
  CHECK(run_exec(exec_url(d, ctr, {"echo", "alive"}), "").out == "alive\n");
  streaming::tls::set_client_options({});
}

TEST_CASE("streaming TLS config: both files or neither, a key that matches the certificate") {
  Certificates certs;
  {
    Daemon d;
    d.set_config("streaming:\n  tls_cert_file: " + certs.cert + "\n");
    CHECK_THROWS_WITH(d.start(), doctest::Contains("streaming.tls_key_file: TLS needs both"));
  }
  {
    Daemon d;
    d.set_config("streaming:\n  tls_key_file: " + certs.key + "\n");
    CHECK_THROWS_WITH(d.start(), doctest::Contains("streaming.tls_cert_file: TLS needs both"));
  }
  {
    Daemon d;  // the other CA's certificate with the node's key
    d.set_config("streaming:\n  tls_cert_file: " + certs.other_ca + "\n  tls_key_file: " + certs.key + "\n");
    CHECK_THROWS_WITH(d.start(), doctest::Contains("key values mismatch"));
  }
  {
    Daemon d;
    d.set_config("streaming:\n  tls_cert_file: " + certs.dir.path() + "/missing.pem\n  tls_key_file: " + certs.key +
                 "\n");
    CHECK_THROWS_WITH(d.start(), doctest::Contains("missing.pem"));
  }
}
