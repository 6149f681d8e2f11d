// The one main() of the unit-test executable; the test cases live beside it,
// mirroring the source tree (tests/unit/config/..., tests/unit/core/...).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
