/**
 * Chooses and initialises the TensorFlow.js backend (docs/kernels.md, "Choosing the backend").
 *
 * Order: tfjs-backend-wasm with our fast training kernels, else the pure-JS
 * cpu backend. `RUBATO_TF_BACKEND=wasm|cpu` forces one (and fails loudly if
 * it cannot start); the `preferred` argument only moves one to the front of
 * the order.
 *
 * tfjs-node (native TensorFlow) is opt-in: only `RUBATO_TF_BACKEND=node`
 * tries it, and when it cannot start (it is an optional dependency that does
 * not install everywhere, and its native module loads in one thread of a
 * process only, while training runs in threads) that is logged with the
 * reason and wasm is used instead. Checkpoints record the backend, and a run
 * does not resume on another one unless forced (src/train/checkpoint.ts).
 *
 * Wasm in Node: tfjs only ever loads the single-threaded binaries there
 * (its multithread flag is hard-wired to false under Node, and its worker
 * bootstrap uses blob: URLs that Node cannot start). We load the
 * threaded-SIMD binary ourselves when more than one XNNPACK thread would
 * result, and always smoke-test the loaded binary, falling back
 * threaded-SIMD -> SIMD -> plain. The .wasm files come from node_modules, so
 * no network is needed.
 *
 * It also registers tfjs-core's gradients (see kernels/gradients.ts), which
 * the CommonJS build of tfjs-core leaves out.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { isMainThread } from 'worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { fastKernelsRegistered, registerFastKernels, registerTfjsGradients, unregisterFastKernels } from './kernels';

export type BackendName = 'node' | 'wasm' | 'cpu';
export type WasmVariant = 'threaded-simd' | 'simd' | 'plain';

export interface BackendInfo {
  name: BackendName;
  /** The tfjs backend name actually active ('tensorflow' for tfjs-node). */
  tfBackend: string;
  /** XNNPACK threads (wasm only). */
  threads?: number;
  wasmVariant?: WasmVariant;
  /** Names of the wasm kernels replaced by our fast versions. */
  fastKernels?: string[];
}

export interface InitBackendOptions {
  /** Receives one line naming the chosen backend, plus fallbacks tried. Default: console.info. */
  logger?: (message: string) => void;
  /** Register the fast wasm kernels (default true; env RUBATO_WASM_FAST_KERNELS=0 disables). */
  fastKernels?: boolean;
  /**
   * XNNPACK threads for wasm (env RUBATO_WASM_THREADS). Default: auto, which
   * loads the threaded binary only where tfjs would use more than one thread
   * (it uses half the logical cores, at most 8).
   */
  threads?: number;
}

/** The default order; 'node' only with RUBATO_TF_BACKEND=node. */
const ORDER: BackendName[] = ['wasm', 'cpu'];
const WASM_PRIORITY = 2; // what tfjs-backend-wasm registers with

let current: BackendInfo | null = null;
/** What the selection of `current` was asked for (node, when tfjs-node fell back to wasm). */
let currentWanted: BackendName | undefined;
let pending: Promise<BackendInfo> | null = null;

/** The backend chosen by the last successful initBackend(), if any. */
export function currentBackend(): BackendInfo | null {
  return current;
}

function parseBackendName(value: string | undefined, source: string): BackendName | undefined {
  if (value == null || value.trim() === '') return undefined;
  const v = value.trim().toLowerCase();
  if (v === 'tensorflow') return 'node';
  if (v === 'node' || v === 'wasm' || v === 'cpu') return v;
  throw new Error(`${source}: unknown backend '${value}' (expected node, wasm or cpu)`);
}

/**
 * Initialises the backend once per process and returns what runs. Calling it
 * again returns the same result unless a different backend is asked for, in
 * which case it switches (tests use this to compare backends).
 */
