#!/usr/bin/env bash
# Prepare your own recordings (ljspeech, libritts, pairs or long layout; see docs/data.md):
#   bash egs/custom/prepare.sh --corpus-dir /path/to/recordings [--speaker me] [--trim-silence true]
# Works from any directory; outputs go to --data-dir (default ./data relative to where you run it).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
exec bash "$root/prepare.sh" --corpus custom --dev-size 0.05 --test-size 0.05 "$@"
