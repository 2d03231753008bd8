// SPDX-License-Identifier: Apache-2.0
#include "server/accept.h"

#include <gtest/gtest.h>

namespace idforge::detail {
namespace {

TEST(Accept, QValuesThenSpecificityThenOrderDecide) {
  EXPECT_FALSE(prefers_text(""));
  EXPECT_FALSE(prefers_text("*/*"));
  EXPECT_FALSE(prefers_text("application/json"));
  EXPECT_TRUE(prefers_text("text/plain"));
  EXPECT_TRUE(prefers_text("text/*"));
  EXPECT_TRUE(prefers_text("text/plain, application/json"));
  EXPECT_FALSE(prefers_text("application/json, text/plain"));
  EXPECT_FALSE(prefers_text("text/plain;q=0.5, application/json"));
  EXPECT_TRUE(prefers_text("application/json;q=0.4, text/plain;q=0.5"));
  EXPECT_FALSE(prefers_text("text/plain;q=0"));
  EXPECT_TRUE(prefers_text("text/plain;q=0.9, */*;q=0.1"));
  EXPECT_TRUE(prefers_text("*/*;q=0.1, text/plain"));
  EXPECT_FALSE(prefers_text("text/*;q=0.2, application/json;q=0.2"));  // Equal q: the exact range wins.
  EXPECT_TRUE(prefers_text("Text/Plain; charset=utf-8"));
  EXPECT_TRUE(prefers_text("text/plain;q=1.000"));
  EXPECT_FALSE(prefers_text("text/plain;q=2"));  // A malformed q-value makes the range count for nothing.
  EXPECT_FALSE(prefers_text("text/plain;q=0.1234"));
  EXPECT_FALSE(prefers_text(",,;=;,text"));
}

TEST(Accept, TheMostSpecificRangeDecidesAType) {
  // text/plain is refused outright even though text/* would allow it.
  EXPECT_FALSE(prefers_text("text/*, text/plain;q=0"));
  EXPECT_TRUE(prefers_text("text/*;q=0, text/plain"));
}

}  // namespace
}  // namespace idforge::detail
