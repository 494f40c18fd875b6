/**
 * Registers tfjs-core's own gradient definitions in plain Node (CommonJS).
 *
 * tfjs-core's CommonJS build (`tf-core.node.js`) registers no gradients; the
 * documented fix, `import '@tensorflow/tfjs-core/dist/register_all_gradients'`,
 * only works under a bundler: those dist files are ES modules with
 * extensionless relative imports, which neither Node nor jest can load. So
 * we read tfjs-core's `dist/gradients/*.js` ourselves and run each with a
 * tiny ESM-to-function shim that binds its imports to the already-loaded
 * public API (`tf`, `tf.util`, `tf.backend_util`, ...). The gradient code is
 * exactly the shipped one; nothing is copied into this repository.
 *
 * A handful of gradients (conv/pool/LRN) import internal ops that the
 * public API lacks; they are skipped and listed in the result.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';

type Namespace = Record<string, unknown>;

export interface GradientRegistration {
  registered: string[];
  skipped: { file: string; reason: string }[];
}

let result: GradientRegistration | null = null;

function distDir(): string {
  return path.join(path.dirname(require.resolve('@tensorflow/tfjs-core/package.json')), 'dist');
}

/** The public namespace standing in for a dist module (path relative to dist/, no extension). */
function namespaceFor(modulePath: string): Namespace {
  const t = tf as unknown as Namespace;
  switch (modulePath) {
    case 'engine':
      return { ENGINE: tf.engine() };
    case 'util':
      return tf.util as unknown as Namespace;
    case 'ops/broadcast_util':
      return tf.broadcast_util as unknown as Namespace;
    case 'ops/slice_util':
      return tf.slice_util as unknown as Namespace;
    case 'ops/axis_util':
    case 'ops/conv_util':
    case 'ops/selu_util':
    case 'ops/reduce_util':
      return tf.backend_util as unknown as Namespace;
    default:
      return t;
  }
}

function lookup(modulePath: string, name: string): unknown {
  const candidates = [namespaceFor(modulePath), tf, tf.backend_util, tf.util] as unknown as Namespace[];
  for (const ns of candidates) if (ns[name] !== undefined) return ns[name];
  throw new Error(`'${name}' from '${modulePath}' is not in the public tfjs-core API`);
}

const IMPORT_NAMED = /^import\s*\{([^}]*)\}\s*from\s*'([^']+)';/gm;
const IMPORT_STAR = /^import\s*\*\s*as\s+(\w+)\s+from\s*'([^']+)';/gm;
const EXPORT_DECL = /^export\s+(const|function)\s+(\w+)/gm;

/** Loads one ESM dist file as a function of its imports; returns its exports. */
function loadModule(file: string, cache: Map<string, Namespace>): Namespace {
  const cached = cache.get(file);
  if (cached) return cached;
  const dist = distDir();
  const modulePathOf = (spec: string) => path.relative(dist, path.resolve(path.dirname(file), spec)).split(path.sep).join('/');
  const bindings: string[] = [];
  const values: unknown[] = [];
  const bind = (local: string, value: unknown) => {
    bindings.push(local);
    values.push(value);
  };
  let code = fs.readFileSync(file, 'utf8').replace(/^\/\/# sourceMappingURL=.*$/m, '');
  code = code.replace(IMPORT_NAMED, (_, names: string, spec: string) => {
    const modulePath = modulePathOf(spec);
    const local = spec.startsWith('./') && file.includes(`${path.sep}gradients${path.sep}`);
    const source = local ? loadModule(path.resolve(path.dirname(file), `${spec}.js`), cache) : null;
    for (const item of names.split(',').map((s) => s.trim()).filter(Boolean)) {
      const [imported, alias] = item.split(/\s+as\s+/);
      bind(alias ?? imported, source ? source[imported] : lookup(modulePath, imported));
    }
    return '';
  });
  code = code.replace(IMPORT_STAR, (_, name: string, spec: string) => {
    bind(name, namespaceFor(modulePathOf(spec)));
    return '';
  });
  const exported: string[] = [];
  code = code.replace(EXPORT_DECL, (_, kind: string, name: string) => {
    exported.push(name);
    return `${kind} ${name}`;
  });
  code += `\nreturn { ${exported.join(', ')} };\n//# sourceURL=${file}`;
  // new Function (not vm) so the code runs in the caller's realm (jest sandboxes globals).
  const exports = new Function(...bindings, code)(...values) as Namespace;
  cache.set(file, exports);
  return exports;
}

/**
 * Registers every tfjs-core gradient that can be bound to the public API,
 * once per process (later calls return the first result). Gradients already
 * registered by someone else are left alone.
 */
export function registerTfjsGradients(): GradientRegistration {
  if (result) return result;
  const dir = path.join(distDir(), 'gradients');
  const cache = new Map<string, Namespace>();
  const out: GradientRegistration = { registered: [], skipped: [] };
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('_grad.js'));
  for (const f of files.sort()) {
    try {
      const exports = loadModule(path.join(dir, f), cache);
      for (const value of Object.values(exports)) {
        const config = value as tf.GradConfig;
        if (config == null || typeof config.gradFunc !== 'function' || typeof config.kernelName !== 'string') continue;
        if (tf.getGradient(config.kernelName) == null) tf.registerGradient(config);
        out.registered.push(config.kernelName);
      }
    } catch (err) {
      out.skipped.push({ file: f, reason: err instanceof Error ? err.message : String(err) });
    }
  }
  result = out;
  return out;
}
