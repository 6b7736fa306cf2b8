"""The model of the example: a small convolutional network for 8 x 8 digit images, written as anyone writes one.

It outputs logits and knows nothing of dnn-topology; the workflow records the layers that config.yaml names.
"""

import torch.nn as nn
import torch.nn.functional as F


class DigitNet(nn.Module):
    def __init__(self, width: int = 64, num_classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, kernel_size=3, padding=1)  # 8 x 8 x 8
        self.conv2 = nn.Conv2d(8, 16, kernel_size=3, padding=1)  # 16 x 8 x 8, pooled to 16 x 4 x 4
        self.fc1 = nn.Linear(16 * 4 * 4, width)
        self.fc2 = nn.Linear(width, num_classes)

    def forward(self, x):
        x = F.relu(self.conv1(x))  # graph node "relu"
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)  # "relu_1", then "max_pool2d"
        x = F.relu(self.fc1(x.flatten(1)))  # "relu_2"
        return self.fc2(x)  # module "fc2": the logits
