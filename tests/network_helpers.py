"""A real trained network for the tests (helpers): LeNet after one pass over mnist5k training digits."""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, Subset

from dnn_topology.networks import datasets as dsets
from dnn_topology.networks import models


def lenet_after_one_pass(n_train: int = 2000, seed: int = 0):
    """LeNet (eval mode) after one epoch of SGD (lr 0.01, momentum 0.9, batches of 64) on the first ``n_train``
    mnist5k training digits: real training, seconds on a CPU."""
    torch.manual_seed(seed)
    net = models.build_network("lenet", dsets.get_spec("mnist5k"))
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    for x, y in DataLoader(Subset(dsets.load_split("mnist5k", "train"), range(n_train)), batch_size=64, shuffle=True):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
    return net.eval()
