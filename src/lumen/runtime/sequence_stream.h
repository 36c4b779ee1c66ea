// SequenceStream: the hand-off between the scheduler thread, which generates a sequence's
// text, and the thread that consumes it (the server's HTTP thread). The scheduler appends text
// and finally finishes or fails the stream; the consumer takes whatever arrived since its last
// look (text that arrives faster than the client reads is joined, never queued per token) and
// cancels the stream when its client goes away.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <string>
#include <string_view>

namespace lumen {

struct SequenceUsage {
  int64_t prompt_tokens = 0;      // prompt positions, image tokens included
  int64_t completion_tokens = 0;  // tokens sampled (a final eos included)
  int64_t cached_tokens = 0;      // prompt positions reused from a held KV cache
};

class SequenceStream {
 public:
  struct Update {
    std::string text;           // new text since the previous take()
    bool finished = false;      // no more text will come
    std::string finish_reason;  // "stop" or "length" once finished without error
    SequenceUsage usage;
    // Set when the sequence failed instead of finishing: a lumen::Error (kUnavailable when the
    // scheduler stopped, kCancelled after cancel(), or the model's), or whatever else a forward
    // pass threw.
    std::exception_ptr error;
  };

  // Waits up to `timeout` for new text or the end, then returns what arrived (possibly nothing).
  Update take(std::chrono::milliseconds timeout);
  // The client went away: the scheduler drops the sequence at its next step.
  void cancel() { cancelled_ = true; }
  bool cancelled() const { return cancelled_; }

  // Scheduler side.
  void append(std::string_view text);
  void finish(std::string reason, SequenceUsage usage);
  void fail(std::exception_ptr error);

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::string pending_;
  bool finished_ = false;
  std::string finish_reason_;
  SequenceUsage usage_;
  std::exception_ptr error_;
  std::atomic<bool> cancelled_{false};
};

}  // namespace lumen
