/** The CRDs the API server holds are exactly crds/*.yaml, schema markers included. */
import { KubeRestClient } from '../../platform/kube/rest.ts';
import { installCrds, readCrds } from './crds.ts';
import { testKubeConfig } from '../../test/controlplane/test-cluster.ts';

it('installs crds/ without losing the x-kubernetes-* markers, and again without change', async () => {
  const kc = testKubeConfig();
  await installCrds(kc);
  const rest = new KubeRestClient(kc);
  try {
    for (const crd of await readCrds()) {
      const served = await rest.request<{ spec: { versions: unknown[] } }>({
        method: 'GET',
        path: `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata!.name!}`,
      });
      expect(JSON.parse(JSON.stringify(served.spec.versions))).toEqual(
        JSON.parse(JSON.stringify(crd.spec.versions)),
      );
    }
  } finally {
    rest.close();
  }
});
