#!/usr/bin/env node
// Offline checks of deploy/ (ctest: deploy_manifests):
//  - deploy/kubernetes and each deploy/variants/* render with `kubectl kustomize`, and every
//    object validates against the Kubernetes and prometheus-operator schemas (kubernetes-models,
//    @kubernetes-models/prometheus-operator: the published OpenAPI and CRD schemas);
//  - the objects fit together (selectors, ports, service account, namespace) and the DaemonSet
//    keeps the properties deploy/README.md promises (no privileged, capabilities dropped, a
//    read-only root, probes on /healthz, every node tolerated, system-node-critical);
//  - the PrometheusRule holds exactly the groups of deploy/prometheus/podstat-rules.yml, and the
//    dashboard ConfigMap exactly deploy/kubernetes/dashboards/podstat.json;
//  - deploy/docker/compose.yaml and deploy/README.md's `docker run` line give the container the
//    DaemonSet's privileges and mounts (through docker-args.js, as the image e2e test runs it);
//  - and the checks can fail: a schema violation and an untranslated field are refused.
//
//   node validate.js <repo root>
'use strict';

const assert = require('assert');
const fs = require('fs');
const path = require('path');
try {
  require.resolve('js-yaml');
  require.resolve('kubernetes-models/v1');
} catch (error) {
  console.error('validate: tests/deploy/node_modules is missing or incomplete: ' +
                'run scripts/install-deps.sh (npm ci in tests/deploy)');
  process.exit(1);
}
const yaml = require('js-yaml');
const core = require('kubernetes-models/v1');
const apps = require('kubernetes-models/apps/v1');
const monitoring = require('@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1');
const {render, translate, TranslationError} = require('./docker-args.js');

const root = process.argv[2];
if (!root) {
  console.error('usage: validate.js <repo root>');
  process.exit(2);
}
const repo = (...parts) => path.join(root, ...parts);
const read = (...parts) => fs.readFileSync(repo(...parts), 'utf8');

const models = {
  'v1/Namespace': core.Namespace,
  'v1/ServiceAccount': core.ServiceAccount,
  'v1/Service': core.Service,
  'v1/ConfigMap': core.ConfigMap,
  'apps/v1/DaemonSet': apps.DaemonSet,
  'monitoring.coreos.com/v1/ServiceMonitor': monitoring.ServiceMonitor,
  'monitoring.coreos.com/v1/PrometheusRule': monitoring.PrometheusRule,
};

let checks = 0;
const failures = [];
function check(what, fn) {
  checks++;
  try {
    fn();
  } catch (error) {
    failures.push(`${what}: ${error.message}`);
  }
}

function validateSchema(object) {
  const Model = models[`${object.apiVersion}/${object.kind}`];
  if (!Model) throw new Error(`no schema for ${object.apiVersion} ${object.kind}`);
  new Model(object).validate();  // throws with the schema path of the first violation
}

function find(objects, kind) {
  const found = objects.filter((o) => o.kind === kind);
  assert.strictEqual(found.length, 1, `want one ${kind}, got ${found.length}`);
  return found[0];
}

