// SPDX-License-Identifier: Apache-2.0
#include "server/buffer.h"

#include <gtest/gtest.h>

#include <string>

namespace idforge::detail {
namespace {

TEST(Buffer, KeepsDataAcrossGrowth) {
  Buffer buffer;
  std::string expected;
  for (int i = 0; i < 5000; ++i) {
    const std::string piece = std::to_string(i) + ",";
    buffer.append(piece);
    expected += piece;
  }
  EXPECT_EQ(buffer.view(), expected);
  buffer.truncate(3);
  EXPECT_EQ(buffer.view(), "0,1");
}

TEST(Buffer, ReleaseAboveFreesOnlyLargeMemory) {
  Buffer buffer;
  buffer.append(std::string(100, 'x'));
  const std::size_t small = buffer.capacity();
  buffer.release_above(16 * 1024);
  EXPECT_EQ(buffer.size(), 0u);
  EXPECT_EQ(buffer.capacity(), small);  // Kept: the next response reuses it.

  buffer.append(std::string(200 * 1024, 'y'));
  EXPECT_GE(buffer.capacity(), 200u * 1024);
  buffer.release_above(16 * 1024);
  EXPECT_EQ(buffer.size(), 0u);
  EXPECT_EQ(buffer.capacity(), 0u);  // Freed: one large batch does not pin it.

  buffer.append("after");
  EXPECT_EQ(buffer.view(), "after");
}

}  // namespace
}  // namespace idforge::detail
