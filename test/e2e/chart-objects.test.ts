/**
 * The chart's rendered objects, by `helm template` alone: RBAC within what the components use (and what
 * controllers/rbac.ts lists), and workloads whose args the components' own flag parsers accept with the
 * configured values. No cluster: it runs in the control-plane tier for the helm that tier builds; what
 * the API server makes of the same objects is chart-render.cluster.test.ts and chart-install's.
 */
import { parseAgentFlags } from '../../cli/agent-flags.ts';
import { parseControllerFlags } from '../../cli/controller-flags.ts';
import { parseWebhookFlags } from '../../cli/webhook-flags.ts';
import { controllerClusterRules, controllerLeaseRules } from '../../controllers/rbac.ts';
import { certManager, everything } from './chart-values.ts';
import { findObject, renderChart } from './helm.ts';
import { componentArgs, grants, mainContainer, podLabels, podSpec, rulesOf, workload } from './workloads.ts';

describe("the chart's RBAC", () => {
  it('grants the controller no more than controllers/rbac.ts lists, its Lease by name', async () => {
    const objects = await renderChart({});
    const allowed = grants(controllerClusterRules.map((r) => ({ ...r })));
    const granted = grants(rulesOf(objects, 'ClusterRole', 'multinet-controller'));
    expect([...granted].filter((g) => !allowed.has(g))).toEqual([]);
    const lease = rulesOf(objects, 'Role', 'multinet-controller');
    const leaseVerbs = new Set(controllerLeaseRules.flatMap((r) => r.verbs));
    expect(lease.flatMap((r) => r.verbs).every((v) => leaseVerbs.has(v))).toBe(true);
    expect(grants(lease)).toEqual(
      new Set([
        'coordination.k8s.io/leases:get:multinet-controller',
        'coordination.k8s.io/leases:update:multinet-controller',
        'coordination.k8s.io/leases:create:*',
      ]),
    );
    expect(parseControllerFlags(componentArgs(objects, 'controller')).leaseName).toBe('multinet-controller');
  });

  it('limits the webhook to its own Secret and configuration, and drops both with cert-manager', async () => {
    const objects = await renderChart({});
    const flags = parseWebhookFlags(componentArgs(objects, 'webhook'), {});
    expect(flags.certs).toMatchObject({ mode: 'self-managed', secretName: 'multinet-webhook-tls' });
    expect(grants(rulesOf(objects, 'Role', 'multinet-webhook'))).toEqual(
      new Set([
        '/secrets:get:multinet-webhook-tls',
        '/secrets:update:multinet-webhook-tls',
        '/secrets:create:*',
      ]),
    );
    const cluster = grants(rulesOf(objects, 'ClusterRole', 'multinet-webhook'));
    for (const verb of ['get', 'list', 'watch', 'update'])
      expect(cluster).toContain(
        `admissionregistration.k8s.io/validatingwebhookconfigurations:${verb}:${flags.configName}`,
      );

    const managed = await renderChart(certManager);
    expect(managed.some((o) => o.kind === 'Role' && o.metadata.name === 'multinet-webhook')).toBe(false);
    expect(
      [...grants(rulesOf(managed, 'ClusterRole', 'multinet-webhook'))].filter((g) =>
        g.startsWith('admissionregistration'),
      ),
    ).toEqual([]);
  });

  it('uses no wildcards and binds each role to the ServiceAccount its workload runs as', async () => {
    const objects = await renderChart(everything);
    for (const role of objects.filter((o) => o.kind === 'Role' || o.kind === 'ClusterRole')) {
      expect(JSON.stringify(role.rules)).not.toContain('"*"');
    }
    for (const binding of objects.filter(
      (o) => o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding',
    )) {
      const component = binding.metadata.labels?.['app.kubernetes.io/component'] as 'controller';
      const subjects = binding.subjects as Array<{ name: string; namespace: string }>;
      expect(subjects).toEqual([
        {
          kind: 'ServiceAccount',
          name: podSpec(workload(objects, component)).serviceAccountName,
          namespace: 'multinet',
        },
      ]);
      const roleRef = binding.roleRef as { kind: string; name: string };
      expect(findObject(objects, roleRef.kind, roleRef.name)).toBeDefined();
    }
  });
});

