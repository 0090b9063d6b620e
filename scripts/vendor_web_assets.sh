#!/usr/bin/env bash
# Refresh the browser assets GraphiQL and the runs console load from this server (never from a
# CDN): each package fetched from the npm registry at the pinned version with `npm pack`, and
# only the files the pages load copied, with the package's license, into
# app/web/static/vendor/<package>@<version>/. Change a version here, run it, update the
# <script>/<link> paths in app/web/static/ (grep for the old version), and test in a browser
# (`make test` runs tests/browser/ when Chromium is installed).
#
#   scripts/vendor_web_assets.sh          # needs npm (apt-get install npm) and the registry
set -euo pipefail
cd "$(dirname "$0")/.."

# package@version, then the files to keep (paths inside the package).
PACKAGES=(
  "react@18.3.1 umd/react.production.min.js LICENSE"
  "react-dom@18.3.1 umd/react-dom.production.min.js LICENSE"
  # GraphiQL's UMD build bundles graphql-js, its editor and graphql-ws (its subscription
  # transport); it needs React 18 as globals.
  "graphiql@3.8.3 graphiql.min.js graphiql.min.css LICENSE"
  # The runs console's subscription client (graphql-transport-ws, as the server speaks).
  "graphql-ws@5.16.2 umd/graphql-ws.min.js LICENSE.md"
)

VENDOR=app/web/static/vendor
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

rm -rf "$VENDOR"
for entry in "${PACKAGES[@]}"; do
  read -r spec files <<<"$entry"
  tarball="$(cd "$work" && npm pack --silent "$spec")"
  mkdir -p "$work/$spec"
  tar -xzf "$work/$tarball" -C "$work/$spec"
  for file in $files; do
    mkdir -p "$VENDOR/$spec/$(dirname "$file")"
    cp "$work/$spec/package/$file" "$VENDOR/$spec/$file"
  done
  echo "vendored $spec: $files"
done
