/** Annotation keys of the multi-net spec (v1.3) and Multus that multinet reads and writes. */
export const networksAnnotation = 'k8s.v1.cni.cncf.io/networks';
export const networkStatusAnnotation = 'k8s.v1.cni.cncf.io/network-status';
export const defaultNetworkAnnotation = 'v1.multus-cni.io/default-network';
/** On a NAD: the device plugin resource whose devices its attachments use (SR-IOV VFs and the like). */
export const resourceNameAnnotation = 'k8s.v1.cni.cncf.io/resourceName';
