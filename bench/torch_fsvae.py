"""The FS-VAE graph of bench/train.ts in PyTorch, on one thread, for a side-by-side throughput figure.

    python3 bench/torch_fsvae.py [--steps=N] [--repeats=N] [--infer-repeats=N]

Same shapes: w = 5, d_s = 82, d_n = 6, K = 80, two LSTM layers of 128 units
(LeakyReLU on each layer's output, dropout 0.1 between layers and after the
last), a 2 x 64 slow encoder, a 2 x 128 decoder, MSE + beta * KL, Adam;
training at batch 512, the user embedding (both encoders, mu and sigma) at
batch 4096. The padding mask of the tfjs model is not reproduced: nn.LSTM
runs over all w steps (the FLOPs are the same). Prints
`torch_train_samples_per_s N` and `torch_infer_per_s N`, and `# ` lines
describing the setup (torch version, BLAS library, threads).

PyTorch is not a dependency of the project; on Debian: apt-get install -y python3-torch.

Two things make Debian's torch 1.13 several times slower than it should be,
and both are handled or reported here:

- BLAS. Debian's libtorch links the generic libblas.so.3, and installing
  python3-torch pulls in only the reference (netlib) implementation, which
  multiplies at ~6 GFLOP/s on this machine against ~28-30 for OpenBLAS on one
  thread. That alone held this script at ~750 training samples/s.
  `apt-get install -y libopenblas0-pthread` switches the libblas.so.3
  alternative to OpenBLAS. We cannot change that from here, so we print which
  library was loaded and a warning line when it is the reference one.
- malloc. nn.LSTM's backward allocates and frees multi-megabyte buffers
  every step; with glibc's defaults each one is a fresh mmap, so the step
  spends its time in page faults (aten::cat and copy_ dominated the profile).
  Raising glibc's mmap and trim thresholds (mallopt, below, before torch
  allocates anything) keeps them in the heap: ~1.3-1.5x training, ~2.5x
  inference here.

Threads: one by default, like the tfjs benchmark; --threads=N for N (bench:train
also runs it on every core, to compare with data-parallel training at its best).
OpenBLAS and OpenMP read their thread counts when they load, so the environment
is set before `import torch` (bench:train sets it to N), and
torch.set_num_threads(N) covers ATen's own pool. --train-only skips inference.
"""

import ctypes
import os
import statistics
import sys
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")


def _tune_malloc():
    """Keep large freed blocks in glibc's heap instead of returning them to the OS each time."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
    return bool(libc.mallopt(M_MMAP_THRESHOLD, 1 << 30)) and bool(libc.mallopt(M_TRIM_THRESHOLD, 1 << 30))


MALLOC_TUNED = _tune_malloc()

import torch  # noqa: E402
from torch import nn  # noqa: E402

W, D_S, D_N, K, DIM = 5, 82, 6, 80, 80
TRAIN_BATCH, INFER_BATCH = 512, 4096


def arg(name, default):
    for a in sys.argv[1:]:
        if a.startswith(f"--{name}="):
            return int(a.split("=", 1)[1])
    return default


def blas_library():
    """The file that provides libblas.so.3 in this process (torch has loaded it by now), or None."""
    try:
        with open("/proc/self/maps") as maps:
            paths = [line.split()[-1] for line in maps if "/" in line]
    except OSError:
        return None
    for pattern in ("libblas.so", "libopenblas", "libmkl_rt", "libblis"):
        for path in paths:
            if pattern in os.path.basename(path):
                return os.path.realpath(path)
    return None


class FsVae(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm0 = nn.LSTM(D_S, 128, batch_first=True)
        self.lstm1 = nn.LSTM(128, 128, batch_first=True)
        self.act = nn.LeakyReLU(0.2)
        self.drop = nn.Dropout(0.1)
        self.mu_s = nn.Linear(128, K)
        self.log_sigma_s = nn.Linear(128, K)
        self.slow = nn.Sequential(nn.Linear(D_N, 64), nn.LeakyReLU(0.2), nn.Dropout(0.1), nn.Linear(64, 64), nn.LeakyReLU(0.2), nn.Dropout(0.1))
        self.mu_n = nn.Linear(64, K)
        self.log_sigma_n = nn.Linear(64, K)
        self.decoder = nn.Sequential(
            nn.Linear(2 * K, 128), nn.LeakyReLU(0.2), nn.Dropout(0.1), nn.Linear(128, 128), nn.LeakyReLU(0.2), nn.Dropout(0.1), nn.Linear(128, DIM)
        )

    def encode(self, x_s, x_n):
        h, _ = self.lstm0(x_s)
        h, _ = self.lstm1(self.drop(self.act(h)))
        h = self.drop(self.act(h[:, -1]))
        g = self.slow(x_n)
        return self.mu_s(h), self.log_sigma_s(h), self.mu_n(g), self.log_sigma_n(g)

    def loss(self, x_s, x_n, y, beta=0.5):
        mu_s, ls_s, mu_n, ls_n = self.encode(x_s, x_n)
        z_s = mu_s + torch.randn_like(mu_s) * ls_s.exp()
        z_n = mu_n + torch.randn_like(mu_n) * ls_n.exp()
        y_hat = self.decoder(torch.cat([z_s, z_n], 1))
        rec = ((y - y_hat) ** 2).sum(1).mean()
        kl = sum((0.5 * (mu**2 + (2 * ls).exp() - 1) - ls).mean(0).sum() for mu, ls in ((mu_s, ls_s), (mu_n, ls_n)))
        return rec + beta * kl


def main():
    threads = arg("threads", 1)
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    steps, repeats, infer_repeats = arg("steps", 20), arg("repeats", 5), arg("infer-repeats", 7)
    model = FsVae()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    x_s, x_n, y = torch.randn(TRAIN_BATCH, W, D_S), torch.randn(TRAIN_BATCH, D_N), torch.randn(TRAIN_BATCH, DIM)

    def step():
        opt.zero_grad(set_to_none=True)
        model.loss(x_s, x_n, y).backward()
        opt.step()

    model.train()
    for _ in range(3):
        step()
    blas = blas_library()
    params = sum(p.numel() for p in model.parameters())
    print(
        f"# torch {torch.__version__}, {torch.get_num_threads()} thread(s), BLAS {blas or 'unknown'}, "
        f"malloc thresholds {'raised' if MALLOC_TUNED else 'default'}, dtype {torch.get_default_dtype()}, {params:,} parameters"
    )
    if blas and "/blas/" in blas and "openblas" not in blas:
        print("# torch WARNING: reference (netlib) BLAS; install OpenBLAS for a fair peer: apt-get install -y libopenblas0-pthread")
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        rates.append(steps * TRAIN_BATCH / (time.perf_counter() - t0))
    print(f"torch_train_samples_per_s {round(statistics.median(rates))}")
    if "--train-only" in sys.argv:
        return

    model.eval()
    xi_s, xi_n = torch.randn(INFER_BATCH, W, D_S), torch.randn(INFER_BATCH, D_N)
    with torch.inference_mode():
        model.encode(xi_s, xi_n)
        rates = []
        for _ in range(infer_repeats):
            t0 = time.perf_counter()
            mu_s, ls_s, mu_n, ls_n = model.encode(xi_s, xi_n)
            torch.cat([mu_s, mu_n], 1), torch.cat([ls_s.exp(), ls_n.exp()], 1)
            rates.append(INFER_BATCH / (time.perf_counter() - t0))
    print(f"torch_infer_per_s {round(statistics.median(rates))}")


if __name__ == "__main__":
    main()
