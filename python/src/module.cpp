// lumen._lumen: the extension module behind the `lumen` Python package (issue 17). The package
// (python/lumen) is the documented face; this module holds the handles and the GIL handling.
#include "common.h"
#include "lumen/core/error.h"

PYBIND11_MODULE(_lumen, m) {
  namespace py = pybind11;
  using namespace lumen::python;
  m.doc() = "Lumen's library bindings (internal: import lumen instead).";
  register_error_translator();
  m.def("_set_error_classes", &set_error_classes, py::arg("invalid_input"), py::arg("not_found"),
        py::arg("limit_exceeded"), py::arg("io"), py::arg("internal"));
  m.def(
      "set_threads",
      [](int threads) {
        if (threads < 1) throw lumen::Error("threads must be >= 1, not " + std::to_string(threads));
        py::gil_scoped_release release;
        set_threads(threads);
      },
      py::arg("threads"));
  m.def("get_threads", [] {
    py::gil_scoped_release release;
    return current_threads();
  });
  m.def("source_model_dir", &source_model_dir);
  m.attr("version") = LUMEN_VERSION;
  bind_model(m);
  bind_index(m);
}
