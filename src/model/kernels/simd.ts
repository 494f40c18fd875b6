/**
 * SIMD kernels as small WebAssembly modules that we emit here, byte by byte,
 * and instantiate on tfjs-backend-wasm's own memory, so they read and write
 * tensors in place on the tfjs heap:
 *
 * - the fused LSTM cell, forward and backward (kernels/lstm_cell.ts). In
 *   plain JS the same arithmetic costs ~20-50 ns per unit and step (float32
 *   loads and stores are not vectorised, Math.exp is a call); here a few ns.
 *   The module is generated per LSTM width (the gate offsets are constants)
 *   and needs units % 4 == 0. Every pointer argument comes with a row stride
 *   in bytes; an absent input points at a zero row with stride 0 and an
 *   unwanted output at a scratch row, so the loops have no branches.
 * - column sums for the leading-axis Sum (kernels/sum.ts);
 * - C = Aᵀ·B without packing, for the weight gradients (kernels/matmul.ts,
 *   and dW_h in kernels/lstm_cell.ts).
 *
 * Where SIMD or the memory import is unavailable the callers run plain JS
 * (cells, sums) or XNNPACK (products).
 *
 * Emitting by hand keeps the build free of a wasm toolchain. The opcodes
 * used (checked against llvm-objdump of llc's wasm32 output): local.get/
 * set, i32 arithmetic and select, block/loop/if/br/br_if, f32.load, and
 * from SIMD v128.load/load32_splat/store/const, f32x4.splat/add/sub/mul/
 * div/min/max/gt and v128.bitselect.
 */
import type { CellBackwardArgs, CellForwardArgs } from './lstm_cell_args';
import type { WasmBackendLike } from './wasm_heap';
import { floatOffset, heapF32 } from './wasm_heap';

/** An absent input or output in the kernels' offset arguments. */
export const NONE = -1;

export interface SimdLstmKernels {
  forward(a: CellForwardArgs): void;
  backward(a: CellBackwardArgs): void;
}

// ------------------------------------------------------------------ WebAssembly API (typed minimally; no DOM lib here)

interface WasmInstance {
  exports: Record<string, unknown>;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => WasmInstance;
  Memory: abstract new (...args: never[]) => { buffer: ArrayBufferLike };
  validate(bytes: Uint8Array): boolean;
}
const WA = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

// ------------------------------------------------------------------ encoding

type Code = number[];

const I32 = 0x7f;
const F32 = 0x7d;
const V128 = 0x7b;

