import { Rng } from "../../src/demo/rng";
import { DotKernel } from "../../src/serving/dots";

describe("SIMD dot-product kernel", () => {
  it.each([3, 8, 16, 80, 81])("equals the dot products computed in JavaScript (dim %i)", (dim) => {
    const rng = new Rng(dim);
    const n = 257;
    const rows = Float32Array.from({ length: n * dim }, () => rng.normal());
    const q = Float64Array.from({ length: dim }, () => rng.normal());
    const kernel = DotKernel.create(rows, n, dim);
    expect(kernel).not.toBeNull(); // Node has WebAssembly SIMD
    kernel!.setQuery(q);
    kernel!.out.fill(-1);
    kernel!.scan(10, 200);
    for (let i = 0; i < n; i++) {
      let want = 0;
      for (let j = 0; j < dim; j++) want += rows[i * dim + j] * Math.fround(q[j]);
      if (i < 10 || i >= 200) expect(kernel!.out[i]).toBe(-1);
      else expect(kernel!.out[i]).toBeCloseTo(want, 4);
    }
  });

  it("can be turned off (RUBATO_SIMD_DOTS=0), for the JavaScript fallback", () => {
    process.env.RUBATO_SIMD_DOTS = "0";
    try {
      expect(DotKernel.create(new Float32Array(16), 2, 8)).toBeNull();
    } finally {
      delete process.env.RUBATO_SIMD_DOTS;
    }
  });
});