function matches(selector, labels) {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

// ---- deploy/kubernetes --------------------------------------------------------------------------
const base = render(repo('deploy/kubernetes'));
for (const object of base) {
  check(`schema ${object.kind}/${object.metadata.name}`, () => validateSchema(object));
}
check('kinds', () => {
  assert.deepStrictEqual(base.map((o) => o.kind).sort(), [
    'ConfigMap', 'DaemonSet', 'Namespace', 'PrometheusRule', 'Service', 'ServiceAccount',
    'ServiceMonitor',
  ]);
});
check('namespace', () => {
  for (const object of base.filter((o) => o.kind !== 'Namespace')) {
    assert.strictEqual(object.metadata.namespace, 'podstat', `${object.kind} namespace`);
  }
  assert.strictEqual(find(base, 'Namespace').metadata.name, 'podstat');
});

const daemonSet = find(base, 'DaemonSet');
const pod = daemonSet.spec.template.spec;
const container = pod.containers[0];
check('DaemonSet least privilege', () => {
  const context = container.securityContext;
  assert.strictEqual(context.privileged, false, 'privileged');
  assert.strictEqual(context.allowPrivilegeEscalation, false, 'allowPrivilegeEscalation');
  assert.strictEqual(context.readOnlyRootFilesystem, true, 'readOnlyRootFilesystem');
  assert.deepStrictEqual(context.capabilities.drop, ['ALL']);
  assert.deepStrictEqual(context.capabilities.add.slice().sort(),
                         ['DAC_READ_SEARCH', 'NET_ADMIN', 'SYS_ADMIN', 'SYS_PTRACE']);
  assert.strictEqual(context.seccompProfile.type, 'RuntimeDefault');
  assert.strictEqual(pod.hostPID, true, 'hostPID');
  assert.ok(!pod.hostNetwork, 'hostNetwork');
  assert.strictEqual(pod.automountServiceAccountToken, false, 'automountServiceAccountToken');
  for (const mount of container.volumeMounts) {
    if (mount.mountPath !== '/sys/fs/bpf') assert.strictEqual(mount.readOnly, true, mount.name);
  }
});
check('DaemonSet scheduling and probes', () => {
  assert.strictEqual(pod.priorityClassName, 'system-node-critical');
  assert.ok(pod.tolerations.some((t) => t.operator === 'Exists' && !t.key && !t.effect),
            'a toleration for every taint');
  assert.strictEqual(daemonSet.spec.updateStrategy.type, 'RollingUpdate');
  for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
    assert.strictEqual(container[probe].httpGet.path, '/healthz', probe);
    assert.strictEqual(container[probe].httpGet.port, 'metrics', probe);
  }
  for (const kind of ['requests', 'limits']) {
    assert.ok(container.resources[kind].cpu && container.resources[kind].memory, kind);
  }
  assert.ok(matches(daemonSet.spec.selector.matchLabels, daemonSet.spec.template.metadata.labels),
            'selector matches the template');
  assert.strictEqual(pod.serviceAccountName, find(base, 'ServiceAccount').metadata.name);
});
check('Service and ServiceMonitor', () => {
  const service = find(base, 'Service');
  const monitor = find(base, 'ServiceMonitor');
  assert.strictEqual(service.spec.clusterIP, 'None', 'headless');
  assert.ok(matches(service.spec.selector, daemonSet.spec.template.metadata.labels),
            'Service selects the DaemonSet pods');
  const port = service.spec.ports[0];
  assert.ok(container.ports.some((p) => p.name === port.targetPort), 'targetPort names a port');
  assert.ok(matches(monitor.spec.selector.matchLabels, service.metadata.labels),
            'ServiceMonitor selects the Service');
  const endpoint = monitor.spec.endpoints[0];
  assert.strictEqual(endpoint.port, port.name);
  assert.strictEqual(endpoint.honorLabels, true, 'honorLabels');
  assert.ok(endpoint.relabelings.some((r) =>
    r.targetLabel === 'node' && r.sourceLabels.includes('__meta_kubernetes_pod_node_name')),
            'node label from the pod\'s node');
  assert.ok(endpoint.relabelings.some((r) => r.action === 'labeldrop' &&
    ['namespace', 'pod', 'container'].every((l) => new RegExp(`^(?:${r.regex})$`).test(l))),
            'the target\'s namespace, pod and container labels dropped');
});
check('PrometheusRule = deploy/prometheus/podstat-rules.yml', () => {
  const rules = yaml.load(read('deploy/prometheus/podstat-rules.yml'));
  assert.deepStrictEqual(find(base, 'PrometheusRule').spec.groups, rules.groups,
                         'stale: run `make deploy-rules`');
});
check('dashboard ConfigMap = deploy/kubernetes/dashboards/podstat.json', () => {
  const map = find(base, 'ConfigMap');
  const text = read('deploy/kubernetes/dashboards/podstat.json');
  assert.strictEqual(map.data['podstat.json'], text);
  assert.strictEqual(map.metadata.labels.grafana_dashboard, '1');
  assert.strictEqual(JSON.parse(text).uid, 'podstat');
});

// ---- variants -----------------------------------------------------------------------------------
const docker = translate(base);
for (const variant of fs.readdirSync(repo('deploy/variants'))) {
  const objects = render(repo('deploy/variants', variant));
  for (const object of objects) {
    check(`${variant}: schema ${object.kind}/${object.metadata.name}`, () => validateSchema(object));
  }
  check(`${variant}: differs from the base in the securityContext only`, () => {
    const strip = (list) => JSON.stringify(list.map((o) => {
      const copy = JSON.parse(JSON.stringify(o));
      if (copy.kind === 'DaemonSet') delete copy.spec.template.spec.containers[0].securityContext;
      return copy;
    }));
    assert.strictEqual(strip(objects), strip(base));
  });
  check(`${variant}: translates to docker run`, () => translate(objects));
}
check('privileged variant', () => {
  const context = find(render(repo('deploy/variants/privileged')), 'DaemonSet')
                      .spec.template.spec.containers[0].securityContext;
  assert.strictEqual(context.privileged, true);
});
check('kernel-before-5.11 variant', () => {
  const args = translate(render(repo('deploy/variants/kernel-before-5.11'))).args;
  assert.deepStrictEqual(args.filter((a) => !docker.args.includes(a)), ['--cap-add=SYS_RESOURCE']);
});

