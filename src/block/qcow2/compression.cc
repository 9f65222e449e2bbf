#include "block/qcow2/compression.h"

#include <zlib.h>
#include <zstd.h>

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
