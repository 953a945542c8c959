#!/usr/bin/env bash
# The whole test suite, from a fresh machine: system packages, npm packages, type checks,
# the build, unit and integration tests against real peers, and end-to-end tests in Chromium.
# Usage: npm test            (everything)
#        SMTP_LAB_SKIP_E2E=1 npm test   (no browser; for quick local runs only)
set -euo pipefail
cd "$(dirname "$0")/.."

# --- 1. System packages the tests drive (real peers, a real browser, a real DNS server) ---
# command -> Debian package
declare -A needed=(
  [chromium]=chromium
  [swaks]=swaks
  [curl]=curl
  [dnsmasq]=dnsmasq-base
  [websockify]=websockify
  [openssl]=openssl
  [python3]=python3
)
missing=()
for cmd in "${!needed[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || missing+=("${needed[$cmd]}")
done
if [ "${#missing[@]}" -gt 0 ]; then
  line="apt-get install -y ${missing[*]}"
  if [ "$(id -u)" = 0 ]; then
    echo "test: installing system packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # With recommends: Chromium's fonts come that way, and pages need text to be read.
    apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "test: missing system packages. As root, run:" >&2
    echo "  apt-get update && $line" >&2
    exit 1
  fi
fi

# --- 2. npm packages, exactly as locked ---
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi

mkdir -p test-results
# --- 3. Types: the whole project, and the core folders without DOM or Node types ---
npm run --silent check

# --- 4. The build (the budget test reads dist/) ---
npm run --silent build >/dev/null

# --- 5. Unit, property and integration tests ---
status=0
npx vitest run --config test/vitest.config.ts --reporter=default --reporter=json \
  --outputFile.json=test-results/unit.json || status=$?

# --- 6. End-to-end tests in a real Chromium ---
if [ "${SMTP_LAB_SKIP_E2E:-}" != 1 ]; then
  npx vitest run --config test/e2e/vitest.config.ts --reporter=default --reporter=json \
    --outputFile.json=test-results/e2e.json || status=$?
fi

# --- 7. One closing line for all suites ---
node -e '
  const fs = require("fs");
  let passed = 0, failed = 0, skipped = 0;
  for (const f of ["test-results/unit.json", "test-results/e2e.json"]) {
    if (!fs.existsSync(f)) continue;
    const r = JSON.parse(fs.readFileSync(f, "utf8"));
    passed += r.numPassedTests; failed += r.numFailedTests;
    skipped += r.numPendingTests + (r.numTodoTests || 0);
  }
  console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
'
exit $status
