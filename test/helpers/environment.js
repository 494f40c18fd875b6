// jest runs each test file in its own vm context with its own Uint8Array, ArrayBuffer
// and friends. PGlite (its extension loader and COPY blobs) and tfjs' wasm backend
// check `instanceof Uint8Array` on buffers made by Node's core, which belong to the
// outer realm; sharing those constructors makes the checks hold as they do in Node.
const NodeEnvironment = require("jest-environment-node").TestEnvironment;

class RealmSharingEnvironment extends NodeEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of ["Uint8Array", "ArrayBuffer", "DataView", "Blob", "TextEncoder", "TextDecoder"]) {
      this.global[name] = globalThis[name];
    }
  }
}
module.exports = RealmSharingEnvironment;
