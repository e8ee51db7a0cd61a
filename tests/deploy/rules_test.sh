#!/usr/bin/env bash
# Checks podstat's Prometheus alerting rules and their unit tests.
#
#   tests/deploy/rules_test.sh <repo root>
#
# 1. promtool check rules deploy/prometheus/podstat-rules.yml
# 2. promtool test rules deploy/prometheus/podstat-rules.test.yml (run from deploy/prometheus,
#    where its rule_files path resolves)
# 3. Coverage, parsed with js-yaml independently of promtool: every alert of the rules file has
#    severity critical|warning|info, a summary and a description, at least one test case where
#    it fires (non-empty exp_alerts) and at least one where it does not (exp_alerts: [] or
#    absent); no test case names an alert the rules file does not have (promtool would pass
#    such a case silently, since an unknown alert never fires).
#
# Needs promtool (Debian's prometheus package) and node with js-yaml, resolved from
# <repo>/tests/deploy/node_modules (npm ci there) after any NODE_PATH already set.
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 <repo root>" >&2
  exit 2
fi
repo=$(cd "$1" && pwd)
dir="$repo/deploy/prometheus"
rules="podstat-rules.yml"
tests="podstat-rules.test.yml"

fail() {
  echo "rules_test: FAIL: $*" >&2
  exit 1
}

[[ -f "$dir/$rules" ]] || fail "$dir/$rules not found"
[[ -f "$dir/$tests" ]] || fail "$dir/$tests not found"

if ! command -v promtool >/dev/null 2>&1; then
  fail "promtool not found in PATH. Install it (Debian: apt-get install prometheus, which ships promtool; make test does this)."
fi
if ! command -v node >/dev/null 2>&1; then
  fail "node not found in PATH: the coverage check needs Node.js (Debian: apt-get install nodejs)."
fi

echo "== promtool check rules $rules ($(promtool --version 2>&1 | head -n 1))"
(cd "$dir" && promtool check rules "$rules") || fail "promtool check rules $rules"

echo "== promtool test rules $tests"
(cd "$dir" && promtool test rules "$tests") || fail "promtool test rules $tests"

echo "== coverage: every alert fires in a case and stays silent in another"
export NODE_PATH="${NODE_PATH:+$NODE_PATH:}$repo/tests/deploy/node_modules"
if ! node -e 'require.resolve("js-yaml")' >/dev/null 2>&1; then
  {
    echo "################################################################################"
    echo "rules_test: FAIL: js-yaml cannot be found (NODE_PATH=$NODE_PATH)."
    if [[ ! -d "$repo/tests/deploy/node_modules" ]]; then
      echo "  $repo/tests/deploy/node_modules does not exist: run the install step"
      echo "  (npm ci in $repo/tests/deploy), or point NODE_PATH at a node_modules holding js-yaml."
    fi
    echo "################################################################################"
  } >&2
  exit 1
fi

node - "$dir/$rules" "$dir/$tests" <<'EOF'
'use strict';
const fs = require('fs');
const yaml = require('js-yaml');
const [rulesPath, testsPath] = process.argv.slice(2);
const errors = [];

const rulesDoc = yaml.load(fs.readFileSync(rulesPath, 'utf8'));
if (!rulesDoc || !Array.isArray(rulesDoc.groups) || rulesDoc.apiVersion || rulesDoc.kind) {
  errors.push(`${rulesPath}: not a plain Prometheus rules file (groups: at the top level)`);
}
const alerts = new Map();  // alertname -> {fires, silent}
for (const group of (rulesDoc && rulesDoc.groups) || []) {
  for (const rule of group.rules || []) {
    if (!rule.alert) continue;
    const name = rule.alert;
    if (alerts.has(name)) errors.push(`alert ${name} is defined twice`);
    alerts.set(name, {fires: 0, silent: 0});
    const severity = rule.labels && rule.labels.severity;
    if (!['critical', 'warning', 'info'].includes(severity)) {
      errors.push(`alert ${name}: labels.severity is ${JSON.stringify(severity)}, not critical|warning|info`);
    }
    for (const key of ['summary', 'description']) {
      if (!rule.annotations || !String(rule.annotations[key] || '').trim()) {
        errors.push(`alert ${name}: no annotations.${key}`);
      }
    }
  }
}
if (alerts.size === 0) errors.push(`${rulesPath}: no alerting rule`);

const testsDoc = yaml.load(fs.readFileSync(testsPath, 'utf8'));
let cases = 0;
let groups = 0;
for (const test of (testsDoc && testsDoc.tests) || []) {
  groups++;
  for (const c of test.alert_rule_test || []) {
    cases++;
    const entry = alerts.get(c.alertname);
    if (!entry) {
      errors.push(`${testsPath}: a case at eval_time ${c.eval_time} names alert ` +
                  `${JSON.stringify(c.alertname)}, which ${rulesPath} does not define`);
      continue;
    }
    if (c.exp_alerts == null || (Array.isArray(c.exp_alerts) && c.exp_alerts.length === 0)) {
      entry.silent++;
    } else if (Array.isArray(c.exp_alerts)) {
      entry.fires++;
    } else {
      errors.push(`${testsPath}: ${c.alertname} at ${c.eval_time}: exp_alerts is not a list`);
    }
  }
}
for (const [name, e] of alerts) {
  if (e.fires === 0) errors.push(`alert ${name} has no test case where it fires (non-empty exp_alerts)`);
  if (e.silent === 0) errors.push(`alert ${name} has no test case where it does not fire (exp_alerts: [])`);
}
if (errors.length) {
  for (const e of errors) console.error(`rules_test: FAIL: ${e}`);
  process.exit(1);
}
console.log(`rules_test: ${alerts.size} alerts, ${cases} test cases in ${groups} test groups, ` +
            `all covered (each fires in a case and stays silent in another)`);
EOF
