"""Peak memory of the activations job on a big network: node selection in the tap bounds it by the selected nodes.

    python benchmarks/activations_memory.py [--samples 256] [--batch-size 32] [--n-nodes 2000]

torchvision's ResNet-18 at 224 x 224 px, layers ``relu`` (the stem, 64 x 112 x 112), ``layer1`` ... ``layer4``:
1,179,136 candidate nodes per sample, of which ``--n-nodes`` are selected (``random``). Each measurement is a fresh
process (the whole job: Python, torch, the network, the data), its peak resident memory read from the kernel
(``ru_maxrss``):

* ``baseline``: the job up to its first forward pass (imports, the network built and its checkpoint loaded, the
  samples made), recording nothing;
* ``activations``: the whole activations stage (:func:`dnn_topology.networks.activations.activations_stage`) on
  ``--samples`` samples in batches of ``--batch-size``, written to files.

It prints both, and for comparison what recording whole layers would hold: the candidate nodes of all samples
(float32), and of one batch. The samples are random images made by code (a dataset of config key ``datasets``), so
nothing is downloaded. Units: MB = 10^6 bytes.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LAYERS = ["relu", "layer1", "layer2", "layer3", "layer4"]
SIZE = 224


def random_images(n: int = 256, seed: int = 0):
    """A dataset of code: ``n`` random 3 x 224 x 224 images (train and test alike) and no normalisation."""
    import torch
    from torch.utils.data import TensorDataset

    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 3, SIZE, SIZE, generator=g)
    y = torch.randint(0, 10, (n,), generator=g)
    return TensorDataset(x, y), TensorDataset(x, y)


def _child(args: argparse.Namespace) -> None:
    import torch

    from dnn_topology.networks.activations import activations_stage, fixed_samples, load_network
    from dnn_topology.networks.refs import NetworkRef
    from dnn_topology.networks.samples import SampleSet

    workdir = Path(args.workdir)
    network = NetworkRef("torchvision:resnet18", layers=LAYERS)
    sample_set = SampleSet(
        "images",
        args.samples,
        datasets={"images": {"loader": f"{Path(__file__).resolve()}:random_images", "kwargs": {"n": args.samples},
                             "num_classes": 10, "in_channels": 3, "input_size": SIZE}},
    )  # fmt: skip
    selection = {"method": "random", "n_nodes": args.n_nodes, "seed": 0}
    t0 = time.perf_counter()
    if args.child == "baseline":
        load_network(args.checkpoint, network, sample_set, selection, "cpu")
        fixed_samples(sample_set)
    else:
        activations_stage(
            checkpoint=args.checkpoint,
            network=network,
            sample_set=sample_set,
            node_selection=selection,
            device="cpu",
            threads=args.threads,
            batch_size=args.batch_size,
            activations=workdir / "activations.npy",
            nodes=workdir / "nodes.csv",
            samples=workdir / "samples.csv",
        )
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps({"peak_mb": peak_kb * 1024 / 1e6, "seconds": time.perf_counter() - t0, "torch": torch.__version__})
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--n-nodes", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--child", choices=["baseline", "activations"], help=argparse.SUPPRESS)
    parser.add_argument("--checkpoint", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args)
        return
    import torch
    import torchvision

    net = torchvision.models.resnet18(num_classes=10)
    from dnn_topology.networks.recording import LayerRecorder, set_recorded_layers

    shapes = LayerRecorder(set_recorded_layers(net, LAYERS)).shapes(torch.zeros(1, 3, SIZE, SIZE))
    candidates = sum(int(torch.tensor(s).prod()) for s in shapes.values())
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = Path(tmp) / "resnet18.pt"
        torch.save(net.state_dict(), checkpoint)
        results = {}
        for child in ("baseline", "activations"):
            cmd = [sys.executable, __file__, "--child", child, "--checkpoint", str(checkpoint), "--workdir", tmp,
                   "--samples", str(args.samples), "--batch-size", str(args.batch_size),
                   "--n-nodes", str(args.n_nodes), "--threads", str(args.threads)]  # fmt: skip
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
            results[child] = json.loads(out)
    whole_all = args.samples * candidates * 4 / 1e6
    whole_batch = args.batch_size * candidates * 4 / 1e6
    print(f"ResNet-18 at {SIZE} px, layers {', '.join(f'{n} {tuple(s)}' for n, s in shapes.items())}")
    print(f"candidate nodes per sample: {candidates:,}; selected: {args.n_nodes:,} (random)")
    print(f"samples: {args.samples}, batch size {args.batch_size}, torch {results['baseline']['torch']}, CPU")
    print(f"peak memory, baseline (imports, network, checkpoint, samples): {results['baseline']['peak_mb']:8.0f} MB")
    print(f"peak memory, activations job:                                  {results['activations']['peak_mb']:8.0f} MB "
          f"({results['activations']['seconds']:.0f} s)")  # fmt: skip
    print(f"the selected activations written: {args.samples * args.n_nodes * 4 / 1e6:.1f} MB")
    print(f"whole layers, all samples (what selection after recording would hold): {whole_all:8.0f} MB")
    print(f"whole layers, one batch:                                               {whole_batch:8.0f} MB")


if __name__ == "__main__":
    main()
