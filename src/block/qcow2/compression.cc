#include "block/qcow2/compression.h"

#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include <cerrno>
#include <memory>

#include "block/qcow2/qcow2_format.h"

namespace tandem::qcow2 {

namespace {

int inflate_raw(std::span<const uint8_t> in, std::span<uint8_t> out) {
  z_stream s{};
  // Negative window bits: raw deflate, no zlib header. 15 decodes every window size.
  if (inflateInit2(&s, -15) != Z_OK) return -ENOMEM;
  s.next_in = const_cast<Bytef*>(in.data());
  s.avail_in = static_cast<uInt>(in.size());
  s.next_out = out.data();
  s.avail_out = static_cast<uInt>(out.size());
  int r = inflate(&s, Z_FINISH);
  bool full = s.avail_out == 0;
  inflateEnd(&s);
  // The stream may end exactly at the cluster's end, or the output may fill up first (the
  // encoder's end-of-stream marker is then the only thing left).
  if (full && (r == Z_STREAM_END || r == Z_OK || r == Z_BUF_ERROR)) return 0;
  return -EIO;
}

int zstd_decompress(std::span<const uint8_t> in, std::span<uint8_t> out) {
  std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> ctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  if (!ctx) return -ENOMEM;
  ZSTD_inBuffer input{in.data(), in.size(), 0};
  ZSTD_outBuffer output{out.data(), out.size(), 0};
  while (output.pos < output.size) {
    size_t before_in = input.pos, before_out = output.pos;
    size_t r = ZSTD_decompressStream(ctx.get(), &output, &input);
    if (ZSTD_isError(r)) return -EIO;
    if (r == 0 && output.pos < output.size) return -EIO;                  // the frame ended early
    if (input.pos == before_in && output.pos == before_out) return -EIO;  // no progress
  }
  return 0;
}

}  // namespace

struct ClusterCompressor::State {
  z_stream zlib{};
  bool zlib_ready = false;
  ZSTD_CCtx* zstd = nullptr;
  ~State() {
    if (zlib_ready) deflateEnd(&zlib);
    ZSTD_freeCCtx(zstd);
  }
};

ClusterCompressor::ClusterCompressor(uint8_t compression_type)
    : type_(compression_type), state_(std::make_unique<State>()) {}

ClusterCompressor::~ClusterCompressor() = default;

ssize_t ClusterCompressor::compress(std::span<const uint8_t> in, std::span<uint8_t> out) {
  State& s = *state_;
  switch (type_) {
    case kCompressionZlib: {
      if (!s.zlib_ready) {
        // QEMU's parameters: default level, raw deflate with a 4 KiB window, memLevel 9.
        if (deflateInit2(&s.zlib, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -12, 9, Z_DEFAULT_STRATEGY) !=
            Z_OK) {
          return -ENOMEM;
        }
        s.zlib_ready = true;
      } else if (deflateReset(&s.zlib) != Z_OK) {
        return -EIO;
      }
      s.zlib.next_in = const_cast<Bytef*>(in.data());
      s.zlib.avail_in = static_cast<uInt>(in.size());
      s.zlib.next_out = out.data();
      s.zlib.avail_out = static_cast<uInt>(out.size());
      int r = deflate(&s.zlib, Z_FINISH);
      if (r != Z_STREAM_END) return 0;  // out of room
      return static_cast<ssize_t>(out.size() - s.zlib.avail_out);
    }
    case kCompressionZstd: {
      if (!s.zstd && !(s.zstd = ZSTD_createCCtx())) return -ENOMEM;
      size_t n = ZSTD_compressCCtx(s.zstd, out.data(), out.size(), in.data(), in.size(),
                                   ZSTD_CLEVEL_DEFAULT);
      if (ZSTD_isError(n)) {
        return ZSTD_getErrorCode(n) == ZSTD_error_dstSize_tooSmall ? 0 : -EIO;
      }
      return static_cast<ssize_t>(n);
    }
    default:
      return -EINVAL;
  }
}

int decompress_cluster(uint8_t compression_type, std::span<const uint8_t> in,
                       std::span<uint8_t> out) {
  switch (compression_type) {
    case kCompressionZlib:
      return inflate_raw(in, out);
    case kCompressionZstd:
      return zstd_decompress(in, out);
    default:
      return -EIO;
  }
}

}  // namespace tandem::qcow2