function uleb(n: number): Code {
  const out: Code = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

function sleb(n: number): Code {
  const out: Code = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

function name(s: string): Code {
  const bytes = [...Buffer.from(s, 'utf8')];
  return [...uleb(bytes.length), ...bytes];
}

function vec(items: Code[]): Code {
  return [...uleb(items.length), ...items.flat()];
}

function section(id: number, body: Code): Code {
  return [id, ...uleb(body.length), ...body];
}

// Instructions. Expressions are byte arrays that leave one value on the stack.
const simd = (op: number): Code => [0xfd, ...uleb(op)];
const get = (local: number): Code => [0x20, ...uleb(local)];
const set = (local: number, value: Code): Code => [...value, 0x21, ...uleb(local)];
const i32 = (v: number): Code => [0x41, ...sleb(v)];
const i32Add = (a: Code, b: Code): Code => [...a, ...b, 0x6a];
const i32Mul = (a: Code, b: Code): Code => [...a, ...b, 0x6c];
const i32LtS = (a: Code, b: Code): Code => [...a, ...b, 0x48];
const i32GeS = (a: Code, b: Code): Code => [...a, ...b, 0x4e];
const i32GtS = (a: Code, b: Code): Code => [...a, ...b, 0x4a];
/** cond ? a : b (i32). */
const i32Select = (a: Code, b: Code, cond: Code): Code => [...a, ...b, ...cond, 0x1b];
const ifThen = (cond: Code, ...body: Code[]): Code => [...cond, 0x04, 0x40, ...body.flat(), 0x0b];
const f32Load = (addr: Code): Code => [...addr, 0x2a, 0x02, 0x00];
const block = (...body: Code[]): Code => [0x02, 0x40, ...body.flat(), 0x0b];
const loop = (...body: Code[]): Code => [0x03, 0x40, ...body.flat(), 0x0b];
const br = (depth: number): Code => [0x0c, ...uleb(depth)];
const brIf = (depth: number, cond: Code): Code => [...cond, 0x0d, ...uleb(depth)];
/** v128 at (ptr + j + offset bytes). */
const load = (ptr: number, j: number, offset = 0): Code => [...get(ptr), ...get(j), 0x6a, ...simd(0x00), 0x02, ...uleb(offset)];
const store = (ptr: number, j: number, offset: number, value: Code): Code => [
  ...get(ptr),
  ...get(j),
  0x6a,
  ...value,
  ...simd(0x0b),
  0x02,
  ...uleb(offset),
];
const splat = (f32: Code): Code => [...f32, ...simd(0x13)];
/** The f32 at addr, in all four lanes. */
const loadSplat = (addr: Code): Code => [...addr, ...simd(0x09), 0x02, 0x00];
function constant(v: number): Code {
  const bytes = new Uint8Array(16);
  const view = new DataView(bytes.buffer);
  for (let k = 0; k < 4; k++) view.setFloat32(4 * k, v, true);
  return [...simd(0x0c), ...bytes];
}
const binary =
  (op: number) =>
  (a: Code, b: Code): Code => [...a, ...b, ...simd(op)];
const add = binary(0xe4);
const sub = binary(0xe5);
const mul = binary(0xe6);
const div = binary(0xe7);
const min = binary(0xe8);
const max = binary(0xe9);
const gt = binary(0x44);
/** Lanes of a where mask is set, else of b. */
const select = (a: Code, b: Code, mask: Code): Code => [...a, ...b, ...mask, ...simd(0x52)];

/** A function body under construction: parameters first, then locals allocated on demand. */
class Fn {
  private readonly locals: number[] = [];
  constructor(readonly params: number[]) {}
  local(type: number): number {
    this.locals.push(type);
    return this.params.length + this.locals.length - 1;
  }
  encode(code: Code): Code {
    const groups: Code[] = this.locals.map((t) => [1, t]);
    const body = [...vec(groups), ...code, 0x0b];
    return [...uleb(body.length), ...body];
  }
}

interface FnDef {
  exportName: string;
  fn: Fn;
  code: Code;
}

function moduleBytes(fns: FnDef[], shared: boolean): Uint8Array {
  const types = section(1, vec(fns.map((f) => [0x60, ...vec(f.fn.params.map((p) => [p])), ...vec([])])));
  // The memory is tfjs's; limits: min 1 page, and for a shared (threaded) memory the wasm32 maximum.
  const limits = shared ? [0x03, ...uleb(1), ...uleb(65536)] : [0x00, ...uleb(1)];
  const imports = section(2, vec([[...name('env'), ...name('memory'), 0x02, ...limits]]));
  const funcs = section(3, vec(fns.map((_, i) => uleb(i))));
  const exports = section(7, vec(fns.map((f, i) => [...name(f.exportName), 0x00, ...uleb(i)])));
  const code = section(10, vec(fns.map((f) => f.fn.encode(f.code))));
  return Uint8Array.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, ...types, ...imports, ...funcs, ...exports, ...code]);
}

// ------------------------------------------------------------------ math

const TANH_P = [
  -2.76076847742355e-16, 2.00018790482477e-13, -8.60467152213735e-11, 5.12229709037114e-8, 1.48572235717979e-5, 6.37261928875436e-4,
  4.89352455891786e-3,
];
const TANH_Q = [1.19825839466702e-6, 1.18534705686654e-4, 2.268434632439e-3, 4.89352518554385e-3];

/** out = tanh(in) (the rational form of kernels/tanh.ts, clamped at ±9), via two temporaries. */
function tanhInto(fn: Fn, out: number, input: Code): Code {
  const v = fn.local(V128);
  const x2 = fn.local(V128);
  const horner = (cs: number[]) => cs.slice(1).reduce<Code>((acc, c) => add(mul(acc, get(x2)), constant(c)), constant(cs[0]));
  return [
    ...set(v, min(max(input, constant(-9)), constant(9))),
    ...set(x2, mul(get(v), get(v))),
    ...set(out, div(mul(get(v), horner(TANH_P)), horner(TANH_Q))),
  ];
}

