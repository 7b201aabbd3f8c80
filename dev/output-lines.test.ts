import { OutputLines } from './output-lines.ts';

describe('OutputLines', () => {
  it('logs whole lines across chunks, the unterminated last one at the end, and keeps the last few', () => {
    const logged: string[] = [];
    const output = new OutputLines((line) => logged.push(line), 2);
    output.write(Buffer.from('one\ntw'));
    expect(logged).toEqual(['one']);
    output.write(Buffer.from('o\nthree'));
    expect(logged).toEqual(['one', 'two']);
    output.end();
    expect(logged).toEqual(['one', 'two', 'three']);
    expect(output.tail).toEqual(['two', 'three']);
  });
});
