import { diffAttachments, type HeldAttachment, type WantedAttachment } from './attachment-diff.ts';

const held = (key: string, ifName: string): HeldAttachment => ({ key, ifName });
const wanted = (key: string, explicit?: string): WantedAttachment => ({
  key,
  ...(explicit ? { explicit } : {}),
});

function summary(h: readonly HeldAttachment[], w: readonly WantedAttachment[], taken = ['eth0']) {
  const change = diffAttachments(h, w, taken);
  return {
    remove: change.remove.map((a) => `${a.key}@${a.ifName}`),
    add: change.add.map((a) => `${a.wanted.key}@${a.ifName}`),
    keep: change.keep.map((k) => `${k.held.key}@${k.held.ifName}`),
  };
}

describe('diffAttachments (hot-plug)', () => {
  it('adds a new selection on the lowest free netN, keeping the names the others have', () => {
    expect(summary([held('d/a', 'net1')], [wanted('d/a'), wanted('d/b')])).toEqual({
      remove: [],
      add: ['d/b@net2'],
      keep: ['d/a@net1'],
    });
  });

  it('removes an interface the user never named (DNC#63), and the one after it keeps its name', () => {
    expect(summary([held('d/a', 'net1'), held('d/b', 'net2')], [wanted('d/b')])).toEqual({
      remove: ['d/a@net1'],
      add: [],
      keep: ['d/b@net2'],
    });
  });

  it('does an add and a remove of one change both (DNC#157), the new one taking the freed lowest name', () => {
    expect(summary([held('d/a', 'net1'), held('d/b', 'net2')], [wanted('d/b'), wanted('d/c')])).toEqual({
      remove: ['d/a@net1'],
      add: ['d/c@net1'],
      keep: ['d/b@net2'],
    });
  });

  it('removes an interface the pod had since it was created (DNC#209): every held attachment is the records', () => {
    expect(summary([held('d/a', 'net1')], [])).toEqual({ remove: ['d/a@net1'], add: [], keep: [] });
  });

  it('treats a network listed twice as two attachments, matched one by one', () => {
    expect(summary([held('d/a', 'net1')], [wanted('d/a'), wanted('d/a')])).toEqual({
      remove: [],
      add: ['d/a@net2'],
      keep: ['d/a@net1'],
    });
    expect(summary([held('d/a', 'net1'), held('d/a', 'net2')], [wanted('d/a')])).toEqual({
      remove: ['d/a@net2'],
      add: [],
      keep: ['d/a@net1'],
    });
  });

  it('matches a selection with an explicit interface to that attachment only', () => {
    expect(summary([held('d/a', 'net1'), held('d/a', 'fast0')], [wanted('d/a', 'fast0')])).toEqual({
      remove: ['d/a@net1'],
      add: [],
      keep: ['d/a@fast0'],
    });
    // A new explicit name for a held network is a new attachment: interfaces are never renamed in place.
    expect(summary([held('d/a', 'net1')], [wanted('d/a', 'fast0')])).toEqual({
      remove: ['d/a@net1'],
      add: ['d/a@fast0'],
      keep: [],
    });
  });

  it("never hands out a name outside the annotation (eth0, the default networks') or one another selection names", () => {
    expect(summary([], [wanted('d/b'), wanted('d/c', 'net2')], ['eth0', 'net1'])).toEqual({
      remove: [],
      add: ['d/b@net3', 'd/c@net2'],
      keep: [],
    });
  });

  it('removes in reverse order of attachment, as DEL does', () => {
    expect(summary([held('d/a', 'net1'), held('d/b', 'net2'), held('d/c', 'net3')], []).remove).toEqual([
      'd/c@net3',
      'd/b@net2',
      'd/a@net1',
    ]);
  });

  it('converges: applying the change and diffing again gives nothing to do', () => {
    const before = [held('d/a', 'net1'), held('d/b', 'net2'), held('d/a', 'net3')];
    const want = [wanted('d/c'), wanted('d/a'), wanted('d/b', 'x0')];
    const change = diffAttachments(before, want, ['eth0']);
    const after = [...change.keep.map((k) => k.held), ...change.add.map((a) => held(a.wanted.key, a.ifName))];
    expect(summary(after, want)).toEqual({ remove: [], add: [], keep: expect.any(Array) });
  });
});
