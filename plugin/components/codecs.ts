/**
 * Typed message codecs for game code: `jsonCodec<T>()` for convenience and `structCodec({...})` for
 * compact fixed-size binary records. Decoding untrusted bytes never throws: it returns Decoded<T>.
 * Encoding trusted values throws a TypeError/RangeError naming the field that is wrong.
 */
import { decodeError, decodeOk, type Decoded } from '../net/result';

export interface MessageCodec<T> {
  encode(value: T): Uint8Array;
  decode(bytes: Uint8Array): Decoded<T>;
}

export interface JsonCodecOptions {
  /** Messages longer than this are refused on both ends (default 64 KiB, the unreliable limit). */
  maxBytes?: number;
}

const DEFAULT_JSON_MAX_BYTES = 64 * 1024;

/**
 * UTF-8 JSON. Without a guard the decoded value is only known to be JSON, so pass one for data from
 * other peers: `jsonCodec((v): v is Chat => typeof v === 'object' && v !== null && 'text' in v)`.
 */
export function jsonCodec<T>(guard?: (value: unknown) => value is T, options: JsonCodecOptions = {}): MessageCodec<T> {
  const maxBytes = options.maxBytes ?? DEFAULT_JSON_MAX_BYTES;
  if (!Number.isInteger(maxBytes) || maxBytes < 1) throw new RangeError(`jsonCodec: maxBytes: expected a positive integer, got ${maxBytes}`);
  const encoder = new TextEncoder();
  const decoder = new TextDecoder('utf-8', { fatal: true });
  return {
    encode(value: T): Uint8Array {
      const text = JSON.stringify(value);
      if (text === undefined) throw new TypeError('jsonCodec: value has no JSON form (undefined or a function)');
      const bytes = encoder.encode(text);
      if (bytes.length > maxBytes) throw new RangeError(`jsonCodec: encoded value is ${bytes.length} bytes, over maxBytes ${maxBytes}`);
      return bytes;
    },
    decode(bytes: Uint8Array): Decoded<T> {
      if (!(bytes instanceof Uint8Array)) return decodeError('json: expected a Uint8Array');
      if (bytes.length > maxBytes) return decodeError(`json: ${bytes.length} bytes, over maxBytes ${maxBytes}`);
      let value: unknown;
      try {
        value = JSON.parse(decoder.decode(bytes));
      } catch (error) {
        return decodeError(`json: ${error instanceof Error ? error.message : 'not UTF-8 JSON'}`);
      }
      if (guard && !guard(value)) return decodeError('json: value does not have the expected shape (guard refused it)');
      return decodeOk(value as T);
    },
  };
}

/** Field types of a struct codec; all multi-byte fields are big-endian (network order, like net/wire). */
export type StructFieldType = 'u8' | 'u16' | 'u32' | 'u64' | 'i8' | 'i16' | 'i32' | 'f32' | 'f64' | 'bool';

export type StructSchema = Readonly<Record<string, StructFieldType>>;

export type StructFieldValue<F extends StructFieldType> = F extends 'bool' ? boolean : F extends 'u64' ? bigint : number;

export type StructValue<S extends StructSchema> = { [K in keyof S]: StructFieldValue<S[K]> };

export interface StructCodec<S extends StructSchema> extends MessageCodec<StructValue<S>> {
  /** Every encoded record is exactly this long. */
  readonly byteLength: number;
  /** Field names in wire order (the schema's key order). */
  readonly fields: readonly (keyof S & string)[];
}

const FIELD_SIZES: Record<StructFieldType, number> = { u8: 1, u16: 2, u32: 4, u64: 8, i8: 1, i16: 2, i32: 4, f32: 4, f64: 8, bool: 1 };
const INTEGER_RANGES: Partial<Record<StructFieldType, readonly [number, number]>> = {
  u8: [0, 0xff], u16: [0, 0xffff], u32: [0, 0xffffffff],
  i8: [-0x80, 0x7f], i16: [-0x8000, 0x7fff], i32: [-0x80000000, 0x7fffffff],
};
const MAX_FIELDS = 64;

/**
 * A fixed-size binary record, fields in the schema's key order:
 * `structCodec({ x: 'f32', y: 'f32', id: 'u16' })` encodes `{ x, y, id }` in 10 bytes.
 */
