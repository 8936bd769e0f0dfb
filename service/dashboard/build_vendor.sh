#!/usr/bin/env bash
# Vendor the dashboard's chart library (uPlot, MIT) from npm into service/dashboard/vendor/.
# The vendored files are committed so that a wheel carries them; the page never loads a CDN.
# Run after changing the version in package.json (then `npm install --package-lock-only`).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$here/package.json" "$here/package-lock.json" "$work/"
(cd "$work" && npm ci --ignore-scripts --no-audit --no-fund --silent)
src="$work/node_modules/uplot"
mkdir -p "$here/vendor"
cp "$src/dist/uPlot.iife.min.js" "$src/dist/uPlot.min.css" "$here/vendor/"
cp "$src/LICENSE" "$here/vendor/LICENSE.uPlot"
node -e 'const p=require(process.argv[1]);console.log(JSON.stringify({name:p.name,version:p.version,license:p.license},null,2))' \
  "$src/package.json" > "$here/vendor/uplot.version.json"
echo "vendored uPlot $(node -p "require('$src/package.json').version") into $here/vendor"