/** out = sigmoid(in) = 1/2 + tanh(in/2)/2. */
function sigmoidInto(fn: Fn, out: number, input: Code): Code {
  const t = fn.local(V128);
  return [...tanhInto(fn, t, mul(constant(0.5), input)), ...set(out, add(constant(0.5), mul(constant(0.5), get(t))))];
}

/**
 * The row loop: for r in [0, rows): body over j in [0, rowBytes) step 16, then
 * every pointer advances by its stride.
 */
function rows(fn: Fn, rowsParam: number, rowBytes: number, perRow: Code, perLane: (j: number) => Code, pointers: [number, number][]): Code {
  const r = fn.local(I32);
  const j = fn.local(I32);
  const lane = perLane(j);
  return block(
    loop(
      brIf(1, i32GeS(get(r), get(rowsParam))),
      perRow,
      set(j, i32(0)),
      loop(lane, set(j, i32Add(get(j), i32(16))), brIf(0, i32LtS(get(j), i32(rowBytes)))),
      ...pointers.map(([p, stride]) => set(p, i32Add(get(p), get(stride)))),
      set(r, i32Add(get(r), i32(1))),
      br(0),
    ),
  );
}

// ------------------------------------------------------------------ the LSTM cell, forward

function forwardFn(units: number): FnDef {
  const B = 4 * units; // bytes per gate row block
  // rows, xp, xpS, hw, hwS, c, cS, h, hS, mask, maskS, hOut, cOut, outS, cache, cacheS
  const fn = new Fn(new Array<number>(16).fill(I32));
  const [rowsP, xp, xpS, hw, hwS, c, cS, h, hS, mask, maskS, hOut, cOut, outS, cache, cacheS] = [...Array(16).keys()];
  const m = fn.local(V128);
  const [i, f, g, o, cp, cn, tc, hp] = [...Array(8)].map(() => fn.local(V128));
  const perLane = (j: number): Code => [
    ...sigmoidInto(fn, i, add(load(xp, j, 0), load(hw, j, 0))),
    ...sigmoidInto(fn, f, add(load(xp, j, B), load(hw, j, B))),
    ...tanhInto(fn, g, add(load(xp, j, 2 * B), load(hw, j, 2 * B))),
    ...sigmoidInto(fn, o, add(load(xp, j, 3 * B), load(hw, j, 3 * B))),
    ...set(cp, load(c, j)),
    ...set(hp, load(h, j)),
    ...set(cn, add(mul(get(f), get(cp)), mul(get(i), get(g)))),
    ...tanhInto(fn, tc, get(cn)),
    ...store(cOut, j, 0, add(get(cp), mul(get(m), sub(get(cn), get(cp))))),
    ...store(hOut, j, 0, add(get(hp), mul(get(m), sub(mul(get(o), get(tc)), get(hp))))),
    ...store(cache, j, 0, get(i)),
    ...store(cache, j, B, get(f)),
    ...store(cache, j, 2 * B, get(g)),
    ...store(cache, j, 3 * B, get(o)),
    ...store(cache, j, 4 * B, get(tc)),
  ];
  const code = rows(fn, rowsP, B, set(m, splat(f32Load(get(mask)))), perLane, [
    [xp, xpS],
    [hw, hwS],
    [c, cS],
    [h, hS],
    [mask, maskS],
    [hOut, outS],
    [cOut, outS],
    [cache, cacheS],
  ]);
  return { exportName: 'forward', fn, code };
}

// ------------------------------------------------------------------ the LSTM cell, backward

