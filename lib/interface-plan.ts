/**
 * Interface names for a pod's attachments, as Multus assigns them: the first delegate (the default
 * network) gets the runtime's CNI_IFNAME (usually eth0); delegate i gets `net<i>` unless its
 * selection names an interface. An explicit name does not renumber the others.
 */
import { ValidationError } from './errors.ts';

export interface InterfaceRequest {
  /** What the attachment is called in messages (namespace/name). */
  readonly label: string;
  /** The interface its selection asked for, if any. */
  readonly explicit?: string | undefined;
}

export function planInterfaceNames(runtimeIfName: string, delegates: readonly InterfaceRequest[]): string[] {
  const names = delegates.map((d, index) => (index === 0 ? runtimeIfName : (d.explicit ?? `net${index}`)));
  const owner = new Map<string, number>();
  names.forEach((name, index) => {
    const first = owner.get(name);
    if (first === undefined) {
      owner.set(name, index);
      return;
    }
    throw ValidationError.single(
      delegates[index]!.label,
      `interface ${JSON.stringify(name)} is already taken by ${first === 0 ? 'the default network' : delegates[first]!.label}; choose another interface name`,
    );
  });
  return names;
}