describe("the chart's workloads", () => {
  it('runs two leader-electing controllers, non-root, probed on their probe port', async () => {
    const objects = await renderChart({});
    const deployment = workload(objects, 'controller');
    expect((deployment.spec as { replicas: number }).replicas).toBe(2);
    const flags = parseControllerFlags(componentArgs(objects, 'controller'));
    expect(flags).toMatchObject({ leaderElect: true, leaseNamespace: 'multinet' });
    const container = mainContainer(deployment);
    expect(container.ports).toEqual([{ name: 'probes', containerPort: flags.probe.port, protocol: 'TCP' }]);
    expect(container.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'probes' });
    expect(container.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'probes' });
    expect(podSpec(deployment).securityContext).toMatchObject({ runAsNonRoot: true });
    expect(container.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
    });
    expect(container.resources?.limits?.memory).toBeDefined();
    expect(container.env).toContainEqual({ name: 'NODE_OPTIONS', value: '--max-semi-space-size=2' });
    expect(findObject(objects, 'PodDisruptionBudget', 'multinet-controller')).toBeDefined();
  });

  it('serves the webhook on 443 -> 8443 behind a PodDisruptionBudget', async () => {
    const objects = await renderChart({});
    const deployment = workload(objects, 'webhook');
    expect((deployment.spec as { replicas: number }).replicas).toBe(2);
    const flags = parseWebhookFlags(componentArgs(objects, 'webhook'), {});
    expect(flags).toMatchObject({
      action: 'serve',
      namespace: 'multinet',
      listen: { host: '0.0.0.0', port: 8443 },
      target: { service: { name: 'multinet-webhook', namespace: 'multinet', port: 443 } },
    });
    const service = findObject(objects, 'Service', 'multinet-webhook').spec as {
      ports: unknown[];
      selector: Record<string, string>;
    };
    expect(service.ports).toEqual([{ name: 'https', port: 443, targetPort: 'https', protocol: 'TCP' }]);
    expect(mainContainer(deployment).ports).toContainEqual({
      name: 'https',
      containerPort: 8443,
      protocol: 'TCP',
    });
    expect(podLabels(deployment)).toMatchObject(service.selector);
    const pdb = findObject(objects, 'PodDisruptionBudget', 'multinet-webhook').spec as {
      minAvailable: number;
      selector: { matchLabels: Record<string, string> };
    };
    expect(pdb.minAvailable).toBe(1);
    expect(podLabels(deployment)).toMatchObject(pdb.selector.matchLabels);
    expect(mainContainer(deployment).readinessProbe?.httpGet?.port).toBe('probes');
  });

  it('runs the agent privileged on every node, with the host paths it names mounted at the same paths', async () => {
    const objects = await renderChart({});
    const daemonSet = workload(objects, 'agent');
    const spec = podSpec(daemonSet);
    expect(spec).toMatchObject({
      hostNetwork: true,
      hostPID: true,
      dnsPolicy: 'ClusterFirstWithHostNet',
      priorityClassName: 'system-node-critical',
      tolerations: [{ operator: 'Exists' }],
    });
    expect((daemonSet.spec as { updateStrategy: { type: string } }).updateStrategy.type).toBe(
      'RollingUpdate',
    );
    const container = mainContainer(daemonSet);
    expect(container.securityContext?.privileged).toBe(true);
    expect(container.env).toContainEqual({
      name: 'NODE_NAME',
      valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } },
    });
    // One agent per node: the V8 settings bench:agent measures (interpreter only, small young generation).
    expect(container.env).toContainEqual({
      name: 'NODE_OPTIONS',
      value: '--max-semi-space-size=1 --jitless',
    });
    const flags = parseAgentFlags(componentArgs(objects, 'agent'), { NODE_NAME: 'node-a' });
    expect(flags).toMatchObject({
      standalone: false,
      nodeName: 'node-a',
      shimSource: '/usr/local/lib/multinet/multinet-cni',
      // Delegates run in the host's mount namespace: that of the agent's nearest ancestor outside its
      // container, which hostPID makes visible.
      hostMountNamespace: 'auto',
    });
    expect(spec.hostPID).toBe(true);
    const mounts = new Map((container.volumeMounts ?? []).map((m) => [m.mountPath, m]));
    const hostPaths = new Map((spec.volumes ?? []).map((v) => [v.name, v.hostPath?.path]));
    const socketDir = flags.socket.replace(/\/[^/]+$/, '');
    for (const path of [
      flags.cniConfDir,
      ...flags.cniBinDirs,
      flags.stateDir,
      socketDir,
      '/run/netns',
      '/var/run/netns',
    ]) {
      const mount = mounts.get(path);
      expect({ path, hostPath: mount && hostPaths.get(mount.name) }).toEqual({ path, hostPath: path });
    }
    // Delegates see the host's /var/lib/cni in its mount namespace: nothing more is mounted for them.
    expect(mounts.has('/var/lib/cni')).toBe(false);
    expect(mounts.get('/run/netns')?.mountPropagation).toBe('HostToContainer');
    expect(container.livenessProbe?.httpGet).toEqual({
      host: '127.0.0.1',
      path: '/healthz',
      port: flags.probeListen!.port,
    });
    // The probe port is the node's (the agent being replaced answers it during a surge): a startup probe
    // in the container waits until this agent serves the socket.
    expect(flags.servingFile).toMatch(/^\/tmp\//);
    expect(container.startupProbe?.exec?.command).toEqual(['test', '-e', flags.servingFile]);
  });

  it('gives the agents and the webhook the same network options', async () => {
    const objects = await renderChart(everything);
    const agent = parseAgentFlags(componentArgs(objects, 'agent'), { NODE_NAME: 'n' });
    const webhook = parseWebhookFlags(componentArgs(objects, 'webhook'), {});
    const policy = {
      defaultNetworks: ['kube-system/storage'],
      namespaceIsolation: true,
      globalNamespaces: ['shared'],
      systemNamespaces: ['kube-system', 'infra'],
    };
    expect(agent.network).toEqual({ ...policy, clusterNetwork: 'kube-system/calico' });
    expect(webhook.policy).toMatchObject(policy);
    expect(agent).toMatchObject({
      readinessIndicatorFile: '/etc/cni/net.d/10-calico.conflist',
      readinessTimeoutSeconds: 90,
      cniConfDir: '/var/lib/rancher/k3s/agent/etc/cni/net.d',
      cniBinDirs: ['/var/lib/rancher/k3s/data/cni'],
      maxParallel: 16,
      logLevel: 'debug',
      logFormat: 'text',
    });
    expect(webhook).toMatchObject({ failurePolicy: 'Ignore', timeoutSeconds: 5, logLevel: 'debug' });
    expect(parseControllerFlags(componentArgs(objects, 'controller'))).toMatchObject({
      namespaces: ['apps', 'db'],
      nodeSelector: 'multinet.io/pool=a',
      workers: 4,
      staleAfterSeconds: 240,
      logFormat: 'text',
    });
    expect(mainContainer(workload(objects, 'agent')).image).toBe('registry.example/multinet:9.9.9');
  });

  it('mounts the cert-manager Certificate into the webhook, which reads it as files', async () => {
    const objects = await renderChart(certManager);
    const certificate = findObject(objects, 'Certificate', 'multinet-webhook').spec as {
      secretName: string;
      dnsNames: string[];
      issuerRef: { name: string; kind: string };
    };
    expect(certificate.dnsNames).toContain('multinet-webhook.multinet.svc');
    expect(findObject(objects, 'Issuer', certificate.issuerRef.name).spec).toEqual({ selfSigned: {} });
    const flags = parseWebhookFlags(componentArgs(objects, 'webhook'), {});
    expect(flags.certs).toEqual({
      mode: 'files',
      certFile: '/etc/multinet/webhook-tls/tls.crt',
      keyFile: '/etc/multinet/webhook-tls/tls.key',
      caFile: undefined,
    });
    const spec = podSpec(workload(objects, 'webhook'));
    expect(spec.volumes).toEqual([{ name: 'tls', secret: { secretName: certificate.secretName } }]);

    const issuerRef = { name: 'corp-ca', kind: 'ClusterIssuer', group: 'cert-manager.io' };
    const own = await renderChart({
      webhook: { certs: { mode: 'cert-manager', certManager: { issuerRef } } },
    });
    expect(own.some((o) => o.kind === 'Issuer')).toBe(false);
    expect((findObject(own, 'Certificate').spec as { issuerRef: unknown }).issuerRef).toEqual(issuerRef);
  });

  it('creates its namespace when asked, labelled for privileged pods and excluded from validation', async () => {
    const objects = await renderChart(
      { namespace: 'multinet-system', createNamespace: true },
      { namespace: 'default' },
    );
    expect(findObject(objects, 'Namespace', 'multinet-system').metadata.labels).toMatchObject({
      'pod-security.kubernetes.io/enforce': 'privileged',
      'multinet.io/validate': 'false',
    });
    const namespaced = objects.filter((o) => o.metadata.namespace !== undefined);
    expect(namespaced.length).toBeGreaterThan(8);
    expect(new Set(namespaced.map((o) => o.metadata.namespace))).toEqual(new Set(['multinet-system']));
  });
});
