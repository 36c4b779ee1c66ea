// Which kernels the CPU dispatch picks at the current level, op family by op family, for
// reports (`lumen bench`, `lumen info`). Kept beside the dispatch code it describes: a change
// to linear.cpp, attention.cpp or elementwise.cpp's choices changes this table too.
#pragma once

#include <string>

namespace lumen {

// e.g. "matmul avx2 (exact fp32 for every weight format), attention avx2, ...".
std::string cpu_kernel_summary();

}  // namespace lumen
