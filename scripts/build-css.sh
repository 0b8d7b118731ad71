#!/bin/sh
# Rebuild the committed dashboard assets: Tailwind CSS (minified) and the vendored Chart.js.
# Needs Node 20+ once: `npm ci`. Running the app needs neither Node nor this script.
# Pass --watch to rebuild on template changes while developing.
set -eu
cd "$(dirname "$0")/.."
[ -d node_modules/@tailwindcss/cli ] || npm ci --no-audit --no-fund
cp node_modules/chart.js/dist/chart.umd.min.js cronmanager/static/vendor/chart.umd.min.js
if [ "${1:-}" = "--watch" ]; then
  exec npx @tailwindcss/cli -i assets/app.css -o cronmanager/static/css/app.css --watch=always
fi
npx @tailwindcss/cli -i assets/app.css -o cronmanager/static/css/app.css --minify
echo "built cronmanager/static/css/app.css ($(wc -c < cronmanager/static/css/app.css) bytes)"
