#!/usr/bin/env bash
# The whole suite on another Node.js major (22, 24…), from a clean clone of HEAD: the official
# build comes from the npm registry's node-linux-<arch> package (what the `node` package installs),
# and native addons are built against its headers. Usage: npm run test:node -- 24
set -euo pipefail
major=${1:?usage: npm run test:node -- <major, e.g. 22 or 24>}
case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64) arch=arm64 ;;
  *) echo "no node-linux build for $(uname -m)" >&2; exit 2 ;;
esac
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${EDGE_NODE_CACHE:-$HOME/.cache/edge-agent}/node-$major-$arch
if [ ! -x "$cache/package/bin/node" ]; then
  mkdir -p "$cache"
  (cd "$cache" && npm pack --silent "node-linux-$arch@$major" > /dev/null && tar xzf node-linux-"$arch"-*.tgz && rm node-linux-"$arch"-*.tgz)
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git clone -q "$root" "$work/repo"
cd "$work/repo"
export PATH="$cache/package/bin:$PATH" npm_config_nodedir="$cache/package"
echo "suite on node $(node --version) with npm $(npm --version), from $(git rev-parse --short HEAD)"
npm ci --no-audit --no-fund
npm test