// ---- Docker hosts -------------------------------------------------------------------------------
// The compose file, as docker run flags in docker-args.js's spelling.
function composeFlags(service) {
  const flags = [];
  const known = ['image', 'container_name', 'command', 'pid', 'user', 'read_only', 'cap_drop',
                 'cap_add', 'security_opt', 'volumes', 'mem_limit', 'mem_reservation', 'cpus',
                 'ports', 'restart'];
  for (const key of Object.keys(service)) {
    if (!known.includes(key)) throw new Error(`compose: ${key} is not compared with the DaemonSet`);
  }
  if (service.pid === 'host') flags.push('--pid=host');
  flags.push(`--user=${service.user}`);
  for (const option of service.security_opt || []) {
    flags.push(option === 'no-new-privileges:true' ? '--security-opt=no-new-privileges'
                                                   : `--security-opt=${option}`);
  }
  if (service.read_only) flags.push('--read-only');
  for (const capability of service.cap_drop || []) flags.push(`--cap-drop=${capability}`);
  for (const capability of service.cap_add || []) flags.push(`--cap-add=${capability}`);
  for (const volume of service.volumes || []) flags.push(`--volume=${volume}`);
  const bytes = (quantity) => {
    const match = /^([0-9]+)m$/.exec(quantity);
    if (!match) throw new Error(`compose: memory ${quantity}: expected <n>m`);
    return Number(match[1]) * 1024 * 1024;
  };
  if (service.mem_limit) flags.push(`--memory=${bytes(service.mem_limit)}`);
  if (service.mem_reservation) flags.push(`--memory-reservation=${bytes(service.mem_reservation)}`);
  if (service.cpus) flags.push(`--cpus=${Number(service.cpus)}`);
  return flags;
}
check('compose.yaml = the DaemonSet', () => {
  const compose = yaml.load(read('deploy/docker/compose.yaml'));
  const service = compose.services.podstat;
  assert.deepStrictEqual(composeFlags(service).sort(), docker.args.slice().sort());
  assert.deepStrictEqual(service.command, docker.command);
  assert.strictEqual(service.image, docker.image);
});
check('README docker run line = the DaemonSet', () => {
  const readme = read('deploy/README.md');
  const block = /<!-- docker-run -->\s*```sh\n([\s\S]*?)```/.exec(readme);
  assert.ok(block, 'no ```sh block after <!-- docker-run --> in deploy/README.md');
  const words = block[1].replace(/\\\n/g, ' ').trim().split(/\s+/);
  assert.deepStrictEqual(words.slice(0, 2), ['docker', 'run']);
  const image = words.indexOf(docker.image);
  assert.ok(image > 0, `the line does not run ${docker.image}`);
  const flags = words.slice(2, image).filter((w) => w.startsWith('--') &&
    !/^--(detach$|name=|restart=|publish=)/.test(w));
  assert.deepStrictEqual(flags.sort(), docker.args.slice().sort());
  assert.deepStrictEqual(words.slice(image + 1), docker.command);
});

// ---- the checks themselves can fail -------------------------------------------------------------
check('a schema violation is refused', () => {
  const broken = JSON.parse(JSON.stringify(daemonSet));
  broken.spec.template.spec.hostPID = 'yes';
  assert.throws(() => validateSchema(broken), /hostPID|boolean/);
});
check('an untranslated field is refused', () => {
  const broken = JSON.parse(JSON.stringify(base));
  find(broken, 'DaemonSet').spec.template.spec.containers[0].securityContext.procMount = 'Unmasked';
  assert.throws(() => translate(broken), TranslationError);
});

if (failures.length) {
  console.error(`validate: ${failures.length} of ${checks} checks failed:`);
  for (const failure of failures) console.error(`  - ${failure}`);
  process.exit(1);
}
console.log(`validate: ${checks} checks passed (${base.length} objects in deploy/kubernetes, ` +
            `${fs.readdirSync(repo('deploy/variants')).length} variants, compose, README)`);
