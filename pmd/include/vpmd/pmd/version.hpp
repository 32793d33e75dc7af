#pragma once
// Placeholder so the pmd layer has a public header; the transports and the Port
// API arrive with the VFIO issue.
namespace vpmd::pmd { inline constexpr int layer_version = 1; }
