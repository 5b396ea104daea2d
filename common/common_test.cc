#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/fs.h"
#include "common/fs_sync.h"
#include "common/log.h"
#include "common/text.h"
#include "common/trash.h"

using namespace vpcri;

namespace {
struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/vpcri-common-test.XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

// Runs `write` in a child (the armed failpoint is read once per process, at the first one it
// reaches, so this process must reach none) with VPCRI_FAILPOINT=`armed`; returns its wait status.
int in_child(const char* armed, const std::function<void()>& write) {
  const pid_t child = ::fork();
  if (child == 0) {
    if (armed) ::setenv("VPCRI_FAILPOINT", armed, 1);
    try {
      write();
    } catch (...) {
      ::_exit(1);
    }
    ::_exit(0);
  }
  int status = 0;
  REQUIRE(child > 0);
  REQUIRE(::waitpid(child, &status, 0) == child);
  return status;
}
}  // namespace

TEST_CASE("log lines are key=value with quoting where needed") {
  std::string line = log::format(log::Level::warn, "pod started", {{"id", "abc"}, {"name", "a \"b\"\n"}, {"empty", ""}});
  CHECK(line.find(" level=warn msg=\"pod started\" id=abc name=\"a \\\"b\\\"\\n\" empty=\"\"") != std::string::npos);
  CHECK(line.rfind("ts=", 0) == 0);
}

TEST_CASE("log level names parse") {
  CHECK(log::parse_level("debug") == log::Level::debug);
  CHECK(log::parse_level("warning") == log::Level::warn);
  CHECK_FALSE(log::parse_level("loud").has_value());
}

TEST_CASE("write_file_atomic, write_file_contents_synced and replace_file replace content and set the mode") {
  using Writer = void (*)(const std::string&, std::string_view, mode_t);
  auto contents_synced = [](const std::string& path, std::string_view data, mode_t mode) {
    fs::write_file_contents_synced(path, data, mode, "");
  };
  for (Writer write : {Writer{fs::write_file_atomic}, Writer{fs::replace_file}, Writer{contents_synced}}) {
    TempDir dir;
    std::string p = dir.path + "/f";
    write(p, "one", 0600);
    int reader = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);  // a reader of the old version keeps it whole
    REQUIRE(reader >= 0);
    write(p, "two", 0640);
    CHECK(fs::read_file(p) == "two");
    char old[8] = {};
    CHECK(::read(reader, old, sizeof old) == 3);
    CHECK(std::string(old) == "one");
    ::close(reader);
    struct stat st {};
    REQUIRE(::stat(p.c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0640);
    // No temp files are left behind.
    int entries = 0;
    for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator(dir.path)) ++entries;
    CHECK(entries == 1);
    CHECK_THROWS_AS(write(dir.path + "/missing-dir/f", "x", 0644), Error);
  }
}

TEST_CASE("write_file_atomic with a failpoint dies there with the new content in a temp file, the old in place") {
  TempDir dir;
  const std::string path = dir.path + "/checkpoint.json";
  fs::write_file_atomic(path, "old", 0600);
  int status = in_child("test.before_rename", [&] { fs::write_file_atomic(path, "new", 0600, "test.before_rename"); });
  CHECK(WIFSIGNALED(status));
  CHECK(fs::read_file(path) == "old");
  std::vector<std::string> temps;
  for (const auto& e : std::filesystem::directory_iterator(dir.path)) {
    if (fs::is_temp_file_name(e.path().filename().string())) temps.push_back(e.path());
  }
  REQUIRE(temps.size() == 1);
  CHECK(fs::read_file(temps[0]) == "new");
  // Not armed: an ordinary atomic write.
  status = in_child(nullptr, [&] { fs::write_file_atomic(path, "newer", 0600, "test.before_rename"); });
  CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
  CHECK(fs::read_file(path) == "newer");
}

TEST_CASE("stale temp files of an interrupted atomic write are removed, nothing else") {
  TempDir tmp;
  const std::string& dir = tmp.path;
  for (const char* name : {"pod.json", "pod.json.tmp.123.456", "hosts.tmp.1.2", "x.tmp.12", "x.tmp.a.1", ".tmp.1.2",
                           "notes.tmp", "keep.tmp.1.2.txt"}) {
    fs::write_file_atomic(dir + "/" + name, "data");
  }
  fs::mkdir_p(dir + "/sub.tmp.1.2");  // a directory is never removed
  fs::write_file_atomic(dir + "/sub.tmp.1.2/inner.tmp.3.4", "below: not touched");
  CHECK(fs::remove_stale_temp_files(dir) == 2);
  std::set<std::string> left;
  for (const auto& e : std::filesystem::directory_iterator(dir)) left.insert(e.path().filename().string());
  CHECK(left == std::set<std::string>{"pod.json", "x.tmp.12", "x.tmp.a.1", ".tmp.1.2", "notes.tmp", "keep.tmp.1.2.txt",
                                      "sub.tmp.1.2"});
  CHECK(fs::exists(dir + "/sub.tmp.1.2/inner.tmp.3.4"));
  CHECK(fs::remove_stale_temp_files(dir + "/missing") == 0);
}