export async function initBackend(preferred?: BackendName, options: InitBackendOptions = {}): Promise<BackendInfo> {
  const forced = parseBackendName(process.env.RUBATO_TF_BACKEND, 'RUBATO_TF_BACKEND');
  // tfjs-core's CommonJS build ships without gradients; training needs them on every backend.
  registerTfjsGradients();
  const log = options.logger ?? ((m: string) => console.info(m));
  let wanted = forced ?? preferred;
  if (wanted === 'node' && forced !== 'node') {
    log('tfjs-node is opt-in (RUBATO_TF_BACKEND=node); using the default order (wasm, then cpu)');
    wanted = undefined;
  }
  while (pending) await pending.catch(() => undefined);
  if (current && (wanted == null || wanted === current.name || wanted === currentWanted) && tf.getBackend() === current.tfBackend) {
    return current;
  }
  // A forced node backend falls back (see select); a forced wasm or cpu does not.
  pending = select(wanted, forced != null && forced !== 'node', options);
  try {
    current = await pending;
    currentWanted = wanted;
    return current;
  } finally {
    pending = null;
  }
}

async function select(wanted: BackendName | undefined, strict: boolean, options: InitBackendOptions): Promise<BackendInfo> {
  const log = options.logger ?? ((m: string) => console.info(m));
  const order = strict ? [wanted!] : wanted ? [wanted, ...ORDER.filter((b) => b !== wanted)] : ORDER;
  const failures: string[] = [];
  for (const name of order) {
    try {
      const info = await startBackend(name, options, log);
      log(`tfjs backend: ${describe(info)}`);
      return info;
    } catch (err) {
      // (an Error from another realm, e.g. jest's require, is no instanceof Error here)
      const message = (err as { message?: unknown } | null)?.message;
      const reason = (typeof message === 'string' ? message : String(err)).split('\n')[0];
      if (strict) throw new Error(`RUBATO_TF_BACKEND=${name}, but it failed to start: ${reason}`, { cause: err });
      failures.push(`${name}: ${reason}`);
      if (name === 'node') {
        const notInstalled = (err as { code?: unknown } | null)?.code === 'MODULE_NOT_FOUND';
        const why = notInstalled
          ? `not installed: ${reason}`
          : isMainThread
            ? reason
            : `${reason}; its native module loads in one thread of a process only, and this is a worker thread`;
        log(`RUBATO_TF_BACKEND=node, but tfjs-node is unavailable (${why}); using ${order[1]} instead`);
      } else log(`tfjs backend ${name} unavailable (${reason}); trying the next one`);
    }
  }
  throw new Error(`No TensorFlow.js backend could start (${failures.join('; ')})`);
}

function describe(info: BackendInfo): string {
  if (info.name !== 'wasm') return info.name === 'node' ? 'node (tfjs-node, native TensorFlow)' : 'cpu (pure JS)';
  const kernels = info.fastKernels?.length ? `fast kernels: ${info.fastKernels.join(', ')}` : 'stock kernels';
  return `wasm (${info.wasmVariant}, ${info.threads} thread${info.threads === 1 ? '' : 's'}, ${kernels})`;
}

