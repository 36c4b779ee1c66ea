# The two commands (see README.md):
#   make demo   installs dependencies, builds, and answers a question about a bundled picture
#   make test   installs dependencies, builds, and runs every test
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
LUMEN := $(BUILD_DIR)/lumen

.PHONY: deps build demo test clean

deps:
	@bash scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD_DIR) -j $(JOBS)

demo: build
	$(LUMEN) ask -i examples/shapes.png "What is in the image?"

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

clean:
	rm -rf $(BUILD_DIR)
