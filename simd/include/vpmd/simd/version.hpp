#pragma once
// simd layer version marker; burst policies arrive with the burst-path issue.
namespace vpmd::simd { inline constexpr int layer_version = 1; }