function backwardFn(units: number): FnDef {
  const B = 4 * units;
  // rows, cache, cacheS, c, cS, h, hS, dy, dyS, carry, carryS, dhw, dhwS, dc, dcS, mask, maskS, dz, dzS,
  // carryOut, carryOutS, dcOut, dcOutS, alpha (f32)
  const fn = new Fn([...new Array<number>(23).fill(I32), F32]);
  const [
    rowsP,
    cache,
    cacheS,
    c,
    cS,
    h,
    hS,
    dy,
    dyS,
    carry,
    carryS,
    dhw,
    dhwS,
    dc,
    dcS,
    mask,
    maskS,
    dz,
    dzS,
    carryOut,
    carryOutS,
    dcOut,
    dcOutS,
    alphaP,
  ] = [...Array(24).keys()];
  const m = fn.local(V128);
  const keep = fn.local(V128);
  const alpha = fn.local(V128);
  const [d, dh, dcv, i, f, g, o, tc, dhn, dcn] = [...Array(10)].map(() => fn.local(V128));
  const one = constant(1);
  const perRow: Code = [...set(m, splat(f32Load(get(mask)))), ...set(keep, sub(one, get(m))), ...set(alpha, splat(get(alphaP)))];
  const perLane = (j: number): Code => [
    ...set(d, load(dy, j)),
    ...set(dh, add(add(select(get(d), mul(get(alpha), get(d)), gt(load(h, j), constant(0))), load(carry, j)), load(dhw, j))),
    ...set(dcv, load(dc, j)),
    ...set(i, load(cache, j, 0)),
    ...set(f, load(cache, j, B)),
    ...set(g, load(cache, j, 2 * B)),
    ...set(o, load(cache, j, 3 * B)),
    ...set(tc, load(cache, j, 4 * B)),
    ...set(dhn, mul(get(m), get(dh))),
    ...set(dcn, add(mul(get(m), get(dcv)), mul(mul(get(dhn), get(o)), sub(one, mul(get(tc), get(tc)))))),
    ...store(dz, j, 0, mul(mul(get(dcn), get(g)), mul(get(i), sub(one, get(i))))),
    ...store(dz, j, B, mul(mul(get(dcn), load(c, j)), mul(get(f), sub(one, get(f))))),
    ...store(dz, j, 2 * B, mul(mul(get(dcn), get(i)), sub(one, mul(get(g), get(g))))),
    ...store(dz, j, 3 * B, mul(mul(get(dhn), get(tc)), mul(get(o), sub(one, get(o))))),
    ...store(carryOut, j, 0, mul(get(keep), get(dh))),
    ...store(dcOut, j, 0, add(mul(get(keep), get(dcv)), mul(get(dcn), get(f)))),
  ];
  const code = rows(fn, rowsP, B, perRow, perLane, [
    [cache, cacheS],
    [c, cS],
    [h, hS],
    [dy, dyS],
    [carry, carryS],
    [dhw, dhwS],
    [dc, dcS],
    [mask, maskS],
    [dz, dzS],
    [carryOut, carryOutS],
    [dcOut, dcOutS],
  ]);
  return { exportName: 'backward', fn, code };
}

// ------------------------------------------------------------------ column sums

/** dst[0..cols) = sum over rows of src[rows, cols] (cols % 4 == 0), accumulated row by row in float32. */
function columnSumFn(): FnDef {
  // rows, cols (floats), src, dst
  const fn = new Fn([I32, I32, I32, I32]);
  const [rowsP, colsP, src, dst] = [0, 1, 2, 3];
  const bytes = fn.local(I32);
  const r = fn.local(I32);
  const j = fn.local(I32);
  const row = fn.local(I32);
  const code: Code = [
    ...set(bytes, i32Mul(get(colsP), i32(4))),
    // Row 0 is copied, then each further row added in order: the same float32 sums as the JS loop.
    ...set(j, i32(0)),
    ...block(loop(brIf(1, i32GeS(get(j), get(bytes))), store(dst, j, 0, load(src, j)), set(j, i32Add(get(j), i32(16))), br(0))),
    ...set(r, i32(1)),
    ...set(row, i32Add(get(src), get(bytes))),
    ...block(
      loop(
        brIf(1, i32GeS(get(r), get(rowsP))),
        set(j, i32(0)),
        block(
          loop(
            brIf(1, i32GeS(get(j), get(bytes))),
            store(dst, j, 0, add(load(dst, j), load(row, j))),
            set(j, i32Add(get(j), i32(16))),
            br(0),
          ),
        ),
        set(row, i32Add(get(row), get(bytes))),
        set(r, i32Add(get(r), i32(1))),
        br(0),
      ),
    ),
  ];
  return { exportName: 'columnSum', fn, code };
}

