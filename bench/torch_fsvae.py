"""The FS-VAE graph of bench/train.ts in PyTorch, on one thread, for a side-by-side throughput figure.

    OMP_NUM_THREADS=1 python3 bench/torch_fsvae.py [--steps=N] [--repeats=N] [--infer-repeats=N]

Same shapes: w = 5, d_s = 82, d_n = 6, K = 80, two LSTM layers of 128 units
(LeakyReLU on each layer's output, dropout 0.1 between layers and after the
last), a 2 x 64 slow encoder, a 2 x 128 decoder, MSE + beta * KL, Adam;
training at batch 512, the user embedding (both encoders, mu and sigma) at
batch 4096. The padding mask of the tfjs model is not reproduced: nn.LSTM
runs over all w steps (the FLOPs are the same). Prints
`torch_train_samples_per_s N` and `torch_infer_per_s N`.

PyTorch is not a dependency of the project; on Debian: apt-get install -y python3-torch.
"""

import statistics
import sys
import time

import torch
from torch import nn

W, D_S, D_N, K, DIM = 5, 82, 6, 80, 80
TRAIN_BATCH, INFER_BATCH = 512, 4096


def arg(name, default):
    for a in sys.argv[1:]:
        if a.startswith(f"--{name}="):
            return int(a.split("=", 1)[1])
    return default


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
    torch.set_num_threads(1)
    torch.manual_seed(1)
    steps, repeats, infer_repeats = arg("steps", 20), arg("repeats", 5), arg("infer-repeats", 7)
    model = FsVae()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    x_s, x_n, y = torch.randn(TRAIN_BATCH, W, D_S), torch.randn(TRAIN_BATCH, D_N), torch.randn(TRAIN_BATCH, DIM)

    def step():
        opt.zero_grad()
        model.loss(x_s, x_n, y).backward()
        opt.step()

    model.train()
    for _ in range(3):
        step()
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        rates.append(steps * TRAIN_BATCH / (time.perf_counter() - t0))
    print(f"torch_train_samples_per_s {round(statistics.median(rates))}")

    model.eval()
    xi_s, xi_n = torch.randn(INFER_BATCH, W, D_S), torch.randn(INFER_BATCH, D_N)
    with torch.no_grad():
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
