// `lumen serve` as a command: its help, and the refusal to listen on a public address without
// an API key (the server itself is tested in tests/server).
#include <gtest/gtest.h>

#include "cli/run_cli.h"

namespace lumen::testing {
namespace {

TEST(ServeCli, RefusesAPublicAddressWithoutAKey) {
  CliResult r = run_cli({"serve", "--host", "0.0.0.0", "--port", "0"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("refusing to serve on 0.0.0.0 without an API key"), std::string::npos) << r.err;
  EXPECT_EQ(count_lines(r.err), 1u) << r.err;
}

TEST(ServeCli, DocumentsItsOptions) {
  CliResult r = run_cli({"serve", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* option : {"--host", "--port", "--api-key", "--insecure-no-auth", "--allow-dir",
                             "--allow-remote-images", "--max-sequences", "--max-queue", "--image-cache-mb"}) {
    EXPECT_NE(r.out.find(option), std::string::npos) << option;
  }
  r = run_cli({"serve", "--port", "70000"});
  EXPECT_EQ(r.exit_code, 2);  // usage error
}

}  // namespace
}  // namespace lumen::testing