// ------------------------------------------------------------------ C += Aᵀ · B

/** Rows of A and B per pass: a [256, 8] panel of B (8 KiB) stays in L1 while every row block of C reads it. */
const ATB_K_CHUNK = 256;

/**
 * c[M, N] += a[K, M]ᵀ · b[K, N] (row-major, N % 4 == 0): the weight gradients
 * xᵀ · dy of backprop. XNNPACK would first pack b (a fresh gradient every
 * time, up to 2560 x 512 here) into its panel layout and needs aᵀ
 * materialised; this reads both where they are. K is walked in chunks; per
 * chunk, for each 8 (then 4) columns of b, tiles of 4 (then 1) rows of c keep
 * their sums in registers: per row of the chunk, two loads of b, one splat
 * load of a per tile row, and a multiply-add per accumulator. Each c element
 * is accumulated over k in order, in float32.
 */
function atbFn(): FnDef {
  // K, M, N, a, b, c (pointers in bytes)
  const fn = new Fn([I32, I32, I32, I32, I32, I32]);
  const [kP, mP, nP, aP, bP, cP] = [0, 1, 2, 3, 4, 5];
  const kc = fn.local(I32);
  const kEnd = fn.local(I32);
  const i = fn.local(I32);
  const j = fn.local(I32);
  const k = fn.local(I32);
  const aPtr = fn.local(I32);
  const bPtr = fn.local(I32);
  const cPtr = fn.local(I32);
  const rowA = fn.local(I32);
  const rowB = fn.local(I32);
  const acc = [...Array(8)].map(() => fn.local(V128));
  const bv = [fn.local(V128), fn.local(V128)];
  const av = fn.local(V128);
  const vload = (addr: Code): Code => [...addr, ...simd(0x00), 0x02, 0x00];
  const vstore = (addr: Code, value: Code): Code => [...addr, ...value, ...simd(0x0b), 0x02, 0x00];
  const off = (base: number, bytes: Code): Code => i32Add(get(base), bytes);
  /** One tile: rows x (4 * vecs) of c at (i, j), over k in [kc, kEnd). */
  const tile = (rows: number, vecs: number): Code => {
    const accOf = (r: number, v: number) => acc[r * 2 + v];
    const body: Code[] = [];
    for (let v = 0; v < vecs; v++) body.push(set(bv[v], vload(off(bPtr, i32(16 * v)))));
    for (let r = 0; r < rows; r++) {
      body.push(set(av, loadSplat(off(aPtr, i32(4 * r)))));
      for (let v = 0; v < vecs; v++) body.push(set(accOf(r, v), add(get(accOf(r, v)), mul(get(av), get(bv[v])))));
    }
    const cAt = (r: number, v: number): Code => i32Add(get(cPtr), i32Add(i32Mul(i32(r), get(rowB)), i32(16 * v)));
    const loads: Code[] = [];
    const stores: Code[] = [];
    for (let r = 0; r < rows; r++) {
      for (let v = 0; v < vecs; v++) {
        loads.push(set(accOf(r, v), vload(cAt(r, v))));
        stores.push(vstore(cAt(r, v), get(accOf(r, v))));
      }
    }
    return [
      ...set(cPtr, i32Add(get(cP), i32Mul(i32Add(i32Mul(get(i), get(nP)), get(j)), i32(4)))),
      ...loads.flat(),
      ...set(aPtr, i32Add(get(aP), i32Mul(i32Add(i32Mul(get(kc), get(mP)), get(i)), i32(4)))),
      ...set(bPtr, i32Add(get(bP), i32Mul(i32Add(i32Mul(get(kc), get(nP)), get(j)), i32(4)))),
      ...set(k, get(kc)),
      ...loop(
        ...body,
        set(aPtr, i32Add(get(aPtr), get(rowA))),
        set(bPtr, i32Add(get(bPtr), get(rowB))),
        set(k, i32Add(get(k), i32(1))),
        brIf(0, i32LtS(get(k), get(kEnd))),
      ),
      ...stores.flat(),
    ];
  };
  /** All row tiles of c for the current column block: 4 rows at a time, then single rows. */
  const rowTiles = (vecs: number): Code => [
    ...set(i, i32(0)),
    ...block(loop(brIf(1, i32GtS(i32Add(get(i), i32(4)), get(mP))), tile(4, vecs), set(i, i32Add(get(i), i32(4))), br(0))),
    ...block(loop(brIf(1, i32GeS(get(i), get(mP))), tile(1, vecs), set(i, i32Add(get(i), i32(1))), br(0))),
  ];
  const code: Code = [
    ...set(rowA, i32Mul(get(mP), i32(4))),
    ...set(rowB, i32Mul(get(nP), i32(4))),
    ...set(kc, i32(0)),
    ...block(
      loop(
        brIf(1, i32GeS(get(kc), get(kP))),
        set(kEnd, i32Select(i32Add(get(kc), i32(ATB_K_CHUNK)), get(kP), i32LtS(i32Add(get(kc), i32(ATB_K_CHUNK)), get(kP)))),
        set(j, i32(0)),
        block(loop(brIf(1, i32GtS(i32Add(get(j), i32(8)), get(nP))), rowTiles(2), set(j, i32Add(get(j), i32(8))), br(0))),
        ifThen(i32LtS(get(j), get(nP)), rowTiles(1)),
        set(kc, i32Add(get(kc), i32(ATB_K_CHUNK))),
        br(0),
      ),
    ),
  ];
  return { exportName: 'atb', fn, code };
}

