#include "cri/server/exec_output.h"

#include <doctest/doctest.h>

using namespace vpcri::cri;

TEST_CASE("exec output is cut to fit one message, each stream keeping half when it can") {
  CHECK(exec_output_budget(16 << 20) == (16u << 20) - 1024);
  std::string out(10, 'o'), err(10, 'e');
  CHECK(fit_exec_output(out, err, 100) == 0);
  CHECK((out.size() == 10 && err.size() == 10));

  out.assign(300, 'o');
  err.assign(300, 'e');
  CHECK(fit_exec_output(out, err, 100) == 500);
  CHECK((out.size() == 50 && err.size() == 50));

  out.assign(300, 'o');
  err.assign(20, 'e');
  CHECK(fit_exec_output(out, err, 100) == 220);
  CHECK((out.size() == 80 && err.size() == 20));

  out.assign(20, 'o');
  err.assign(300, 'e');
  CHECK(fit_exec_output(out, err, 100) == 220);
  CHECK((out.size() == 20 && err.size() == 80));
  CHECK(out + err == std::string(20, 'o') + std::string(80, 'e'));  // heads kept
}
