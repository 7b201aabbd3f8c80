import { planPodNetworks, type PodNetworkPolicy } from './pod-networks.ts';

const policy: PodNetworkPolicy = {
  namespaceIsolation: true,
  globalNamespaces: ['shared'],
  defaultNetworks: ['infra/always'],
  systemNamespaces: ['kube-system'],
};

describe('planPodNetworks', () => {
  it('orders the cluster default networks before the selections and names interfaces', () => {
    const plan = planPodNetworks(
      { 'k8s.v1.cni.cncf.io/networks': 'a,shared/b@data0,c' },
      'pods',
      policy,
      'eth0',
    );
    expect(plan.problems).toEqual([]);
    expect(plan.networks.map((n) => [n.label, n.violation ?? ''])).toEqual([
      ['defaultNetworks "infra/always"', ''],
      ['networks[0] "pods/a"', ''],
      ['networks[1] "shared/b"', ''],
      ['networks[2] "pods/c"', ''],
    ]);
    expect(plan.interfaceNames).toEqual(['eth0', 'net1', 'net2', 'data0', 'net4']);
  });

  it("flags isolation for the pod's own choices, not for the cluster's default networks", () => {
    const plan = planPodNetworks(
      { 'k8s.v1.cni.cncf.io/networks': 'other/x', 'v1.multus-cni.io/default-network': 'other/calico' },
      'pods',
      policy,
      'eth0',
    );
    expect(plan.defaultNetwork?.violation).toContain('namespace isolation is on');
    expect(plan.networks.map((n) => Boolean(n.violation))).toEqual([false, true]);
  });

  it('gives pods in system namespaces no default networks', () => {
    expect(planPodNetworks({}, 'kube-system', policy, 'eth0').networks).toEqual([]);
  });

  it('reports malformed annotations and collisions, naming the field', () => {
    expect(
      planPodNetworks({ 'k8s.v1.cni.cncf.io/networks': 'Bad' }, 'pods', policy, 'eth0').problems,
    ).toEqual([
      { path: 'networks[0].name', message: expect.stringContaining('"Bad" must be a DNS-1123 label') },
    ]);
    expect(planPodNetworks({ 'k8s.v1.cni.cncf.io/networks': 7 }, 'pods', policy, 'eth0').problems).toEqual([
      { path: 'k8s.v1.cni.cncf.io/networks', message: 'must be a string' },
    ]);
    const collision = planPodNetworks({ 'k8s.v1.cni.cncf.io/networks': 'a@net1' }, 'pods', policy, 'eth0');
    expect(collision.problems).toEqual([
      {
        path: 'networks[0] "pods/a"',
        message:
          'interface "net1" is already taken by defaultNetworks "infra/always"; choose another interface name',
      },
    ]);
    expect(collision.interfaceNames).toBeUndefined();
  });
});
