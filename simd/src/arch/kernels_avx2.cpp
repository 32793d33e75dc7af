// Kernels<SimdLevel::avx2>, compiled with this level's -m flags only (simd/CMakeLists.txt).
#include "kernels_impl.hpp"

namespace vpmd::simd {
template struct Kernels<SimdLevel::avx2>;
}  // namespace vpmd::simd
