#!/usr/bin/env python3
"""The reference models of `cargo xtask bench` in plain PyTorch, for a side-by-side comparison.

Trains one model for one epoch on MNIST (batch 128, Adam, lr 1e-3) the way a short PyTorch
script would (the data as one tensor in memory, shuffled indices each epoch), then encodes
the test set at batch 1000 (warm, as criterion times ours: one untimed pass, then the mean
of five timed ones), and prints one JSON line: images/s for training and inference, and the
peak resident memory. With --matmul it prints the GFLOP/s of a large f32 matrix
product instead (the machine's practical peak).

Run by `cargo xtask bench --pytorch`, which sets OMP_WAIT_POLICY=PASSIVE (PyTorch's OpenMP
threads otherwise spin and steal the other process's cores on a small machine).
"""

import argparse
import gzip
import json
import resource
import struct
import sys
import time
import warnings
from pathlib import Path

# torch warns at import when NumPy is missing; this script does not use NumPy.
warnings.filterwarnings("ignore", message=".*NumPy.*")
import torch  # noqa: E402
from torch import nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402


def read_idx(path: Path) -> torch.Tensor:
    raw = gzip.decompress(path.read_bytes())
    if raw[0] != 0 or raw[1] != 0 or raw[2] != 8:
        sys.exit(f"{path}: not an unsigned-byte IDX file")
    ndims = raw[3]
    dims = struct.unpack(f">{ndims}I", raw[4 : 4 + 4 * ndims])
    data = torch.frombuffer(bytearray(raw[4 + 4 * ndims :]), dtype=torch.uint8)
    return data.reshape(dims)


def load_images(root: Path, split: str, limit: int | None) -> torch.Tensor:
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(root / "mnist" / f"{prefix}-images-idx3-ubyte.gz")
    if limit is not None:
        images = images[:limit]
    return images.reshape(images.shape[0], 784).float() / 255.0


class MlpVae(nn.Module):
    """784-400-20 Bernoulli VAE (PyTorch's examples/vae)."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.head = nn.Linear(400, 40)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        mean, log_variance = self.head(F.relu(self.fc1(x))).chunk(2, dim=1)
        return mean, log_variance

    def loss(self, x):
        mean, log_variance = self.encode(x)
        z = mean + torch.randn_like(mean) * torch.exp(0.5 * log_variance)
        logits = self.fc4(F.relu(self.fc3(z)))
        reconstruction = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
        kl = -0.5 * torch.sum(1 + log_variance - mean.pow(2) - log_variance.exp())
        return (reconstruction + kl) / x.shape[0]


class DeepAe(nn.Module):
    """784-1000-500-250-30 autoencoder with ReLU hidden layers and BCE."""

    def __init__(self):
        super().__init__()
        widths = [784, 1000, 500, 250, 30]
        self.encoder = self._mlp(widths)
        self.decoder = self._mlp(widths[::-1])

    @staticmethod
    def _mlp(widths):
        layers = []
        for i, (a, b) in enumerate(zip(widths, widths[1:])):
            layers.append(nn.Linear(a, b))
            if i < len(widths) - 2:
                layers.append(nn.ReLU())
        return nn.Sequential(*layers)

    def encode(self, x):
        return self.encoder(x)

    def loss(self, x):
        logits = self.decoder(self.encoder(x))
        return F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / x.shape[0]


class ConvAe(nn.Module):
    """Conv 1->32->64 (kernel 4, stride 2), Linear 3136->16, mirrored; BCE."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 4, stride=2, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 4, stride=2, padding=1)
        self.to_code = nn.Linear(3136, 16)
        self.from_code = nn.Linear(16, 3136)
        self.up1 = nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1)
        self.up2 = nn.ConvTranspose2d(32, 1, 4, stride=2, padding=1)

    def encode(self, x):
        h = F.relu(self.conv1(x.reshape(-1, 1, 28, 28)))
        h = F.relu(self.conv2(h))
        return self.to_code(h.flatten(1))

    def loss(self, x):
        h = F.relu(self.from_code(self.encode(x))).reshape(-1, 64, 7, 7)
        logits = self.up2(F.relu(self.up1(h))).flatten(1)
        return F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / x.shape[0]


# Timed passes of the encoder over the test set.
ENCODE_PASSES = 5

MODELS = {"mlp-vae": MlpVae, "deep-ae": DeepAe, "conv-ae": ConvAe}


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def bench_model(args) -> dict:
    torch.manual_seed(0)
    train = load_images(args.datasets, "train", args.limit)
    test = load_images(args.datasets, "test", None)
    device = torch.device(args.device)
    train, test = train.to(device), test.to(device)
    model = MODELS[args.model]().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    n = train.shape[0]
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    started = time.perf_counter()
    loss = torch.zeros(())
    for _ in range(0 if args.encode_only else args.epochs):
        order = torch.randperm(n, device=device)
        for start in range(0, n, args.batch_size):
            batch = train[order[start : start + args.batch_size]]
            optimizer.zero_grad(set_to_none=True)
            loss = model.loss(batch)
            loss.backward()
            optimizer.step()
    sync()
    train_seconds = time.perf_counter() - started
    if not torch.isfinite(loss):
        sys.exit(f"{args.model}: the loss is not finite ({loss.item()})")
    # The encoder is timed warm, as criterion times ours: one untimed pass over the test set,
    # then ENCODE_PASSES timed ones (10,000 images each, batch 1000).
    with torch.no_grad():
        for start in range(0, test.shape[0], 1000):
            model.encode(test[start : start + 1000])
        sync()
        started = time.perf_counter()
        for _ in range(ENCODE_PASSES):
            for start in range(0, test.shape[0], 1000):
                model.encode(test[start : start + 1000])
        sync()
    infer_seconds = (time.perf_counter() - started) / ENCODE_PASSES
    return {
        "model": args.model,
        "threads": torch.get_num_threads(),
        "device": str(device),
        "torch": torch.__version__,
        "train_images_per_second": None if args.encode_only else args.epochs * n / train_seconds,
        "encode_images_per_second": test.shape[0] / infer_seconds,
        "final_loss": loss.item(),
        "peak_memory_mib": peak_rss_mib(),
    }


def bench_matmul(size: int, repeats: int) -> dict:
    a = torch.randn(size, size)
    b = torch.randn(size, size)
    a @ b
    started = time.perf_counter()
    for _ in range(repeats):
        a @ b
    seconds = time.perf_counter() - started
    return {
        "matmul_size": size,
        "threads": torch.get_num_threads(),
        "gflops": 2 * size**3 * repeats / seconds / 1e9,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(MODELS), default="mlp-vae")
    parser.add_argument("--datasets", type=Path, default=Path("datasets"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--matmul", action="store_true")
    parser.add_argument(
        "--encode-only",
        action="store_true",
        help="skip training and time the encoder alone (its speed does not depend on the weights)",
    )
    parser.add_argument("--device", default="cpu", help="cpu, or cuda for the GPU check")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    result = bench_matmul(2048, 20) if args.matmul else bench_model(args)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
