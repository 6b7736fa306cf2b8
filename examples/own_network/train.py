"""Train the example's model with a plain PyTorch loop and save its state_dict after every epoch.

    python examples/own_network/train.py      (from the repository root)

writes examples/own_network/checkpoints/epoch_0.pt (the initial weights) ... epoch_6.pt. Nothing here knows
dnn-topology: this is the training you already have.
"""

from pathlib import Path

import torch
import torch.nn.functional as F
from data import load_digits
from model import DigitNet

EPOCHS = 6
OUT = Path(__file__).resolve().parent / "checkpoints"


def main() -> None:
    torch.manual_seed(0)
    train, test, _ = load_digits()
    loader = torch.utils.data.DataLoader(train, batch_size=32, shuffle=True)
    net = DigitNet()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    OUT.mkdir(exist_ok=True)
    torch.save(net.state_dict(), OUT / "epoch_0.pt")
    for epoch in range(1, EPOCHS + 1):
        net.train()
        for x, y in loader:
            optimizer.zero_grad()
            F.cross_entropy(net(x), y).backward()
            optimizer.step()
        net.eval()
        with torch.no_grad():
            accuracy = (net(test.tensors[0]).argmax(1) == test.tensors[1]).float().mean().item()
        torch.save(net.state_dict(), OUT / f"epoch_{epoch}.pt")
        print(f"epoch {epoch}: test accuracy {accuracy:.3f} -> {OUT / f'epoch_{epoch}.pt'}")


if __name__ == "__main__":
    main()
