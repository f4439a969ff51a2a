#!/usr/bin/env bash
# Prepare LibriTTS (555 h, 7 parts): download into --dl-dir (stage 0), then stages 1-4:
#   bash egs/libritts/prepare.sh --dl-dir /data/corpora --parts "dev-clean test-clean train-clean-100"
# train = train-* parts, dev = dev-clean, test = test-clean (see --train-parts/--dev-parts/--test-parts).
# Works from any directory; outputs go to --data-dir (default ./data relative to where you run it).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
exec bash "$root/prepare.sh" --corpus libritts --parts all --filter-max-duration 20 "$@"
