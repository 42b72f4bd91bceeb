"""An MLP on MNIST, written exactly as in PyTorch: only the imports differ.

    python examples/mnist_mlp.py [--data-dir ~/mnist | --download] [--epochs 3]

With torch you would write ``import torch; import torch.nn as nn; from torch.utils.data import
DataLoader; from torchvision import datasets, transforms``; everything below is unchanged.
Expected: >= 97.5% test accuracy within 3 epochs.
"""

import argparse
import time

import convnp as torch
import convnp.nn as nn
from convnp.data import datasets, transforms
from convnp.utils.data import DataLoader


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(28 * 28, 512),
            nn.ReLU(),
            nn.Linear(512, 256),
            nn.ReLU(),
            nn.Linear(256, 10),
        )

    def forward(self, x):
        return self.net(x)


def evaluate(model, loader, loss_fn):
    model.eval()
    correct, total, loss_sum = 0, 0, 0.0
    with torch.no_grad():
        for images, labels in loader:
            logits = model(images)
            loss_sum += loss_fn(logits, labels).item() * len(labels)
            correct += (logits.argmax(dim=1) == labels).sum().item()
            total += len(labels)
    return loss_sum / total, correct / total


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None, help="MNIST folder (default: the cache)")
    parser.add_argument("--download", action="store_true", help="fetch MNIST if absent")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    train_set = datasets.MNIST(args.data_dir, train=True, transform=tf, download=args.download)
    test_set = datasets.MNIST(args.data_dir, train=False, transform=tf, download=args.download)
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True)
    test_loader = DataLoader(test_set, batch_size=1000)

    model = MLP()
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)

    for epoch in range(1, args.epochs + 1):
        model.train()
        start = time.perf_counter()
        for images, labels in train_loader:
            optimizer.zero_grad()
            loss = loss_fn(model(images), labels)
            loss.backward()
            optimizer.step()
        seconds = time.perf_counter() - start
        test_loss, test_acc = evaluate(model, test_loader, loss_fn)
        print(f"epoch {epoch}: train loss {loss.item():.4f}  test loss {test_loss:.4f}  "
              f"test accuracy {100 * test_acc:.2f}%  time {seconds:.1f} s "
              f"({len(train_set) / seconds:.0f} images/s)", flush=True)


if __name__ == "__main__":
    main()
