/**
 * The least of protobuf's wire format (proto3) a client of the kubelet's gRPC APIs needs: walking a
 * message's fields, reading varints, strings and nested messages, and skipping every field it does
 * not read (a newer kubelet adds fields: they must pass unnoticed). No code generation, no schema:
 * each decoder names the field numbers it reads (see pod-resources.ts).
 */

/** Wire types (protobuf encoding): 0 varint, 1 64-bit, 2 length-delimited, 5 32-bit. */
const varint = 0;
const fixed64 = 1;
const lengthDelimited = 2;
const fixed32 = 5;

export class ProtobufError extends Error {}

/** A field's number and wire type, at the reader's position. */
export interface FieldTag {
  readonly field: number;
  readonly wireType: number;
}

/** Reads the fields of one message in buf[start, end). */
export class ProtoReader {
  private readonly buf: Uint8Array;
  private pos: number;
  private readonly end: number;

  constructor(buf: Uint8Array, start = 0, end = buf.length) {
    this.buf = buf;
    this.pos = start;
    this.end = end;
  }

  /** The next field's tag, or undefined at the end of the message. */
  next(): FieldTag | undefined {
    if (this.pos >= this.end) return undefined;
    const tag = this.varint();
    const field = Math.floor(tag / 8);
    if (field === 0) throw new ProtobufError('field number 0');
    return { field, wireType: tag % 8 };
  }

  /** A varint as a number (exact up to 2^53; larger values, never a length here, lose precision). */
  varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new ProtobufError('truncated varint');
      const byte = this.buf[this.pos++]!;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 128;
    }
    throw new ProtobufError('varint longer than 10 bytes');
  }

  /** A length-delimited field's bounds [start, end) in the buffer; the reader moves past it. */
  delimited(): { start: number; end: number } {
    const length = this.varint();
    const start = this.pos;
    if (length > this.end - start) throw new ProtobufError('length-delimited field runs past its message');
    this.pos = start + length;
    return { start, end: this.pos };
  }

  string(): string {
    const { start, end } = this.delimited();
    return Buffer.from(this.buf.buffer, this.buf.byteOffset + start, end - start).toString('utf8');
  }

  /** Whether a string field's bytes are `expected`'s (no string is made: for skipping what is not wanted). */
  bytesEqual(expected: Uint8Array): boolean {
    const { start, end } = this.delimited();
    if (end - start !== expected.length) return false;
    for (let i = 0; i < expected.length; i++) if (this.buf[start + i] !== expected[i]) return false;
    return true;
  }

  /**
   * Whether the message in buf[start, end) begins with string field `field` and its value is not
   * `expected`: a quick reject without a reader or a string (the kubelet encodes fields in order, so a
   * pod's name comes first). False when it cannot tell (another layout): then read the message.
   */
  startsWithOther(start: number, end: number, field: number, expected: Buffer): boolean {
    const tag = field * 8 + lengthDelimited;
    if (tag > 0x7f || end - start < 2 || this.buf[start] !== tag) return false;
    const length = this.buf[start + 1]!;
    if (length > 0x7f || start + 2 + length > end) return false;
    return length !== expected.length || expected.compare(this.buf, start + 2, start + 2 + length) !== 0;
  }

  /** A reader over a nested message. */
  message(): ProtoReader {
    const { start, end } = this.delimited();
    return new ProtoReader(this.buf, start, end);
  }

  /** A reader over buf[start, end) of the same buffer (a nested message whose bounds were kept). */
  sub(start: number, end: number): ProtoReader {
    return new ProtoReader(this.buf, start, end);
  }

  /** Skips a field this decoder does not read. */
  skip(wireType: number): void {
    switch (wireType) {
      case varint:
        this.varint();
        return;
      case fixed64:
        this.advance(8);
        return;
      case lengthDelimited:
        this.delimited();
        return;
      case fixed32:
        this.advance(4);
        return;
      default:
        throw new ProtobufError(`unsupported wire type ${wireType}`);
    }
  }

  /** Whether a field of this wire type holds a string or message (what string()/message() read). */
  static isDelimited(tag: FieldTag): boolean {
    return tag.wireType === lengthDelimited;
  }

  private advance(bytes: number): void {
    if (bytes > this.end - this.pos) throw new ProtobufError('truncated fixed-width field');
    this.pos += bytes;
  }
}

/**
 * Writes one message (proto3): strings, bools and nested messages by field number, in the order they
 * are written (the kubelet's decoders accept any order). Empty strings and false are left out, as
 * proto3 does for scalars without presence; `optional` fields are written when given (see string()).
 */
export class ProtoWriter {
  private readonly parts: Buffer[] = [];
  private size = 0;

  private push(part: Buffer): void {
    this.parts.push(part);
    this.size += part.length;
  }

  private varint(value: number): void {
    const bytes: number[] = [];
    let rest = value;
    while (rest >= 0x80) {
      bytes.push((rest % 128) | 0x80);
      rest = Math.floor(rest / 128);
    }
    bytes.push(rest);
    this.push(Buffer.from(bytes));
  }

  private tag(field: number, wireType: number): void {
    this.varint(field * 8 + wireType);
  }

  private delimited(field: number, bytes: Buffer): void {
    this.tag(field, lengthDelimited);
    this.varint(bytes.length);
    this.push(bytes);
  }

  /** A string field; `always` writes an empty one too (a proto3 `optional` field that is set). */
  string(field: number, value: string | undefined, always = false): this {
    if (value === undefined || (value === '' && !always)) return this;
    this.delimited(field, Buffer.from(value, 'utf8'));
    return this;
  }

  /** One entry of a repeated string field per value. */
  strings(field: number, values: readonly string[]): this {
    for (const value of values) this.delimited(field, Buffer.from(value, 'utf8'));
    return this;
  }

  bool(field: number, value: boolean): this {
    if (!value) return this;
    this.tag(field, varint);
    this.varint(1);
    return this;
  }

  /** A nested message (also each entry of a repeated message field, and of a map). */
  message(field: number, message: ProtoWriter): this {
    this.delimited(field, message.finish());
    return this;
  }

  finish(): Buffer {
    return Buffer.concat(this.parts, this.size);
  }
}
