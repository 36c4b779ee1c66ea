#!/usr/bin/env bash
# Copies the data files Lumen ships and tests against from a workplace's shared/ folder into
# the repository, byte for byte. Run it when shared/ changes; tests/data_sync_test.cpp checks
# that the copies still match whenever shared/ is present.
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${1:-../shared}
[ -d "$SHARED" ] || { echo "sync-shared-data: no folder $SHARED" >&2; exit 1; }

mkdir -p models tests/data/fixtures tests/data/eval
rsync_copy() { rm -rf "$2"; cp -r "$1" "$2"; chmod -R u+w "$2"; }
rsync_copy "$SHARED/models/imp-shapes" models/imp-shapes
for entry in imp-tiny-a imp-tiny-b-msft imp-tiny-phi3 imp-tiny-qwen2 llava-tiny siglip-tiny preprocess imp-v1-3b.config.json; do
  rsync_copy "$SHARED/fixtures/$entry" "tests/data/fixtures/$entry"
done
rsync_copy "$SHARED/images" tests/data/images
rsync_copy "$SHARED/eval/shapes" tests/data/eval/shapes
rm -f tests/data/eval/shapes/README.md   # prose stays in shared/; the project documents itself
echo "sync-shared-data: copied from $SHARED"
