#include "accel/tcg/softmmu.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

namespace tandem::tcg {
namespace {

constexpr uint64_t kRam = 0x80000000;

class CodePagesTest : public ::testing::Test {
 protected:
  CodePagesTest() {
    ram_.add_region(kRam, 1 << 20);
    pages_ = std::make_unique<CodePages>(ram_);
    pages_->add_listener([this](uint64_t page) { dropped_.push_back(page); });
    pages_->add_tlb(tlb_.get());
  }
  // A fast write entry for virtual page `vpage` mapping guest-physical `ppage`.
  SoftTlbEntry& map_write(uint64_t vpage, uint64_t ppage) {
    SoftTlbEntry& e = tlb_->entry[1][SoftTlb::index(vpage)];
    e.addend =
        static_cast<int64_t>(reinterpret_cast<uintptr_t>(ram_.host_ptr(ppage, 4096)) - vpage);
    e.tag[1] = vpage;
    return e;
  }

  GuestRam ram_;
  std::unique_ptr<SoftTlb> tlb_ = std::make_unique<SoftTlb>();
  std::unique_ptr<CodePages> pages_;
  std::vector<uint64_t> dropped_;
};

TEST_F(CodePagesTest, CodePagesSendStoresToTheSlowPathUntilInvalidated) {
  SoftTlbEntry& e = map_write(0x40000000, kRam + 0x3000);
  SoftTlbEntry& other = map_write(0x40001000, kRam + 0x4000);
  pages_->add(kRam + 0x3010);
  EXPECT_TRUE(pages_->has_code(kRam + 0x3ff8));
  EXPECT_FALSE(pages_->has_code(kRam + 0x4000));
  EXPECT_EQ(e.tag[1], 0x40000000 | kTlbNotDirty);  // generated code's compare now fails
  EXPECT_EQ(other.tag[1], 0x40001000u);
  pages_->invalidate(kRam + 0x3000);
  EXPECT_EQ(dropped_, std::vector<uint64_t>{kRam + 0x3000});
  EXPECT_FALSE(pages_->has_code(kRam + 0x3000));
  EXPECT_EQ(e.tag[1], 0x40000000u);   // fast again
  pages_->invalidate(kRam + 0x3000);  // nothing there any more
  EXPECT_EQ(dropped_.size(), 1u);
  EXPECT_FALSE(pages_->has_code(0x1000));  // outside RAM
}

TEST_F(CodePagesTest, DeviceWritesDropCodeAtTheNextFenceOnly) {
  pages_->add(kRam + 0x1000);
  pages_->add(kRam + 0x5000);
  pages_->note_device_write(kRam + 0xff0, 0x20);   // touches the code page 0x1000 and 0x0
  pages_->note_device_write(kRam + 0x8000, 4096);  // no code there
  pages_->note_device_write(0x1000, 4096);         // not RAM: ignored
  EXPECT_TRUE(dropped_.empty());                   // nothing until the fence
  pages_->invalidate_device_written();
  EXPECT_EQ(dropped_, std::vector<uint64_t>{kRam + 0x1000});
  EXPECT_TRUE(pages_->has_code(kRam + 0x5000));
  pages_->invalidate_device_written();  // the record was consumed
  EXPECT_EQ(dropped_.size(), 1u);
  // A page written while it held no code, translated afterwards, and then fenced: the DMA may
  // have landed after the translation, so the code goes.
  pages_->note_device_write(kRam + 0x7000, 8);
  pages_->add(kRam + 0x7000);
  pages_->invalidate_device_written();
  EXPECT_EQ(dropped_.back(), kRam + 0x7000);
}

TEST_F(CodePagesTest, InvalidateRangeCoversEveryPageItTouches) {
  pages_->add(kRam);
  pages_->add(kRam + 0x1000);
  pages_->add(kRam + 0x3000);
  pages_->invalidate_range(kRam + 0xffc, 8);
  EXPECT_EQ(dropped_, (std::vector<uint64_t>{kRam, kRam + 0x1000}));
  EXPECT_TRUE(pages_->has_code(kRam + 0x3000));
}

}  // namespace
}  // namespace tandem::tcg
