#!/usr/bin/env bash
# Install the official MCP suites, pinned, into .ci/npm (gitignored): the conformance suite and the
# Inspector CLI, plus Node 22 from the npm registry's `node` package when the machine's node is
# older than the Inspector needs (22.19; the conformance suite needs 22 for fs.globSync).
set -euo pipefail
cd "$(dirname "$0")"

PACKAGES=(@modelcontextprotocol/conformance@0.1.16 @modelcontextprotocol/inspector@2.12.0)
NODE_PACKAGE=node@22.23.3

node_is_recent() {
  command -v node >/dev/null &&
    node -e 'const [a, b] = process.versions.node.split(".").map(Number);
             process.exit(a > 22 || (a === 22 && b >= 19) ? 0 : 1)'
}
if ! node_is_recent; then
  PACKAGES+=("$NODE_PACKAGE")
fi
mkdir -p npm
# --prefix keeps package.json, the lock and node_modules inside .ci/npm.
npm install --prefix npm --no-audit --no-fund --loglevel=error "${PACKAGES[@]}"
