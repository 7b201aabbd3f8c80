/**
 * /proc/<pid>/mountinfo, read once for the harness: each line's mount point (octal escapes decoded), its
 * optional fields (propagation: `shared:N`, `master:N`), its filesystem type and super options.
 */
export interface MountEntry {
  readonly mountPoint: string;
  /** The optional fields before " - ": `shared:N`, `master:N`, `propagate_from:N`, `unbindable`. */
  readonly optional: readonly string[];
  readonly fsType: string;
  readonly superOptions: string;
}

export function parseMountinfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const fields = left.split(' ');
    const mountPoint = fields[4];
    if (mountPoint === undefined) continue;
    const [fsType = '', , superOptions = ''] = right.split(' ');
    entries.push({
      mountPoint: mountPoint.replace(/\\([0-7]{3})/g, (_, oct: string) =>
        String.fromCharCode(parseInt(oct, 8)),
      ),
      optional: fields.slice(6),
      fsType,
      superOptions,
    });
  }
  return entries;
}

/** Whether the mount at `point` (the last one mounted there) propagates: shared with its peers. */
export function isSharedMount(text: string, point: string): boolean {
  const entry = parseMountinfo(text)
    .filter((m) => m.mountPoint === point)
    .at(-1);
  if (!entry) throw new Error(`no mount of ${point} in mountinfo`);
  return entry.optional.some((f) => f.startsWith('shared:'));
}
