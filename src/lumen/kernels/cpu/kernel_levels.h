// Which kernels the CPU dispatch picks at the current level, op family by op family, for
// reports (`lumen bench`, `lumen info`). Kept beside the dispatch code it describes: a change
// to linear.cpp, attention.cpp or elementwise.cpp's choices changes this table too.
#pragma once

#include <string>

namespace lumen {

// e.g. "matmul avx2 (int8 for Q8_0/Q4_0 at reduced precision, exact fp32 otherwise), attention avx2, ...".
std::string cpu_kernel_summary();

}  // namespace lumen
