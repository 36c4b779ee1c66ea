#include "lumen/runtime/sequence_stream.h"

namespace lumen {

SequenceStream::Update SequenceStream::take(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  changed_.wait_for(lock, timeout, [&] { return finished_ || !pending_.empty(); });
  Update update;
  update.text = std::move(pending_);
  pending_.clear();
  update.finished = finished_;
  update.finish_reason = finish_reason_;
  update.usage = usage_;
  update.error = error_;
  return update;
}

void SequenceStream::append(std::string_view text) {
  if (text.empty()) return;
  {
    std::lock_guard lock(mutex_);
    pending_.append(text);
  }
  changed_.notify_all();
}

void SequenceStream::finish(std::string reason, SequenceUsage usage) {
  {
    std::lock_guard lock(mutex_);
    if (finished_) return;
    finished_ = true;
    finish_reason_ = std::move(reason);
    usage_ = usage;
  }
  changed_.notify_all();
}

void SequenceStream::fail(std::exception_ptr error) {
  {
    std::lock_guard lock(mutex_);
    if (finished_) return;
    finished_ = true;
    error_ = std::move(error);
  }
  changed_.notify_all();
}

}  // namespace lumen
