#!/usr/bin/env bash
# Builds the MCP Bundle for Claude Desktop (dist/kimi-mcp.mcpb, or the path given) with the
# official mcpb tool, pinned, from npm into .ci/npm (gitignored; the conformance suite
# shares it). The bundle is of the `uv` server type: it carries pyproject.toml and the package,
# and Claude Desktop installs Python and the dependencies itself.
set -euo pipefail
cd "$(dirname "$0")/.."

MCPB_VERSION="2.1.2"
MCPB=".ci/npm/node_modules/.bin/mcpb"
output="$(realpath -m "${1:-dist/kimi-mcp.mcpb}")"

if [ "$("$MCPB" --version 2>/dev/null || true)" != "$MCPB_VERSION" ]; then
  # Saved (exactly) into .ci/npm/package.json beside the conformance suite's packages: npm prunes
  # whatever a later install there does not find listed.
  mkdir -p .ci/npm && npm install --prefix .ci/npm --save-exact --no-audit --no-fund --loglevel=error \
    "@anthropic-ai/mcpb@$MCPB_VERSION" >&2
fi

# The manifest as written in the repository must be valid on its own (CI checks this too).
"$MCPB" validate manifest.json >&2

# Stage only what the bundle needs: no tests, caches or virtual environments.
staging="$(mktemp -d)"
trap 'rm -rf "$staging"' EXIT
cp manifest.json pyproject.toml README.md LICENSE "$staging/"
tar --exclude='__pycache__' --exclude='*.py[co]' -cf - kimi_mcp | tar -xf - -C "$staging"

mkdir -p "$(dirname "$output")"
rm -f "$output"
"$MCPB" pack "$staging" "$output" >&2
echo "$output"
