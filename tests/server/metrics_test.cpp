#include "lumen/server/metrics.h"

#include <gtest/gtest.h>

namespace lumen::server {
namespace {

TEST(ServerMetrics, RendersPrometheusText) {
  ServerMetrics m;
  m.count_request("/v1/chat/completions", 200);
  m.count_request("/v1/chat/completions", 200);
  m.count_request("/v1/chat/completions", 400);
  m.image_cache_hits += 3;
  m.request_seconds.observe(0.02);
  m.request_seconds.observe(3.0);
  const std::string text = m.render({{"lumen_queue_depth", "Waiting.", 5}});
  EXPECT_NE(text.find("lumen_http_requests_total{endpoint=\"/v1/chat/completions\",status=\"200\"} 2\n"),
            std::string::npos);
  EXPECT_NE(text.find("lumen_http_requests_total{endpoint=\"/v1/chat/completions\",status=\"400\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("# TYPE lumen_image_cache_hits_total counter\nlumen_image_cache_hits_total 3\n"),
            std::string::npos);
  // Cumulative buckets: 0.02 falls in le=0.025, 3.0 in le=5.
  EXPECT_NE(text.find("lumen_request_duration_seconds_bucket{le=\"0.01\"} 0\n"), std::string::npos);
  EXPECT_NE(text.find("lumen_request_duration_seconds_bucket{le=\"0.025\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("lumen_request_duration_seconds_bucket{le=\"2.5\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("lumen_request_duration_seconds_bucket{le=\"5\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("lumen_request_duration_seconds_bucket{le=\"+Inf\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("lumen_request_duration_seconds_count 2\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE lumen_queue_depth gauge\nlumen_queue_depth 5\n"), std::string::npos);
  // Every sample line is "name{labels} value" or "name value".
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    ASSERT_NE(end, std::string::npos);
    std::string line = text.substr(start, end - start);
    if (line[0] != '#') EXPECT_EQ(std::count(line.begin(), line.end(), ' '), 1) << line;
    start = end + 1;
  }
}

}  // namespace
}  // namespace lumen::server