export function structCodec<const S extends StructSchema>(schema: S): StructCodec<S> {
  const fields = Object.keys(schema) as (keyof S & string)[];
  if (fields.length === 0 || fields.length > MAX_FIELDS) throw new TypeError(`structCodec: expected 1..${MAX_FIELDS} fields, got ${fields.length}`);
  const layout = fields.map((name) => {
    const type = schema[name];
    if (typeof type !== 'string' || !(type in FIELD_SIZES)) throw new TypeError(`structCodec: field '${name}': expected one of ${Object.keys(FIELD_SIZES).join(', ')}, got ${String(type)}`);
    return { name, type: type as StructFieldType };
  });
  const byteLength = layout.reduce((sum, f) => sum + FIELD_SIZES[f.type], 0);

  return {
    byteLength,
    fields,
    encode(value: StructValue<S>): Uint8Array {
      if (typeof value !== 'object' || value === null) throw new TypeError('structCodec: expected an object');
      const bytes = new Uint8Array(byteLength);
      const view = new DataView(bytes.buffer);
      let offset = 0;
      for (const { name, type } of layout) {
        writeField(view, offset, type, (value as Record<string, unknown>)[name], name);
        offset += FIELD_SIZES[type];
      }
      return bytes;
    },
    decode(bytes: Uint8Array): Decoded<StructValue<S>> {
      if (!(bytes instanceof Uint8Array)) return decodeError('struct: expected a Uint8Array');
      if (bytes.length !== byteLength) return decodeError(`struct: expected ${byteLength} bytes, got ${bytes.length}`);
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const value: Record<string, unknown> = {};
      let offset = 0;
      for (const { name, type } of layout) {
        const field = readField(view, offset, type);
        if (field === undefined) return decodeError(`struct: field '${name}': expected a bool byte 0 or 1, got ${view.getUint8(offset)}`);
        value[name] = field;
        offset += FIELD_SIZES[type];
      }
      return decodeOk(value as StructValue<S>);
    },
  };
}

function writeField(view: DataView, offset: number, type: StructFieldType, value: unknown, name: string): void {
  if (type === 'bool') {
    if (typeof value !== 'boolean') throw new TypeError(`structCodec: field '${name}': expected a boolean, got ${typeof value}`);
    view.setUint8(offset, value ? 1 : 0);
    return;
  }
  if (type === 'u64') {
    if (typeof value !== 'bigint' || value < 0n || value > 0xffffffffffffffffn) throw new RangeError(`structCodec: field '${name}': expected a bigint 0..2^64-1, got ${String(value)}`);
    view.setBigUint64(offset, value);
    return;
  }
  if (typeof value !== 'number') throw new TypeError(`structCodec: field '${name}': expected a number, got ${typeof value}`);
  const range = INTEGER_RANGES[type];
  if (range && (!Number.isInteger(value) || value < range[0] || value > range[1])) {
    throw new RangeError(`structCodec: field '${name}': expected an integer ${range[0]}..${range[1]} (${type}), got ${value}`);
  }
  switch (type) {
    case 'u8': view.setUint8(offset, value); break;
    case 'u16': view.setUint16(offset, value); break;
    case 'u32': view.setUint32(offset, value); break;
    case 'i8': view.setInt8(offset, value); break;
    case 'i16': view.setInt16(offset, value); break;
    case 'i32': view.setInt32(offset, value); break;
    case 'f32': view.setFloat32(offset, value); break;
    case 'f64': view.setFloat64(offset, value); break;
  }
}

/** The field's value, or undefined for a bool byte other than 0 or 1. */
function readField(view: DataView, offset: number, type: StructFieldType): number | bigint | boolean | undefined {
  switch (type) {
    case 'u8': return view.getUint8(offset);
    case 'u16': return view.getUint16(offset);
    case 'u32': return view.getUint32(offset);
    case 'u64': return view.getBigUint64(offset);
    case 'i8': return view.getInt8(offset);
    case 'i16': return view.getInt16(offset);
    case 'i32': return view.getInt32(offset);
    case 'f32': return view.getFloat32(offset);
    case 'f64': return view.getFloat64(offset);
    case 'bool': {
      const byte = view.getUint8(offset);
      return byte === 0 ? false : byte === 1 ? true : undefined;
    }
  }
}
