/**
 * How a running pod's networks change when its networks annotation changes (hot-plug): what its sandbox
 * has (the attachments the agent recorded at ADD and since) against what the annotation now asks for,
 * matched by identity: the network (namespace/name) and its interface. Pure; the agent applies the
 * result (agent/hot-plug.ts), the webhook checks changes against the same rules.
 *
 * The rules, each from a bug of the component users ran for this before (multus-dynamic-networks-
 * controller, "DNC"):
 * - a selection with an explicit interface matches the attachment of that network on that interface;
 * - a selection without one keeps the interface its network got (the first such attachment, in order):
 *   removing an element removes its interface although the user never named it (DNC#63);
 * - a network listed twice is two attachments, matched one by one;
 * - what matches nothing is added, on its explicit interface or the lowest free `netN`, never renaming
 *   an attachment that stays; what nothing matches is removed, also an interface the pod had since it
 *   was created (DNC#209); an add and a remove in one change both happen (DNC#157).
 */

/** An attachment a sandbox has that came from the pod's networks annotation. */
export interface HeldAttachment {
  /** namespace/name of the NAD. */
  readonly key: string;
  readonly ifName: string;
}

/** A selection the annotation asks for now, in its order. */
export interface WantedAttachment {
  readonly key: string;
  /** The interface the selection names, if it names one. */
  readonly explicit?: string | undefined;
}

export interface AttachmentChange<W extends WantedAttachment, H extends HeldAttachment> {
  /** Held attachments to detach, in reverse order of how they were attached (DEL's order). */
  readonly remove: readonly H[];
  /** Wanted selections to attach, in the annotation's order, with the interface each gets. */
  readonly add: ReadonlyArray<{ readonly wanted: W; readonly ifName: string }>;
  /** Held attachments that stay, each with the selection it now stands for. */
  readonly keep: ReadonlyArray<{ readonly wanted: W; readonly held: H }>;
}

/**
 * The change that takes `held` to `wanted`. `taken` are interface names outside the annotation's reach
 * (the runtime's eth0, the cluster's default networks' interfaces): never given to a new attachment.
 */
export function diffAttachments<W extends WantedAttachment, H extends HeldAttachment>(
  held: readonly H[],
  wanted: readonly W[],
  taken: readonly string[],
): AttachmentChange<W, H> {
  const matched = new Map<number, number>(); // wanted index → held index
  const used = new Set<number>();
  const explicitNames = new Set(wanted.flatMap((w) => (w.explicit ? [w.explicit] : [])));
  wanted.forEach((w, i) => {
    if (!w.explicit) return;
    const h = held.findIndex((a, j) => !used.has(j) && a.key === w.key && a.ifName === w.explicit);
    if (h >= 0) {
      matched.set(i, h);
      used.add(h);
    }
  });
  wanted.forEach((w, i) => {
    if (w.explicit) return;
    // Its network's first unmatched attachment, unless another selection asks for that interface by name.
    const h = held.findIndex((a, j) => !used.has(j) && a.key === w.key && !explicitNames.has(a.ifName));
    if (h >= 0) {
      matched.set(i, h);
      used.add(h);
    }
  });
  const keep = [...matched].map(([i, h]) => ({ wanted: wanted[i]!, held: held[h]! }));
  const occupied = new Set([...taken, ...keep.map((k) => k.held.ifName), ...explicitNames]);
  const add: Array<{ wanted: W; ifName: string }> = [];
  wanted.forEach((w, i) => {
    if (matched.has(i)) return;
    let ifName = w.explicit;
    if (!ifName) {
      let n = 1;
      while (occupied.has(`net${n}`)) n++;
      ifName = `net${n}`;
    }
    occupied.add(ifName);
    add.push({ wanted: w, ifName });
  });
  const remove = held.filter((_, j) => !used.has(j)).reverse();
  return { remove, add, keep: keep.sort((a, b) => held.indexOf(a.held) - held.indexOf(b.held)) };
}