TEST_CASE("mkdir_p creates nested directories and refuses a file in the way") {
  TempDir dir;
  fs::mkdir_p(dir.path + "/a/b/c", 0700);
  CHECK(std::filesystem::is_directory(dir.path + "/a/b/c"));
  fs::write_file_atomic(dir.path + "/file", "x");
  CHECK_THROWS_AS(fs::mkdir_p(dir.path + "/file/sub"), Error);
}

TEST_CASE("read_file of a missing file is not_found") {
  try {
    fs::read_file("/nonexistent/vpcri/file");
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::not_found);
  }
}

TEST_CASE("text helpers") {
  CHECK(vpcri::trim("  a b \r\n") == "a b");
  CHECK(vpcri::trim("   ").empty());
  CHECK(vpcri::to_lower("X-Amz-Date") == "x-amz-date");
  CHECK(vpcri::percent_encode("a-b_c.d~e") == "a-b_c.d~e");
  CHECK(vpcri::percent_encode("tag:k8s/x y+z=") == "tag%3Ak8s%2Fx%20y%2Bz%3D");
  CHECK(vpcri::percent_encode("/a b/", true) == "/a%20b/");
}

TEST_CASE("errno values map to the error code a caller acts on") {
  CHECK(vpcri::errc_from_errno(ENOSPC) == vpcri::Errc::resource_exhausted);
  CHECK(vpcri::errc_from_errno(EDQUOT) == vpcri::Errc::resource_exhausted);
  CHECK(vpcri::errc_from_errno(EROFS) == vpcri::Errc::failed_precondition);
  CHECK(vpcri::errc_from_errno(ENOENT) == vpcri::Errc::not_found);
  CHECK(vpcri::errc_from_errno(EIO) == vpcri::Errc::internal);
}

TEST_CASE("trash: a thrown-away tree leaves its place at once and is deleted by the worker") {
  TempDir tmp;
  namespace sfs = std::filesystem;
  const std::string trash_dir = tmp.path + "/trash";
  // A leftover of a previous run (a crash after the move) is deleted when the trash starts.
  sfs::create_directories(trash_dir + "/leftover.0123/sub");
  fs::write_file_atomic(trash_dir + "/leftover.0123/sub/f", "x");
  std::vector<std::string> removed;
  std::mutex removed_mu;
  auto remover = [&](const std::string& path) {
    if (path.find("undeletable") != std::string::npos) throw Error(Errc::internal, "refused by the test");
    std::lock_guard lock(removed_mu);
    removed.push_back(path);
    sfs::remove_all(path);
  };
  {
    Trash trash(trash_dir, remover);
    trash.drain();
    CHECK(sfs::is_empty(trash_dir));

    sfs::create_directories(tmp.path + "/objects/one/a/b");
    fs::write_file_atomic(tmp.path + "/objects/one/a/b/file", "data");
    trash.throw_away(tmp.path + "/objects/one");
    CHECK(!sfs::exists(tmp.path + "/objects/one"));  // gone from its place when throw_away returns
    trash.throw_away(tmp.path + "/objects/missing");    // nothing to do
    sfs::create_directories(tmp.path + "/objects/undeletable");
    trash.throw_away(tmp.path + "/objects/undeletable");
    trash.drain();
    std::vector<std::string> left;
    for (const auto& e : sfs::directory_iterator(trash_dir)) left.push_back(e.path().filename().string());
    REQUIRE(left.size() == 1);  // what could not be deleted stays for the next start
    CHECK(left[0].rfind("undeletable.", 0) == 0);
  }
  std::lock_guard lock(removed_mu);
  REQUIRE(removed.size() == 2);
  CHECK(removed[0] == trash_dir + "/leftover.0123");
  CHECK(removed[1].rfind(trash_dir + "/one.", 0) == 0);
  CHECK(sfs::is_empty(tmp.path + "/objects"));
}