// ------------------------------------------------------------------ instantiation

function heapMemory(backend: WasmBackendLike): { buffer: ArrayBufferLike } | null {
  if (WA == null) return null;
  const candidates = [backend.wasm.asm?.memory, backend.wasm.wasmMemory];
  for (const m of candidates) if (m != null && m instanceof WA.Memory) return m as { buffer: ArrayBufferLike };
  return null;
}

function instantiate(backend: WasmBackendLike, fns: FnDef[]): Record<string, unknown> | null {
  const memory = heapMemory(backend);
  if (memory == null || WA == null) return null;
  const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
  try {
    const bytes = moduleBytes(fns, shared);
    if (!WA.validate(bytes)) return null;
    return new WA.Instance(new WA.Module(bytes), { env: { memory } }).exports;
  } catch {
    return null;
  }
}

type Fn16 = (...args: number[]) => void;

/** Zero rows for absent inputs, a 1 for an absent mask and a sink row for unwanted outputs, on the heap. */
class Scratch {
  readonly zeros: number;
  readonly one: number;
  readonly sink: number;
  private readonly info;
  constructor(
    private readonly backend: WasmBackendLike,
    units: number,
  ) {
    this.info = backend.makeOutput([10 * units + 4], 'float32');
    const base = floatOffset(backend, this.info);
    const heap = heapF32(backend);
    heap.fill(0, base, base + 10 * units + 4);
    this.zeros = 4 * base;
    this.one = 4 * (base + 5 * units);
    heap[base + 5 * units] = 1;
    this.sink = 4 * (base + 5 * units + 4);
  }
  dispose(): void {
    this.backend.disposeData(this.info.dataId);
  }
}

const cellCache = new WeakMap<object, Map<number, { forward: Fn16; backward: Fn16 } | null>>();

function cellExports(backend: WasmBackendLike, units: number): { forward: Fn16; backward: Fn16 } | null {
  let perBackend = cellCache.get(backend);
  if (!perBackend) cellCache.set(backend, (perBackend = new Map()));
  if (!perBackend.has(units)) {
    const ex = units % 4 === 0 && units > 0 ? instantiate(backend, [forwardFn(units), backwardFn(units)]) : null;
    perBackend.set(units, ex ? { forward: ex.forward as Fn16, backward: ex.backward as Fn16 } : null);
  }
  return perBackend.get(units)!;
}

/**
 * The SIMD cell kernels for `backend`, or null when this runtime cannot run
 * them (no WebAssembly SIMD, or no access to the heap's Memory). Calls with a
 * width that is not a multiple of 4 fall back to the JS code per call.
 */
