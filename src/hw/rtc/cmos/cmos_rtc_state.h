// Everything the MC146818 RTC/CMOS holds, as plain data, for snapshots (CmosRtc::save/restore).
#pragma once

#include <array>
#include <cstdint>

namespace tandem {

struct CmosRtcState {
  // Registers and NVRAM by index. While the clock runs, the time registers (0, 2, 4, 6-9 and
  // the century at 0x32) are computed from the clock instead; while SET is on they hold the
  // frozen or guest-written values. Alarm registers (1, 3, 5) are plain storage.
  std::array<uint8_t, 128> cmos{};
  uint8_t index = 0;
  bool nmi_disabled = false;  // bit 7 of the last index write
  int64_t offset_ns = 0;      // guest time = host CLOCK_REALTIME + offset_ns
  int64_t last_check_ns = 0;  // guest time up to which register C's flags are up to date
};

}  // namespace tandem
