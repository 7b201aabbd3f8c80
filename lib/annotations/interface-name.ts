/** Linux interface name rules (the kernel's dev_valid_name): what the container side may be called. */
const maxInterfaceNameBytes = 15;

export function interfaceNameError(name: string): string | undefined {
  if (name.length === 0) return 'must not be empty';
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes > maxInterfaceNameBytes) {
    return `${JSON.stringify(name)} is ${bytes} bytes long; interface names are at most ${maxInterfaceNameBytes} bytes`;
  }
  if (name === '.' || name === '..') return `${JSON.stringify(name)} is not a valid interface name`;
  if (/[/:\s]/u.test(name)) return `${JSON.stringify(name)} must not contain '/', ':' or whitespace`;
  return undefined;
}
