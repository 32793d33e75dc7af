// Kernels<SimdLevel::avx512>, compiled with this level's -m flags only (simd/CMakeLists.txt).
#include "kernels_impl.hpp"

namespace vpmd::simd {
template struct Kernels<SimdLevel::avx512>;
}  // namespace vpmd::simd
