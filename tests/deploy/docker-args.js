#!/usr/bin/env node
// The DaemonSet in deploy/kubernetes, translated into the `docker run` that gives a container the
// same privileges: user, hostPID, securityContext (capabilities, read-only root, no_new_privs,
// seccomp, AppArmor), host mounts, resource limits and arguments. The image e2e test
// (tests/e2e/image_test.cc) runs the image with these, and validate.js checks that
// deploy/docker/compose.yaml and the `docker run` line in deploy/README.md say the same.
//
//   node docker-args.js <kustomize dir>    prints {"args": [...], "image": ..., "command": [...],
//                                          "port": 9560, "health_path": "/healthz"} as JSON
//
// Strict on purpose: every field of the pod and container spec is either translated or listed
// below as not applying to Docker; anything else (a new field, a typo) is an error, so the test
// can never run the image with less than the DaemonSet asks for without saying so.
'use strict';

const {execFileSync} = require('child_process');
const yaml = require('js-yaml');

class TranslationError extends Error {}

function fail(message) {
  throw new TranslationError(message);
}

function render(dir) {
  let text;
  try {
    text = execFileSync('kubectl', ['kustomize', dir], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']});
  } catch (error) {
    if (error.code === 'ENOENT') fail('kubectl not found: it renders the manifests (kubectl kustomize)');
    fail(`kubectl kustomize ${dir} failed: ${error.stderr || error.message}`);
  }
  return yaml.loadAll(text).filter((object) => object);
}

function onlyKeys(object, where, known) {
  for (const key of Object.keys(object)) {
    if (!known.includes(key)) fail(`${where}.${key}: not translated to Docker (docker-args.js)`);
  }
}

// Kubernetes quantities as Docker takes them: memory in bytes, CPU in cores.
function memoryBytes(quantity) {
  const match = /^([0-9]+)(Ki|Mi|Gi)?$/.exec(String(quantity));
  if (!match) fail(`memory quantity ${quantity}: expected <n>, <n>Ki, <n>Mi or <n>Gi`);
  const scale = {undefined: 1, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3}[match[2]];
  return Number(match[1]) * scale;
}

function cpuCores(quantity) {
  const match = /^([0-9]+)(m)?$/.exec(String(quantity));
  if (!match) fail(`cpu quantity ${quantity}: expected <n> or <n>m`);
  return match[2] ? Number(match[1]) / 1000 : Number(match[1]);
}

function translateSecurityContext(context, args) {
  onlyKeys(context, 'securityContext', [
    'runAsUser', 'runAsGroup', 'privileged', 'allowPrivilegeEscalation',
    'readOnlyRootFilesystem', 'capabilities', 'seccompProfile', 'appArmorProfile',
  ]);
  if (context.runAsUser === undefined || context.runAsGroup === undefined) {
    fail('securityContext: runAsUser and runAsGroup must be set (the image says 0:0 too)');
  }
  args.push(`--user=${context.runAsUser}:${context.runAsGroup}`);
  if (context.privileged) args.push('--privileged');
  if (context.allowPrivilegeEscalation === false) args.push('--security-opt=no-new-privileges');
  if (context.readOnlyRootFilesystem) args.push('--read-only');
  const capabilities = context.capabilities || {};
  onlyKeys(capabilities, 'securityContext.capabilities', ['drop', 'add']);
  for (const capability of capabilities.drop || []) args.push(`--cap-drop=${capability}`);
  for (const capability of capabilities.add || []) args.push(`--cap-add=${capability}`);
  // Docker applies its default seccomp and AppArmor profiles unless told otherwise: RuntimeDefault
  // is what it does without a flag.
  const seccomp = (context.seccompProfile || {type: 'RuntimeDefault'}).type;
  if (seccomp === 'Unconfined') {
    args.push('--security-opt=seccomp=unconfined');
  } else if (seccomp !== 'RuntimeDefault') {
    fail(`seccompProfile ${seccomp}: only RuntimeDefault and Unconfined are translated`);
  }
  const apparmor = (context.appArmorProfile || {type: 'RuntimeDefault'}).type;
  if (apparmor === 'Unconfined') {
    args.push('--security-opt=apparmor=unconfined');
  } else if (apparmor !== 'RuntimeDefault') {
    fail(`appArmorProfile ${apparmor}: only RuntimeDefault and Unconfined are translated`);
  }
}

function translate(objects) {
  const daemonSets = objects.filter((o) => o && o.kind === 'DaemonSet');
  if (daemonSets.length !== 1) fail(`want one DaemonSet, the rendering has ${daemonSets.length}`);
  const pod = daemonSets[0].spec.template.spec;
  // Scheduling, identity and lifecycle fields have no meaning for one container on one host.
  onlyKeys(pod, 'spec.template.spec', [
    'hostPID', 'hostNetwork', 'containers', 'volumes', 'serviceAccountName',
    'automountServiceAccountToken', 'priorityClassName', 'tolerations',
    'terminationGracePeriodSeconds',
  ]);
  if (pod.containers.length !== 1) fail('want one container in the DaemonSet');
  const container = pod.containers[0];
  onlyKeys(container, 'container', [
    'name', 'image', 'imagePullPolicy', 'args', 'ports', 'startupProbe', 'readinessProbe',
    'livenessProbe', 'resources', 'securityContext', 'volumeMounts',
  ]);

  const args = [];
  if (pod.hostPID) args.push('--pid=host');
  if (pod.hostNetwork) args.push('--network=host');
  translateSecurityContext(container.securityContext || {}, args);

  const volumes = new Map((pod.volumes || []).map((v) => [v.name, v]));
  for (const mount of container.volumeMounts || []) {
    onlyKeys(mount, `volumeMounts[${mount.name}]`, ['name', 'mountPath', 'readOnly']);
    const volume = volumes.get(mount.name);
    if (!volume) fail(`volumeMount ${mount.name}: no such volume`);
    onlyKeys(volume, `volumes[${volume.name}]`, ['name', 'hostPath']);
    if (!volume.hostPath) fail(`volume ${volume.name}: only hostPath volumes are translated`);
    args.push(`--volume=${volume.hostPath.path}:${mount.mountPath}${mount.readOnly ? ':ro' : ''}`);
    volumes.delete(mount.name);
  }
  if (volumes.size) fail(`volumes never mounted: ${[...volumes.keys()].join(', ')}`);

  const resources = container.resources || {};
  onlyKeys(resources, 'resources', ['requests', 'limits']);
  const limits = resources.limits || {};
  const requests = resources.requests || {};
  onlyKeys(limits, 'resources.limits', ['cpu', 'memory']);
  onlyKeys(requests, 'resources.requests', ['cpu', 'memory']);
  if (limits.memory) args.push(`--memory=${memoryBytes(limits.memory)}`);
  if (requests.memory) args.push(`--memory-reservation=${memoryBytes(requests.memory)}`);
  if (limits.cpu) args.push(`--cpus=${cpuCores(limits.cpu)}`);

  const metrics = (container.ports || []).find((p) => p.name === 'metrics');
  if (!metrics) fail('container: no port named metrics');
  const probe = container.readinessProbe && container.readinessProbe.httpGet;
  if (!probe) fail('container: no readinessProbe.httpGet');
  return {
    args,
    image: container.image,
    command: container.args || [],
    port: metrics.containerPort,
    health_path: probe.path,
  };
}

module.exports = {render, translate, TranslationError};

if (require.main === module) {
  try {
    const dir = process.argv[2];
    if (!dir) fail('usage: docker-args.js <kustomize dir>');
    process.stdout.write(JSON.stringify(translate(render(dir)), null, 1) + '\n');
  } catch (error) {
    process.stderr.write(`docker-args: ${error.message}\n`);
    process.exit(1);
  }
}
