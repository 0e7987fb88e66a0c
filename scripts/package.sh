#!/usr/bin/env bash
# npm run package: the Debian package of the agent, build/package/edge-agent_<version>_<arch>.deb.
# Inside: the agent compiled to JavaScript (no tsx or esbuild at run time), its production
# dependencies with the native addons built against the Node.js it ships (the npm registry's
# node-linux-<arch> build, so the box does not depend on Debian's nodejs 18), the pages, the
# schema, the systemd units and the maintainer scripts in packaging/debian/.
# Environment: EDGE_PACKAGE_NODE (default 22.23.5, an LTS line the suite runs on),
# EDGE_PACKAGE_VERSION, EDGE_PACKAGE_COMPRESS (xz, or gzip for speed).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
node_version=${EDGE_PACKAGE_NODE:-22.23.5}
case "$(uname -m)" in
  x86_64) arch=x64 deb_arch=amd64 ;;
  aarch64) arch=arm64 deb_arch=arm64 ;;
  *) echo "no node-linux build for $(uname -m)" >&2; exit 2 ;;
esac
base_version=$(node -p "require('./package.json').version")
rev=$(git rev-parse --short HEAD 2>/dev/null || echo local)
version=${EDGE_PACKAGE_VERSION:-$base_version+git$(git log -1 --format=%cd --date=format:%Y%m%d%H%M 2>/dev/null || date +%Y%m%d%H%M).$rev}
out=$root/build/package
stage=$out/stage
lib=$stage/usr/lib/edge-agent
rm -rf "$stage" && mkdir -p "$lib" "$stage/usr/bin" "$stage/lib/systemd/system" "$stage/usr/share/doc/edge-agent/examples" "$stage/DEBIAN"

# 1. The runtime, cached per version.
cache=${EDGE_NODE_CACHE:-$HOME/.cache/edge-agent}/node-$node_version-$arch
if [ ! -x "$cache/package/bin/node" ]; then
  mkdir -p "$cache"
  (cd "$cache" && npm pack --silent "node-linux-$arch@$node_version" > /dev/null && tar xzf node-linux-"$arch"-*.tgz && rm node-linux-"$arch"-*.tgz)
fi
mkdir -p "$lib/node/bin"
cp "$cache/package/bin/node" "$lib/node/bin/node"
cp "$cache/package/LICENSE" "$lib/node/LICENSE" 2>/dev/null || true

# 2. The agent, compiled (imports rewritten from .ts to .js).
npx tsc -p tsconfig.build.json --outDir "$lib"
# Pages and their assets (no sources), the schema, the voice clips' recordings.
(cd kiosk && find . -type f \( -name '*.html' -o -name '*.js' -o -name '*.css' -o -name '*.svg' -o -name '*.png' -o -name '*.wav' -o -name '*.ogg' -o -name '*.woff2' \) -not -path './audio/clips/*' -print0 | while IFS= read -r -d '' f; do mkdir -p "$lib/kiosk/$(dirname "$f")"; cp "$f" "$lib/kiosk/$f"; done)
mkdir -p "$lib/config"
cp config/schema.json "$lib/config/schema.json"
node -e "const p=require('./package.json'); delete p.devDependencies; delete p.scripts; p.version='$version'.split('+')[0]; require('fs').writeFileSync('$lib/package.json', JSON.stringify(p, null, 2)+'\n')"
cp package-lock.json "$lib/package-lock.json"

# 3. Production dependencies, native addons built for the shipped Node.js.
(
  cd "$lib"
  export PATH="$cache/package/bin:$PATH" npm_config_nodedir="$cache/package"
  npm ci --omit=dev --no-audit --no-fund --loglevel=error
  node -e "require('better-sqlite3'); require('@serialport/bindings-cpp')" || { echo 'native addons did not load under the shipped Node.js' >&2; exit 1; }
  node -e "require('pcsclite')" 2>/dev/null || echo 'warning: pcsclite did not build (libpcsclite-dev missing?): card readers will be unavailable' >&2
  rm -f package-lock.json
  # What the build left that nothing loads: compiler objects and the sources of the addons.
  rm -rf node_modules/better-sqlite3/deps node_modules/better-sqlite3/src node_modules/*/build/Release/obj* node_modules/*/build/Release/.deps node_modules/@*/*/build/Release/obj* node_modules/@*/*/build/Release/.deps
)

# 4. The command, the units, the docs.
cat > "$stage/usr/bin/edge-agent" <<'EOF'
#!/bin/sh
# The edge agent on its own Node.js (/usr/lib/edge-agent/node). Voice clips in the state directory.
: "${EDGE_AUDIO_DIR:=/var/lib/edge-agent/audio}"
export EDGE_AUDIO_DIR
# Node's compile cache: the second start skips compiling the agent's JavaScript again.
if [ -z "${NODE_COMPILE_CACHE:-}" ] && [ -w /var/lib/edge-agent/cache ]; then
  NODE_COMPILE_CACHE=/var/lib/edge-agent/cache
  export NODE_COMPILE_CACHE
fi
exec /usr/lib/edge-agent/node/bin/node /usr/lib/edge-agent/main.js "$@"
EOF
chmod 0755 "$stage/usr/bin/edge-agent"
cp systemd/edge-agent.service systemd/kiosk.service "$stage/lib/systemd/system/"
cp README.md docs/OPERATIONS.md docs/SECURITY.md "$stage/usr/share/doc/edge-agent/"
cp config/examples/*.yaml "$stage/usr/share/doc/edge-agent/examples/"

# 5. Maintainer scripts and control.
for f in packaging/debian/*; do
  case "$(basename "$f")" in
    control) sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$deb_arch/" -e "s/@SIZE@/$(du -sk "$stage" | cut -f1)/" "$f" > "$stage/DEBIAN/control" ;;
    templates) cp "$f" "$stage/DEBIAN/templates" ;;
    *) install -m 0755 "$f" "$stage/DEBIAN/$(basename "$f")" ;;
  esac
done
deb=$out/edge-agent_${version}_${deb_arch}.deb
rm -f "$out"/edge-agent_*.deb
# xz for a package to hand out; EDGE_PACKAGE_COMPRESS=gzip for a quick one (the install test).
case "${EDGE_PACKAGE_COMPRESS:-xz}" in
  gzip) dpkg-deb --root-owner-group -Zgzip -z1 --build "$stage" "$deb" > /dev/null ;;
  *) dpkg-deb --root-owner-group -Zxz -z6 --build "$stage" "$deb" > /dev/null ;;
esac
echo "$deb"
