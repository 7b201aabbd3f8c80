import { schemaHash, validatorSchemas } from './schema-catalog.ts';
import type { Validator } from './schema.ts';
import { validator, validatorTable } from './validators.ts';

describe('generated validators', () => {
  it('has a current validator for every schema of the catalogue', () => {
    for (const name of Object.keys(validatorSchemas)) expect(typeof validator(name)).toBe('function');
  });

  it('keeps the x-check messages and the verbose error fields the problem translation reads', () => {
    const validate = validator('selection-element');
    expect(validate({ name: 'Not_A_Label', mac: 'zz' })).toBe(false);
    const errors = validate.errors ?? [];
    expect(errors.map((e) => [e.instancePath, e.keyword])).toEqual([
      ['/name', 'x-check'],
      ['/mac', 'x-check'],
    ]);
    expect(errors[1]!.message).toBe('"zz" is not a MAC address of 6 bytes, e.g. "c2:b0:57:49:47:f1"');
    expect(errors[1]!.parentSchema).toEqual({ 'x-check': 'selection:mac' });
    expect(validate({ name: 'ok', mac: 'c2:b0:57:49:47:f1' })).toBe(true);
  });
});

describe('validatorTable', () => {
  const schema = { type: 'string' };
  const good: Validator = (value) => typeof value === 'string';

  it('creates each validator once, on first use', () => {
    let made = 0;
    const table = validatorTable(
      { s: schema },
      { factories: { s: () => (made++, good) }, hashes: { s: schemaHash(schema) } },
    );
    expect(made).toBe(0);
    expect(table('s')).toBe(good);
    expect(table('s')).toBe(good);
    expect(made).toBe(1);
  });

  it('refuses generated code made from another version of the schema, naming the command', () => {
    const table = validatorTable({ s: schema }, { factories: { s: () => good }, hashes: { s: 'stale' } });
    expect(() => table('s')).toThrow(
      'the generated validator "s" is out of date (lib/generated/validators.ts): run `npm run build:validators`',
    );
  });

  it('refuses a schema the generated code does not have, and a name the catalogue does not have', () => {
    const table = validatorTable({ s: schema }, { factories: {}, hashes: {} });
    expect(() => table('s')).toThrow('the generated validator "s" is missing');
    expect(() => table('toString')).toThrow('no schema named "toString" in lib/schema-catalog.ts');
  });
});
