#!/usr/bin/env bash
# Refreshes graphiql/vendor/ (the GraphiQL page's scripts and styles, served by the server
# itself) from the npm registry at the versions pinned below, with their licences and a
# VERSIONS file of what was taken (name, version, the tarball's integrity). Needs npm.
# After a refresh: run the tests (tests/test_graphiql.py lists every absolute URL the assets
# may hold) and tools/graphiql_browser.sh, then commit graphiql/vendor/ as one change.
set -euo pipefail
cd "$(dirname "$0")/.."

REACT=18.3.1     # the last React with UMD builds: React 19 ships none
GRAPHIQL=4.1.2   # the last GraphiQL with a UMD build: 5 is ESM-only (Monaco, a bundler)
EXPLORER=4.0.6   # @graphiql/plugin-explorer for GraphiQL 4
ONEGRAPH=0.9.0   # graphiql-explorer, bundled inside the plugin: taken for its licence only

dest=graphiql/vendor
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

packages=("react@$REACT" "react-dom@$REACT" "graphiql@$GRAPHIQL"
          "@graphiql/plugin-explorer@$EXPLORER" "graphiql-explorer@$ONEGRAPH")
(cd "$work" && npm pack --json --silent "${packages[@]}" > packed.json)
for tarball in "$work"/*.tgz; do
  name="$(basename "$tarball" .tgz)"
  mkdir -p "$work/$name" && tar xzf "$tarball" -C "$work/$name" --strip-components=1
done

rm -rf "$dest" && mkdir -p "$dest"
# Source maps are not shipped: drop the comment that would make devtools ask for them.
take() { sed '/^\/[/*]# sourceMappingURL=/d' "$work/$1" > "$dest/$2"; }
take "react-$REACT/umd/react.production.min.js" react.production.min.js
take "react-dom-$REACT/umd/react-dom.production.min.js" react-dom.production.min.js
take "graphiql-$GRAPHIQL/graphiql.min.js" graphiql.min.js
take "graphiql-$GRAPHIQL/graphiql.min.css" graphiql.min.css
take "graphiql-plugin-explorer-$EXPLORER/dist/index.umd.js" plugin-explorer.umd.js
take "graphiql-plugin-explorer-$EXPLORER/dist/style.css" plugin-explorer.css

cp "$work/react-$REACT/LICENSE" "$dest/LICENSE.react"
cp "$work/react-dom-$REACT/LICENSE" "$dest/LICENSE.react-dom"
cp "$work/graphiql-$GRAPHIQL/LICENSE" "$dest/LICENSE.graphiql"
# @graphiql/plugin-explorer's tarball has no LICENSE file: it is MIT (its package.json),
# from the same repository and copyright holders as graphiql.
cp "$work/graphiql-$GRAPHIQL/LICENSE" "$dest/LICENSE.graphiql-plugin-explorer"
cp "$work/graphiql-explorer-$ONEGRAPH/LICENSE" "$dest/LICENSE.graphiql-explorer"

node -e '
  const packed = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  for (const p of packed) console.log(`${p.name} ${p.version} ${p.integrity}`);
' "$work/packed.json" > "$dest/VERSIONS"
# Each package's own licence field, as npm publishes it.
for dir in "react-$REACT" "react-dom-$REACT" "graphiql-$GRAPHIQL" \
           "graphiql-plugin-explorer-$EXPLORER" "graphiql-explorer-$ONEGRAPH"; do
  node -e 'const p = require(process.argv[1]); if (p.license !== "MIT") {
             console.error(`${p.name}: licence ${p.license}, not MIT`); process.exit(1); }' \
    "$work/$dir/package.json"
done
du -ch "$dest"/*.js "$dest"/*.css | tail -1
