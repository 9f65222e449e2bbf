#include "block/qcow2/qcow2_driver.h"

#include <cerrno>
#include <exception>
#include <new>

#include "base/event_loop.h"
#include "base/log.h"
#include "block/iov_util.h"

namespace tandem {

std::unique_ptr<Qcow2Driver> Qcow2Driver::open(const std::string& path, const Options& options,
                                               EventLoop& loop) {
  qcow2::Qcow2Image::Options image_options;
  image_options.read_only = options.read_only;
  image_options.cache = options.cache;
  return std::make_unique<Qcow2Driver>(qcow2::Qcow2Image::open(path, image_options), options, loop);
}

Qcow2Driver::Qcow2Driver(std::unique_ptr<qcow2::Qcow2Image> image, const Options& options,
                         EventLoop& loop)
    : image_(std::move(image)), cache_(options.cache), loop_(loop) {}

Qcow2Driver::~Qcow2Driver() {
  state_->alive = false;
  std::lock_guard lock(mutex_);
  image_.reset();  // writes the metadata back
}

int Qcow2Driver::locked(const std::function<int()>& work) {
  std::lock_guard lock(mutex_);
  try {
    return work();
  } catch (const std::bad_alloc&) {
    return -ENOMEM;
  } catch (const std::exception& e) {
    TLOG_ERROR("qcow2 image '{}': {}", image_->path(), e.what());
    return -EIO;
  }
}

void Qcow2Driver::complete(BlockCallback done, int result) {
  loop_.post([state = state_, done = std::move(done), result] {
    if (state->alive) done(result);
    --state->in_flight;
  });
}

void Qcow2Driver::read(uint64_t offset, std::span<const iovec> iov, BlockCallback done) {
  ++state_->in_flight;
  complete(std::move(done), locked([&] { return image_->read(offset, iov); }));
}

void Qcow2Driver::write(uint64_t offset, std::span<const iovec> iov, BlockCallback done) {
  ++state_->in_flight;
  complete(std::move(done), locked([&] { return image_->write(offset, iov); }));
}

void Qcow2Driver::flush(BlockCallback done) {
  ++state_->in_flight;
  complete(std::move(done), locked([&] { return image_->flush(); }));
}

void Qcow2Driver::discard(uint64_t offset, uint64_t length, BlockCallback done) {
  ++state_->in_flight;
  complete(std::move(done), locked([&] { return image_->discard(offset, length); }));
}

void Qcow2Driver::write_zeroes(uint64_t offset, uint64_t length, bool may_unmap,
                               BlockCallback done) {
  ++state_->in_flight;
  complete(std::move(done),
           locked([&] { return image_->write_zeroes(offset, length, may_unmap); }));
}

void Qcow2Driver::cancel_all() {
  // Requests run to the end inside their calls: once the running one (if any) has left the
  // mutex, nothing touches buffers or the image.
  std::lock_guard lock(mutex_);
}

}  // namespace tandem
