/** Builds JSONPath-style locations ($.plugins[0].ipam.subnet) for error messages. */
const identifier = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

export function childPath(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  if (identifier.test(key)) return `${parent}.${key}`;
  return `${parent}[${JSON.stringify(key)}]`;
}

/** Converts an ajv instancePath (/plugins/0/ipam) to a JSON path below root ($.plugins[0].ipam). */
export function fromPointer(root: string, pointer: string): string {
  if (pointer === '') return root;
  return pointer
    .split('/')
    .slice(1)
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce<string>(
      (path, part) => childPath(path, /^(0|[1-9][0-9]*)$/.test(part) ? Number(part) : part),
      root,
    );
}