export function simdLstmKernels(backend: WasmBackendLike): SimdLstmKernels | null {
  if (cellExports(backend, 4) == null) return null; // probe once: SIMD and memory import work
  const ptr = (floatIndex: number, fallback: number) => (floatIndex === NONE ? fallback : 4 * floatIndex);
  return {
    forward(a) {
      const ex = cellExports(backend, a.units);
      if (!ex) throw new Error('simd forward: unsupported width');
      const s = new Scratch(backend, a.units);
      try {
        const row = 4 * a.units;
        ex.forward(
          a.rows,
          4 * a.xp,
          4 * a.xpStride,
          ptr(a.hw, s.zeros),
          a.hw === NONE ? 0 : 4 * row,
          ptr(a.c, s.zeros),
          a.c === NONE ? 0 : row,
          ptr(a.h, s.zeros),
          a.h === NONE ? 0 : row,
          ptr(a.mask, s.one),
          a.mask === NONE ? 0 : 4 * a.maskStride,
          4 * a.hOut,
          4 * a.cOut,
          row,
          ptr(a.cache, s.sink),
          a.cache === NONE ? 0 : 5 * row,
        );
      } finally {
        s.dispose();
      }
    },
    backward(a) {
      const ex = cellExports(backend, a.units);
      if (!ex) throw new Error('simd backward: unsupported width');
      const s = new Scratch(backend, a.units);
      try {
        const row = 4 * a.units;
        const strideOf = (p: number, bytes: number) => (p === NONE ? 0 : bytes);
        ex.backward(
          a.rows,
          4 * a.cache,
          5 * row,
          ptr(a.c, s.zeros),
          strideOf(a.c, row),
          ptr(a.h, s.zeros),
          strideOf(a.h, row),
          ptr(a.dy, s.zeros),
          strideOf(a.dy, 4 * a.dyStride),
          ptr(a.carry, s.zeros),
          strideOf(a.carry, row),
          ptr(a.dhw, s.zeros),
          strideOf(a.dhw, row),
          ptr(a.dc, s.zeros),
          strideOf(a.dc, row),
          ptr(a.mask, s.one),
          strideOf(a.mask, 4 * a.maskStride),
          4 * a.dz,
          4 * row,
          ptr(a.carryOut, s.sink),
          strideOf(a.carryOut, row),
          ptr(a.dcOut, s.sink),
          strideOf(a.dcOut, row),
          a.alpha,
        );
      } finally {
        s.dispose();
      }
    },
  };
}

const commonCache = new WeakMap<object, Record<string, unknown> | null>();

function common(backend: WasmBackendLike): Record<string, unknown> | null {
  if (!commonCache.has(backend)) commonCache.set(backend, instantiate(backend, [columnSumFn(), atbFn()]));
  return commonCache.get(backend)!;
}

/**
 * SIMD column sums over a [rows, cols] float32 block at float index `src` into
 * `dst` (cols % 4 == 0), or null when SIMD is unavailable. Same float32
 * results as the JS loop (each column is accumulated row by row).
 */
export function simdColumnSum(backend: WasmBackendLike): ((rows: number, cols: number, src: number, dst: number) => void) | null {
  const f = common(backend)?.columnSum as Fn16 | undefined;
  return f ? (rows, cols, src, dst) => f(rows, cols, 4 * src, 4 * dst) : null;
}

/**
 * c[M, N] = a[K, M]ᵀ · b[K, N] for float32 blocks at float indices (N % 4 == 0;
 * c is overwritten), or null when SIMD is unavailable. With `accumulate`,
 * c += aᵀ · b instead.
 */
export function simdMatMulTransposeA(
  backend: WasmBackendLike,
): ((K: number, M: number, N: number, a: number, b: number, c: number, accumulate?: boolean) => void) | null {
  const f = common(backend)?.atb as Fn16 | undefined;
  if (!f) return null;
  return (K, M, N, a, b, c, accumulate = false) => {
    if (!accumulate) heapF32(backend).fill(0, c, c + M * N);
    if (K > 0) f(K, M, N, 4 * a, 4 * b, 4 * c);
  };
}
