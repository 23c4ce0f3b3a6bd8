// ONNX ModelProto bytes for the peers of `webmoe bench --peers`, written here with a minimal protobuf
// writer (no dependency): a one-node MatMul (ort.mjs) and a one-node com.microsoft.QMoE (ort.mjs,
// ort-node-*.mjs). Field numbers are onnx.proto's. Outside src/: the published package never imports it.

// --- a minimal protobuf writer: varints, length-delimited fields, enough for onnx.proto ---
function varint(v) {
  const out = [];
  let n = BigInt(v);
  do {
    let b = Number(n & 0x7fn);
    n >>= 7n;
    if (n > 0n) b |= 0x80;
    out.push(b);
  } while (n > 0n);
  return out;
}
export const concat = (parts) => {
  const len = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(len);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};
export const fInt = (field, v) => Uint8Array.from([...varint(field << 3), ...varint(v)]);
export const fBytes = (field, bytes) => concat([Uint8Array.from([...varint((field << 3) | 2), ...varint(bytes.length)]), bytes]);
export const fStr = (field, s) => fBytes(field, new TextEncoder().encode(s));
export const fMsg = (field, parts) => fBytes(field, concat(parts));
/** A float field (wire type 5, little-endian f32). */
export const fFloat = (field, v) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setFloat32(0, v, true);
  return concat([Uint8Array.from(varint((field << 3) | 5)), b]);
};

// TensorProto.DataType
export const FLOAT = 1;
export const UINT8 = 2;
export const FLOAT16 = 10;

const bytesOf = (a) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
/** ValueInfoProto (graph input 11 / output 12) of a dense tensor. */
export const valueInfo = (field, name, dims, elemType = FLOAT) =>
  fMsg(field, [
    fStr(1, name),
    fMsg(2, [fMsg(1, [fInt(1, elemType), fMsg(2, dims.map((d) => fMsg(1, [fInt(1, d)])))])]), // TypeProto.tensor_type{elem_type, shape}
  ]);
/** GraphProto.initializer (5): TensorProto{dims 1, data_type 2, name 8, raw_data 9}. */
export const initializer = (name, dims, elemType, data) =>
  fMsg(5, [...dims.map((d) => fInt(1, d)), fInt(2, elemType), fStr(8, name), fBytes(9, bytesOf(data))]);
/**
 * NodeProto.attribute (5): AttributeProto{name 1, f 2, i 3, s 4, type 20 (FLOAT 1, INT 2, STRING 3)}:
 * a string, an integer (INT), or { float: v } (FLOAT, whatever v's value).
 */
const attribute = (name, v) =>
  fMsg(5, typeof v === 'string' ?
    [fStr(1, name), fStr(4, v), fInt(20, 3)]
    : typeof v === 'object'
    ? [fStr(1, name), fFloat(2, v.float), fInt(20, 1)]
    : [fStr(1, name), fInt(3, v), fInt(20, 2)]);
/** ModelProto{ir_version 1, producer_name 2, graph 7, opset_import 8 (domain 1, version 2)}. */
const model = (graph, opsets) =>
  concat([fInt(1, 8), fStr(2, 'webmoe-bench'), graph, ...opsets.map(([domain, version]) => fMsg(8, [fStr(1, domain), fInt(2, version)]))]);

/** ModelProto bytes of Y[m,n] = X[m,k] · B[k,n], B an initializer. */
export function matMulModel(m, n, k, b) {
  const node = fMsg(1, [fStr(1, 'X'), fStr(1, 'B'), fStr(2, 'Y'), fStr(4, 'MatMul')]);
  const graph = fMsg(7, [node, fStr(2, 'matmul'), initializer('B', [k, n], FLOAT, b), valueInfo(11, 'X', [m, k]), valueInfo(12, 'Y', [m, n])]);
  return model(graph, [['', 17]]);
}

/**
 * ModelProto bytes of one com.microsoft.QMoE node (opset com.microsoft 1): Y[T,H] from X[T,H] and the
 * router logits L[T,E] (graph inputs), the int4/int8 expert weights and f32 scales as initializers.
 * `q` holds what packQMoE (src/bench/qmoe.ts) makes: fc1 [E, 2I, H·bits/8] u8 with scales
 * [E, 2I, H/block], fc2 [E, H, I·bits/8] with scales [E, H, I/block]; `attrs` the node's attributes.
 */
export function qmoeModel(s, q, attrs) {
  const { tokens: T, hidden: H, intermediate: I, experts: E } = s;
  const per = 8 / q.bits;
  const blocks = (K) => (q.block ? [K / q.block] : []);
  const inputs = ['X', 'L', 'fc1', 'fc1_scales', '', 'fc2', 'fc2_scales'];
  const node = fMsg(1, [...inputs.map((n) => fStr(1, n)), fStr(2, 'Y'), fStr(4, 'QMoE'), fStr(7, 'com.microsoft'),
    ...Object.entries(attrs).map(([k, v]) => attribute(k, v))]);
  const graph = fMsg(7, [node, fStr(2, 'qmoe'), initializer('fc1', [E, 2 * I, H / per], UINT8, q.fc1),
    initializer('fc1_scales', [E, 2 * I, ...blocks(H)], FLOAT, q.fc1Scales), initializer('fc2', [E, H, I / per], UINT8, q.fc2),
    initializer('fc2_scales', [E, H, ...blocks(I)], FLOAT, q.fc2Scales), valueInfo(11, 'X', [T, H]), valueInfo(11, 'L', [T, E]), valueInfo(12, 'Y', [T, H])]);
  return model(graph, [['', 17], ['com.microsoft', 1]]);
}
