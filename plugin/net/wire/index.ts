export { ByteReader } from './byte-reader';
export { ByteWriter, varintSize } from './byte-writer';
export { toBase64, fromBase64, toHex, fromHex } from './encoding';
