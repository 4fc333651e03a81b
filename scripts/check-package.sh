#!/usr/bin/env bash
# The package as a user gets it, end to end, from a clean clone of this working tree (its
# tracked and new files; no node_modules, no dist):
#   1. `npm ci` there leaves package-lock.json as committed, and so do `npm install` with
#      this npm and with npm 10 (the one Node 20 ships);
#   2. `npm pack` there; a fresh project (`npm init -y`) installs the tarball, and
#      - ES modules get the whole API (test/package/consumer/esm.mjs), the `spool` bin runs,
#      - CommonJS gets load() and a clear error for anything else (cjs.cjs),
#      - TypeScript compiling to ES modules type-checks and runs (typed-esm.mts),
#      - TypeScript compiling to CommonJS (module nodenext, and module commonjs) type-checks
#        and runs with load() (typed-cjs.ts), and rejects `import { openSpool } from
#        'spool'` at type-check time (wrong-cjs.ts: TS2305);
#   3. a fresh project installs the clone's folder, unbuilt (`npm install /path/to/clone`);
#   4. a fresh project installs it from a git URL (`npm install git+file://…`).
# Needs the npm registry (or a warm npm cache: installs run with --prefer-offline).
# test/package/package.test.ts runs it when SPOOL_CHECK_PACKAGE=1.
#   bash scripts/check-package.sh [--keep]     (--keep: leave the temp directory)
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/spool-check-package-XXXXXX")
if [ "${1:-}" = "--keep" ]; then echo "check-package: working in $work (kept)"; else trap 'rm -rf "$work"' EXIT; fi

started=$(date +%s)
step() { echo "check-package: [$(($(date +%s) - started)) s] $*"; }
fail() { echo "check-package: FAILED: $*" >&2; exit 1; }
quiet=(--prefer-offline --no-audit --no-fund --loglevel=error)
consumer="$repo/test/package/consumer"
ts_version=$(node -p "require('$repo/node_modules/typescript/package.json').version")
types_node_version=$(node -p "require('$repo/node_modules/@types/node/package.json').version")

# A clean clone of the working tree, with a commit of its own (for the git URL install).
clean_clone() {
  mkdir -p "$1"
  (cd "$repo" && git ls-files -z --cached --others --exclude-standard --deduplicate) |
    (cd "$repo" && while IFS= read -r -d '' file; do [ -e "$file" ] && printf '%s\0' "$file"; done) |
    (cd "$repo" && xargs -0 cp --parents -t "$1")
  git -C "$1" init -q
  git -C "$1" add -A
  git -C "$1" -c user.name=check-package -c user.email=check-package@invalid commit -q -m 'working tree'
}

# A fresh project, as `npm init -y` makes it ("type": "commonjs"), with the consumer files.
new_project() {
  mkdir -p "$1"
  (cd "$1" && npm init -y >/dev/null)
  cp "$consumer"/* "$1"/
}

step "clean clone of $repo"
clean_clone "$work/clone"
cp -r "$work/clone" "$work/unbuilt"

step "npm ci in the clone (installs, then builds through prepare)"
(cd "$work/clone" && npm ci "${quiet[@]}" >/dev/null)
[ -f "$work/clone/dist/index.js" ] && [ -f "$work/clone/dist/cjs.cjs" ] || fail "npm ci did not build dist/"
cmp -s "$repo/package-lock.json" "$work/clone/package-lock.json" || fail "npm ci changed package-lock.json"

step "npm install in the clone leaves package-lock.json as committed"
(cd "$work/clone" && npm install "${quiet[@]}" >/dev/null)
git -C "$work/clone" diff --exit-code --stat -- package-lock.json || fail "npm $(npm --version) install rewrote package-lock.json"
(cd "$work/clone" && npx -y npm@10 install "${quiet[@]}" >/dev/null)
git -C "$work/clone" diff --exit-code --stat -- package-lock.json || fail "npm 10 install rewrote package-lock.json"

step "npm pack in the clone"
tarball=$(cd "$work/clone" && npm pack --pack-destination "$work" --loglevel=error | tail -n 1)
tarball="$work/$tarball"
step "packed $(basename "$tarball") ($(du -k "$tarball" | cut -f1) KiB, $(tar -tzf "$tarball" | wc -l) files)"

step "a fresh project installs the tarball (with typescript@$ts_version and @types/node@$types_node_version)"
app="$work/app"
new_project "$app"
(cd "$app" && npm install "${quiet[@]}" "$tarball" "typescript@$ts_version" "@types/node@$types_node_version" >/dev/null)

step "ES module, CommonJS and the spool bin"
(cd "$app" && node esm.mjs && node cjs.cjs)
[ "$(cd "$app" && npx --no-install spool --version)" = "$(node -p "require('$repo/package.json').version")" ] || fail "the spool bin"

step "TypeScript, module nodenext: ES module and CommonJS (load()) type-check and run"
(cd "$app" && npx tsc -p tsconfig.json)
data=$(mktemp -d "$work/data-XXXXXX")
(cd "$app" && node out/typed-esm.mjs "$data/esm" && node out/typed-cjs.js "$data/cjs")

step "TypeScript, module nodenext, CommonJS: import { openSpool } from 'spool' fails at type-check time"
if output=$(cd "$app" && npx tsc -p tsconfig.wrong.json 2>&1); then fail "tsc accepted wrong-cjs.ts"; fi
echo "$output" | grep -q "TS2305.*openSpool" || fail "tsc rejected wrong-cjs.ts, but not with TS2305 on openSpool: $output"
echo "  $output" | head -n 1

step "TypeScript, module commonjs (node10 resolution): load() type-checks and runs, the named import fails"
node10=(--module commonjs --moduleResolution node10 --target es2022 --lib es2022 --types node --strict)
(cd "$app" && npx tsc "${node10[@]}" --outDir out-node10 typed-cjs.ts && node out-node10/typed-cjs.js "$data/node10")
if output=$(cd "$app" && npx tsc "${node10[@]}" --noEmit wrong-cjs.ts 2>&1); then fail "tsc (module commonjs) accepted wrong-cjs.ts"; fi
echo "$output" | grep -q "TS2305.*openSpool" || fail "tsc (module commonjs) rejected wrong-cjs.ts, but not with TS2305: $output"

step "a fresh project installs the unbuilt clone's folder (npm install /path/to/clone)"
new_project "$work/app-folder"
(cd "$work/app-folder" && npm install "${quiet[@]}" "$work/unbuilt" >/dev/null && node esm.mjs && node cjs.cjs)

step "a fresh project installs it from a git URL (npm install git+file://…)"
new_project "$work/app-git"
(cd "$work/app-git" && npm install "${quiet[@]}" "git+file://$work/unbuilt" >/dev/null && node esm.mjs && node cjs.cjs)

step "all good"
