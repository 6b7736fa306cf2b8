"""The data of the example: scikit-learn's 1,797 real 8 x 8 handwritten digits (shipped with it: no download).

``load_digits()`` returns what config key ``datasets.<name>.loader`` expects: the train and test datasets of
(normalised image, label) pairs and the normalisation ``(mean, std)`` of pixels in [0, 1]. The training script
uses it too, so that the workflow shows the network exactly what it was trained on.
"""

import numpy as np
import torch
from sklearn.datasets import load_digits as sklearn_digits
from torch.utils.data import TensorDataset

MEAN, STD = 0.3, 0.4  # of the pixels in [0, 1], per channel (one channel)


def load_digits(n_test: int = 400, seed: int = 0):
    digits = sklearn_digits()
    x = torch.from_numpy((digits.images / 16.0).astype(np.float32)).unsqueeze(1)  # (1797, 1, 8, 8) in [0, 1]
    y = torch.from_numpy(digits.target.astype(np.int64))
    order = torch.from_numpy(np.random.default_rng(seed).permutation(len(y)))
    test, train = order[:n_test], order[n_test:]
    x = (x - MEAN) / STD
    return TensorDataset(x[train], y[train]), TensorDataset(x[test], y[test]), ((MEAN,), (STD,))
