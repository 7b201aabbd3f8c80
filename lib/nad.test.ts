import { readdirSync } from 'node:fs';
import fc from 'fast-check';
import { fixturePath, readFixture } from '../test/fixtures.ts';
import { ValidationError } from './errors.ts';
import { parseManifests } from './k8s/manifests.ts';
import { validateNad } from './nad.ts';

const files = (dir: string): string[] => readdirSync(fixturePath('nads', dir)).sort();

function onlyDocument(text: string): unknown {
  const documents = parseManifests(text);
  expect(documents).toHaveLength(1);
  return documents[0]!.object;
}

describe('validateNad', () => {
  it('accepts the seed macvlan-conf NAD and defaults the config name to the NAD name', () => {
    const result = validateNad(onlyDocument(readFixture('seed', 'macvlan-conf.nad.yaml')));
    expect(result).toMatchObject({ name: 'macvlan-conf', namespace: 'default', warnings: [] });
    expect(result.config).toMatchObject({ kind: 'conf', name: 'macvlan-conf', cniVersion: '0.3.0' });
    expect(result.config!.plugins[0]).toMatchObject({ type: 'macvlan', master: 'eth0', mode: 'bridge' });
  });

  it.each(files('valid'))('accepts valid/%s', (file) => {
    expect(() => validateNad(onlyDocument(readFixture('nads', 'valid', file)))).not.toThrow();
  });

  it.each(files('invalid'))('rejects invalid/%s with the expected path and message', (file) => {
    const text = readFixture('nads', 'invalid', file);
    const expected = /^# expect: (.*)$/m.exec(text)![1]!;
    let error: unknown;
    try {
      validateNad(onlyDocument(text));
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).message).toContain(expected);
  });

  it('treats an empty spec.config as "use the node\'s config file of that name"', () => {
    const result = validateNad(onlyDocument(readFixture('nads', 'valid', 'empty-config.yaml')));
    expect(result).toEqual({ name: 'on-disk', namespace: 'infra', config: undefined, warnings: [] });
    expect(
      validateNad({
        apiVersion: 'k8s.cni.cncf.io/v1',
        kind: 'NetworkAttachmentDefinition',
        metadata: { name: 'x' },
        spec: { config: '  ' },
      }).config,
    ).toBeUndefined();
  });

  it('keeps the config name when one is given, and warns about names pods cannot select', () => {
    const result = validateNad({
      apiVersion: 'k8s.cni.cncf.io/v1',
      kind: 'NetworkAttachmentDefinition',
      metadata: { name: 'with.dots', namespace: 'ns' },
      spec: { config: '{"cniVersion":"1.0.0","name":"explicit","type":"bridge"}' },
    });
    expect(result.config!.name).toBe('explicit');
    expect(result.warnings).toEqual([
      expect.objectContaining({
        path: 'metadata.name',
        message: expect.stringContaining('cannot select it'),
      }),
    ]);
  });

  it('never throws anything but ValidationError', () => {
    fc.assert(
      fc.property(fc.anything(), fc.oneof(fc.string(), fc.json()), (anything, config) => {
        for (const candidate of [
          anything,
          {
            apiVersion: 'k8s.cni.cncf.io/v1',
            kind: 'NetworkAttachmentDefinition',
            metadata: { name: 'n' },
            spec: { config },
          },
        ]) {
          try {
            validateNad(candidate);
          } catch (err) {
            if (!(err instanceof ValidationError)) throw err;
          }
        }
      }),
      { numRuns: 1000 },
    );
  });
});

describe('parseManifests', () => {
  it('reads several documents and unwraps lists', () => {
    const text = `${readFixture('seed', 'macvlan-conf.nad.yaml')}\n---\n---\n${JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [{ kind: 'A' }, { kind: 'B' }] })}\n`;
    expect(parseManifests(text).map((d) => [d.position, d.object.kind])).toEqual([
      ['0', 'NetworkAttachmentDefinition'],
      ['2.items[0]', 'A'],
      ['2.items[1]', 'B'],
    ]);
  });

  it.each([
    ['binary', '\u0000\u0001\u0002', 'binary data'],
    ['bad yaml', 'a: [1, 2', 'not valid YAML or JSON'],
    ['a scalar', '42', 'must be a Kubernetes object'],
    ['deep', `${'['.repeat(200)}${']'.repeat(200)}`, 'not valid YAML or JSON'],
    [
      'alias bomb',
      [
        'a: &a ["x","x","x","x","x","x","x","x","x"]',
        ...Array.from(
          { length: 8 },
          (_, i) =>
            `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)}]`,
        ),
      ].join('\n'),
      'more than',
    ],
  ])('rejects %s input with a ValidationError', (_what, text, message) => {
    expect(() => parseManifests(text)).toThrow(ValidationError);
    expect(() => parseManifests(text)).toThrow(message);
  });
});