async function startBackend(name: BackendName, options: InitBackendOptions, log: (m: string) => void): Promise<BackendInfo> {
  if (name === 'node') return startNode();
  if (name === 'cpu') {
    await import('@tensorflow/tfjs-backend-cpu');
    if (!(await tf.setBackend('cpu'))) throw new Error('tf.setBackend("cpu") failed');
    // Silence tfjs-backend-cpu's one-time "install tfjs-node" banner: we log our own choice.
    (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
    return { name: 'cpu', tfBackend: 'cpu' };
  }
  return startWasm(options, log);
}

async function startNode(): Promise<BackendInfo> {
  // Optional dependency: a plain require inside try/catch (via select) so
  // that its absence is an ordinary fallback, not a module-load error.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require('@tensorflow/tfjs-node');
  if (tf.findBackendFactory('tensorflow') == null) {
    throw new Error('@tensorflow/tfjs-node loaded against another copy of @tensorflow/tfjs-core');
  }
  if (!(await tf.setBackend('tensorflow'))) throw new Error('tf.setBackend("tensorflow") failed');
  return { name: 'node', tfBackend: 'tensorflow' };
}

// ---------------------------------------------------------------- wasm ---

type WasmPackage = typeof import('@tensorflow/tfjs-backend-wasm');

function wasmPackageRoot(): string {
  return path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
}

function envFlag(name: string): boolean | undefined {
  const v = process.env[name];
  if (v == null || v === '') return undefined;
  return !['0', 'false', 'no', 'off'].includes(v.toLowerCase());
}

function requestedThreads(options: InitBackendOptions): number | undefined {
  if (options.threads != null) return options.threads;
  const env = process.env.RUBATO_WASM_THREADS;
  if (env == null || env === '') return undefined;
  const n = Number(env);
  if (!Number.isInteger(n) || n < 1) throw new Error(`RUBATO_WASM_THREADS must be a positive integer, got '${env}'`);
  return n;
}

async function startWasm(options: InitBackendOptions, log: (m: string) => void): Promise<BackendInfo> {
  const wasm: WasmPackage = await import('@tensorflow/tfjs-backend-wasm');
  const root = wasmPackageRoot();
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  const threads = requestedThreads(options);
  // tfjs caps XNNPACK at half the logical cores, so the threaded binary only
  // pays off from 4 cores, unless asked for explicitly.
  const wantThreaded = threads != null ? threads > 1 : os.cpus().length >= 4;
  const variants: WasmVariant[] = [];
  if (simd && wantThreaded) variants.push('threaded-simd');
  if (simd) variants.push('simd');
  variants.push('plain');

  const stockFactory = tf.findBackendFactory('wasm');
  let lastError: unknown = null;
  for (const variant of variants) {
    try {
      await loadWasmVariant(wasm, root, variant, stockFactory, threads);
      smokeTest();
      const useFast = options.fastKernels ?? envFlag('RUBATO_WASM_FAST_KERNELS') ?? true;
      if (!useFast && fastKernelsRegistered()) unregisterFastKernels();
      const fastKernels = useFast ? registerFastKernels() : [];
      return { name: 'wasm', tfBackend: 'wasm', threads: wasm.getThreadsCount(), wasmVariant: variant, fastKernels };
    } catch (err) {
      lastError = err;
      log(`wasm ${variant} binary failed (${err instanceof Error ? err.message : String(err)})`);
    }
  }
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}

/** (Re)registers the 'wasm' backend for one binary variant and activates it. */
async function loadWasmVariant(
  wasm: WasmPackage,
  root: string,
  variant: WasmVariant,
  stockFactory: ReturnType<typeof tf.findBackendFactory>,
  threads: number | undefined,
): Promise<void> {
  // An already initialised instance of the right variant is reused (switching back from cpu).
  const instance = (tf.engine() as unknown as { registry: Record<string, { rubatoVariant?: WasmVariant }> }).registry.wasm;
  if (instance != null && instance.rubatoVariant === variant) {
    if (!(await tf.setBackend('wasm'))) throw new Error('tf.setBackend("wasm") failed');
    return;
  }
  if (tf.findBackendFactory('wasm') != null) tf.removeBackend('wasm');
  wasm.setThreadsCount(threads ?? -1);
  let factory: () => Promise<tf.KernelBackend>;
  if (variant === 'threaded-simd') {
    factory = async () => {
      const mod = await loadThreadedModule(root, threads);
      const backend = new wasm.BackendWasm(mod as never); // creates XNNPACK's thread pool
      // Emscripten ref()s a worker while its pthread runs; the pool threads
      // never finish, so without this the process could never exit.
      for (const worker of (mod as EmscriptenThreaded).PThread?.runningWorkers ?? []) worker.unref?.();
      return tagVariant(backend, variant);
    };
  } else {
    // The stock loader: SIMD or not according to the flag, binaries from dist/.
    tf.env().set('WASM_HAS_SIMD_SUPPORT', variant === 'simd');
    wasm.setWasmPaths(path.join(root, 'dist') + path.sep);
    factory = async () => tagVariant((await stockFactory()) as tf.KernelBackend, variant);
  }
  tf.registerBackend('wasm', factory, WASM_PRIORITY);
  if (!(await tf.setBackend('wasm'))) {
    tf.removeBackend('wasm');
    tf.registerBackend('wasm', stockFactory, WASM_PRIORITY);
    throw new Error('backend initialisation failed');
  }
}

function tagVariant(backend: tf.KernelBackend, variant: WasmVariant): tf.KernelBackend {
  (backend as unknown as { rubatoVariant: WasmVariant }).rubatoVariant = variant;
  return backend;
}

/** A product and a reduction with known answers: catches a binary that loads but misbehaves. */
function smokeTest(): void {
  const got = tf.tidy(() => {
    const a = tf.tensor2d([1, 2, 3, 4], [2, 2]);
    const b = tf.tensor2d([5, 6, 7, 8], [2, 2]);
    return [...tf.matMul(a, b).dataSync(), ...tf.sum(a, 0).dataSync()];
  });
  const want = [19, 22, 43, 50, 4, 6];
  if (got.some((v, i) => v !== want[i])) throw new Error(`smoke test gave [${got}] instead of [${want}]`);
}

interface EmscriptenThreaded {
  PThread?: { runningWorkers?: { unref?: () => void }[] };
}

interface EmscriptenFactory {
  (config: Record<string, unknown>): Promise<Record<string, unknown> & { cwrap: (...args: unknown[]) => unknown }>;
}

/**
 * Loads the threaded-SIMD Emscripten module in Node. Its pthread workers
 * need a real file: tfjs ships the worker source as a JS string, which we
 * write once to the temp dir, and the main script path for the workers to
 * import.
 *
 * tfjs caps XNNPACK at half the logical cores (assuming hyper-threads), read
 * from os.cpus() once while the module initialises. When more threads are
 * asked for explicitly we let os.cpus() report enough cores for that long.
 * (Measured on a 2-core machine: 2 threads double matMul throughput.)
 */
async function loadThreadedModule(root: string, threads: number | undefined): Promise<unknown> {
  // The real module object (an `import * as` namespace cannot be assigned to).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const osModule = require('os') as typeof os;
  const realCpus = osModule.cpus;
  if (threads != null && threads > Math.floor(realCpus().length / 2)) {
    const cpus = realCpus();
    osModule.cpus = () => Array.from({ length: 2 * threads }, (_, i) => cpus[i % cpus.length]);
  }
  try {
    return await instantiateThreaded(root);
  } finally {
    osModule.cpus = realCpus;
  }
}

async function instantiateThreaded(root: string): Promise<unknown> {
  const mainScript = path.join(root, 'wasm-out', 'tfjs-backend-wasm-threaded-simd.js');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const factory = require(mainScript) as EmscriptenFactory;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { wasmWorkerContents } = require(path.join(root, 'wasm-out', 'tfjs-backend-wasm-threaded-simd.worker.js')) as {
    wasmWorkerContents: string;
  };
  // The string came from a template literal, so its "\n" escapes inside JS
  // string literals are real newlines now; re-escape them as tfjs does.
  const source = wasmWorkerContents.replace(/\n/g, '\\n');
  const version = (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version;
  const workerFile = path.join(os.tmpdir(), `rubato-tfjs-wasm-${version}-worker.cjs`);
  if (!fs.existsSync(workerFile) || fs.readFileSync(workerFile, 'utf8') !== source) {
    const tmp = `${workerFile}.${process.pid}`;
    fs.writeFileSync(tmp, source);
    fs.renameSync(tmp, workerFile);
  }
  let timer: NodeJS.Timeout | undefined;
  // If the workers never report "loaded" the factory promise never settles;
  // a ref'd timer both keeps the process alive and turns that into an error.
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('threaded wasm module did not start within 20 s')), 20_000);
  });
  let aborted: (reason: unknown) => void = () => undefined;
  const abort = new Promise<never>((_, reject) => (aborted = reject));
  try {
    const mod = await Promise.race([
      factory({
        locateFile: (file: string) => (file.endsWith('.worker.js') ? workerFile : path.join(root, 'dist', file)),
        mainScriptUrlOrBlob: mainScript,
        onAbort: (what: unknown) => aborted(new Error(`wasm aborted: ${String(what)}`)),
      }),
      timeout,
      abort,
    ]);
    // The bridge tfjs's own init() attaches (backend_wasm.js).
    mod.tfjs = {
      init: mod.cwrap('init', null, []),
      initWithThreadsCount: mod.cwrap('init_with_threads_count', null, ['number']),
      getThreadsCount: mod.cwrap('get_threads_count', 'number', []),
      registerTensor: mod.cwrap('register_tensor', null, ['number', 'number', 'number']),
      disposeData: mod.cwrap('dispose_data', null, ['number']),
      dispose: mod.cwrap('dispose', null, []),
    };
    return mod;
  } finally {
    clearTimeout(timer);
  }
}
