/** The CRDs the API server holds are exactly crds/*.yaml, schema markers included. */
import { KubeRestClient } from '../../platform/kube/rest.ts';
import { installCrds, readCrds } from './crds.ts';
import { testKubeConfig } from '../../test/controlplane/test-cluster.ts';

it('installs crds/ without losing the x-kubernetes-* markers, and again without change', async () => {
  const kc = testKubeConfig();
  const rest = new KubeRestClient(kc);
  const served = async (
    name: string,
  ): Promise<{ metadata: { generation: number }; spec: { versions: unknown[] } }> =>
    rest.request({ method: 'GET', path: `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}` });
  try {
    await installCrds(kc);
    const crds = await readCrds();
    const generations: number[] = [];
    for (const crd of crds) {
      const object = await served(crd.metadata!.name!);
      expect(JSON.parse(JSON.stringify(object.spec.versions))).toEqual(
        JSON.parse(JSON.stringify(crd.spec.versions)),
      );
      generations.push(object.metadata.generation);
    }
    // A second install of the same files changes nothing: no new generation of any CRD.
    await installCrds(kc);
    const again = [];
    for (const crd of crds) again.push((await served(crd.metadata!.name!)).metadata.generation);
    expect(again).toEqual(generations);
  } finally {
    rest.close();
  }
});
