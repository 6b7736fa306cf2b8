"""Import of the original code's checkpoints and DIPHA files into our results layout.

The original-format files are made here: a LeNet state dict saved with DataParallel's
``module.`` prefixes the way the original's train.py saves it, and real DIPHA files from
tests/data/dipha under the original's names.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from test_dipha_io import FIXTURE_DIR

from dnn_topology.cli import main
from dnn_topology.networks.checkpoints import state_dict_of
from dnn_topology.networks.datasets import get_spec
from dnn_topology.networks.models import build_network
from dnn_topology.networks.original import ImportOriginalError, find_original_epochs, import_original
from dnn_topology.topology import dipha_files as dio

FULL = FIXTURE_DIR / "corr80.full.bin"
DIAGRAM = FIXTURE_DIR / "corr80.sparse_eps0.3.upper_dim3.diagram"
OTHER_DIAGRAM = FIXTURE_DIR / "corr80.full.upper_dim3.diagram"


def original_checkpoint(path: Path, epoch: int, acc: float, seed: int, data_parallel: bool = True) -> dict:
    """Save a checkpoint like the original's train.py under DataParallel: {'net', 'acc', 'epoch'}."""
    torch.manual_seed(seed)
    net = build_network("lenet", get_spec("mnist"))
    prefix = "module." if data_parallel else ""
    state = {prefix + k: v for k, v in net.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"net": state, "acc": np.float64(acc), "epoch": epoch}, path)
    return net.state_dict()


@pytest.fixture
def original_root(tmp_path) -> Path:
    """checkpoint/lenet_mnist/ckpt_trial_1_epoch_{0,3}.t7 and adjacency/lenet_mnist/adj_epc{0,3}_trl1.bin[_0.3.bin.out]."""
    root = tmp_path / "original"
    ckpt = root / "checkpoint" / "lenet_mnist"
    original_checkpoint(ckpt / "ckpt_trial_1_epoch_0.t7", 0, 11.5, seed=0)
    original_checkpoint(ckpt / "ckpt_trial_1_epoch_3.t7", 3, 97.25, seed=3)
    original_checkpoint(ckpt / "ckpt_trial_2_epoch_3.t7", 3, 50.0, seed=5)  # another trial: ignored
    adj = root / "adjacency" / "lenet_mnist"
    adj.mkdir(parents=True)
    for epoch in (0, 3):
        shutil.copyfile(FULL, adj / f"adj_epc{epoch}_trl1.bin")
    shutil.copyfile(DIAGRAM, adj / "adj_epc0_trl1_0.3.bin.out")  # compute_topology.py's name
    shutil.copyfile(DIAGRAM, adj / "adj_epc3_trl1.bin.out")  # the plain name
    return root


def test_find_original_epochs(original_root):
    found = find_original_epochs(original_root, "lenet", "mnist", 1)
    assert sorted(found) == [0, 3]
    assert found[0].checkpoint.name == "ckpt_trial_1_epoch_0.t7"
    assert found[0].distance.name == "adj_epc0_trl1.bin"
    assert found[0].diagram().name == "adj_epc0_trl1_0.3.bin.out"
    assert found[3].diagram().name == "adj_epc3_trl1.bin.out"
    assert found[3].diagram("0.3").name == "adj_epc3_trl1.bin.out"  # the only one
    assert sorted(find_original_epochs(original_root, "lenet", "mnist", 2)) == [3]


def test_import_original_writes_our_layout(original_root, tmp_path):
    results = tmp_path / "results"
    imported = import_original(original_root, "lenet", "mnist", 1, results, "orig")
    assert [e.epoch for e in imported] == [0, 3]
    for epoch, acc, seed in ((0, 11.5, 0), (3, 97.25, 3)):
        edir = results / "orig" / "trial_1" / f"epoch_{epoch}"
        assert (edir / "distance.bin").read_bytes() == FULL.read_bytes()
        assert (edir / "diagram.bin").read_bytes() == DIAGRAM.read_bytes()
        ours = torch.load(results / "orig" / "trial_1" / "checkpoints" / f"epoch_{epoch}.pt", weights_only=True)
        assert ours["epoch"] == epoch and ours["test_acc"] == pytest.approx(acc / 100) and ours["acc"] == acc
        torch.manual_seed(seed)
        expected = build_network("lenet", get_spec("mnist")).state_dict()
        net = build_network("lenet", get_spec("mnist"))
        net.load_state_dict(ours["net"])  # loads into our LeNet without any key mapping
        for k, v in expected.items():
            assert torch.equal(net.state_dict()[k], v), k
    manifest = json.loads((results / "orig" / "trial_1" / "original_import.json").read_text())
    assert manifest["net"] == "lenet" and [e["epoch"] for e in manifest["epochs"]] == [0, 3]
    assert manifest["epochs"][0]["sources"]["diagram"].endswith("adj_epc0_trl1_0.3.bin.out")


def test_import_keeps_existing_outputs_unless_overwrite(original_root, tmp_path):
    results = tmp_path / "results"
    import_original(original_root, "lenet", "mnist", 1, results, "orig", epochs=[3])
    diagram = results / "orig" / "trial_1" / "epoch_3" / "diagram.bin"
    diagram.write_bytes(OTHER_DIAGRAM.read_bytes())
    imported = import_original(original_root, "lenet", "mnist", 1, results, "orig", epochs=[3])
    assert diagram.read_bytes() == OTHER_DIAGRAM.read_bytes()
    assert any("exists, kept" in n for n in imported[0].notes)
    import_original(original_root, "lenet", "mnist", 1, results, "orig", epochs=[3], overwrite=True)
    assert diagram.read_bytes() == DIAGRAM.read_bytes()


def test_dead_node_diagonal_is_corrected_as_dipha_reads_it(original_root, tmp_path):
    # the original wrote 1 - |nan_to_num(corr)|: 1 on the diagonal of a constant node; DIPHA ignores it
    D = dio.read_distance_matrix(FULL)
    D[5, 5] = 1.0
    path = original_root / "adjacency" / "lenet_mnist" / "adj_epc0_trl1.bin"
    path.write_bytes(
        np.array([dio.MAGIC, dio.DISTANCE_MATRIX, D.shape[0]], "<i8").tobytes() + D.astype("<f8").tobytes()
    )
    imported = import_original(original_root, "lenet", "mnist", 1, tmp_path / "r", "orig", epochs=[0])
    assert (tmp_path / "r" / "orig" / "trial_1" / "epoch_0" / "distance.bin").read_bytes() == FULL.read_bytes()
    assert any("nonzero diagonal" in n for n in imported[0].notes)


def test_data_parallel_prefix_is_removed():
    weights = {"module.conv1.weight": torch.zeros(1), "module.fc1.bias": torch.ones(2)}
    assert list(state_dict_of({"net": weights})) == ["conv1.weight", "fc1.bias"]


def test_checkpoint_without_data_parallel_prefix(tmp_path):
    root = tmp_path / "o"
    original_checkpoint(
        root / "checkpoint" / "lenet_mnist" / "ckpt_trial_0_epoch_1.t7", 1, 90.0, 1, data_parallel=False
    )
    imported = import_original(root, "lenet", "mnist", 0, tmp_path / "r", "x")
    assert imported[0].checkpoint and not imported[0].distance and not imported[0].diagram


def test_errors(original_root, tmp_path):
    with pytest.raises(ImportOriginalError, match="epoch\\(s\\) \\[7\\]"):
        import_original(original_root, "lenet", "mnist", 1, tmp_path / "r", "x", epochs=[7])
    with pytest.raises(ImportOriginalError, match="nothing to import"):
        import_original(original_root, "lenet", "mnist", 9, tmp_path / "r", "x")
    with pytest.raises(ImportOriginalError, match="not found"):
        import_original(tmp_path / "nowhere", "lenet", "mnist", 1, tmp_path / "r", "x")
    # a checkpoint of another network
    with pytest.raises(ImportOriginalError, match="does not fit network 'lenet_300_100'"):
        shutil.copytree(
            original_root / "checkpoint" / "lenet_mnist", original_root / "checkpoint" / "lenet_300_100_mnist"
        )
        import_original(original_root, "lenet_300_100", "mnist", 1, tmp_path / "r", "x", epochs=[0])
    # two diagrams for one epoch: ambiguous unless max_eps picks one
    adj = original_root / "adjacency" / "lenet_mnist"
    shutil.copyfile(OTHER_DIAGRAM, adj / "adj_epc0_trl1.bin.out")
    with pytest.raises(ImportOriginalError, match="several diagrams"):
        import_original(original_root, "lenet", "mnist", 1, tmp_path / "r", "x")
    import_original(original_root, "lenet", "mnist", 1, tmp_path / "r", "x", max_eps="0.3", epochs=[0])
    assert (tmp_path / "r" / "x" / "trial_1" / "epoch_0" / "diagram.bin").read_bytes() == DIAGRAM.read_bytes()


def test_malformed_original_files_name_the_file(original_root, tmp_path):
    bad = original_root / "adjacency" / "lenet_mnist" / "adj_epc3_trl1.bin.out"
    bad.write_bytes(b"broken")
    with pytest.raises(dio.DiphaFormatError) as excinfo:
        import_original(original_root, "lenet", "mnist", 1, tmp_path / "r", "x", epochs=[3])
    assert str(bad) in str(excinfo.value)
    ckpt = original_root / "checkpoint" / "lenet_mnist" / "ckpt_trial_1_epoch_0.t7"
    ckpt.write_bytes(b"not a checkpoint")
    with pytest.raises(ImportOriginalError) as excinfo:
        import_original(original_root, "lenet", "mnist", 1, tmp_path / "r", "x", epochs=[0])
    assert str(ckpt) in str(excinfo.value)


def test_cli_import_original(original_root, tmp_path, capsys):
    code = main(
        [
            "import-original",
            "--original-root",
            str(original_root),
            "--net",
            "lenet",
            "--dataset",
            "mnist",
            "--trial",
            "1",
            "--results",
            str(tmp_path / "results"),
            "--run",
            "paper",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "epoch 0: checkpoint, distance, diagram" in out and "epoch 3:" in out
    assert (tmp_path / "results" / "paper" / "trial_1" / "epoch_3" / "diagram.bin").exists()
    code = main(
        [
            "import-original",
            "--original-root",
            str(original_root),
            "--net",
            "lenet",
            "--dataset",
            "mnist",
            "--trial",
            "4",
            "--results",
            str(tmp_path / "results"),
            "--run",
            "paper",
        ]
    )
    _, err = capsys.readouterr()
    assert code == 2 and err.startswith("dnn-topology: error: ") and str(original_root) in err


@pytest.mark.slow
def test_imported_results_feed_the_workflow(original_root, tmp_path):
    """The original's files, imported, go through our Betti-curve stage with a real Snakemake run
    that is not allowed to train or recompute activations (the dataset files are not even here)."""
    import pandas as pd
    import yaml
    from workflow_helpers import planned_jobs, snakemake

    work = tmp_path / "work"
    work.mkdir()
    import_original(original_root, "lenet", "mnist", 1, work / "results", "original")
    config = {
        "runs": [{"name": "original", "network": "lenet", "dataset": "mnist", "imported": True}],
        "trials": [1],
        "training": {"epochs": 3},
        "topology": {"epochs": [0, 3], "engine": "giotto"},
    }
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    target = "results/original/trial_1/epoch_3/betti_curves.csv"
    args = (target, "--allowed-rules", "sparse_distance", "betti_curves")
    assert planned_jobs(snakemake(work, *args, "-n", config=work / "config.yaml")) == {
        "sparse_distance": 1,
        "betti_curves": 1,
    }
    snakemake(work, *args, config=work / "config.yaml")
    curves = pd.read_csv(work / target)
    assert curves.loc[(curves["dim"] == 0) & (curves["epsilon"] == 0), "betti"].item() == 80  # corr80: 80 nodes
    summary = pd.read_csv(work / "results/original/trial_1/epoch_3/betti_summary.csv")
    diagram = dio.read_persistence_diagram(DIAGRAM)
    assert summary["n_classes"].sum() == len(diagram)


@pytest.mark.parametrize("legacy", [True, False], ids=["legacy-format", "zip-format"])
def test_a_crafted_t7_is_refused_and_its_code_never_runs(original_root, tmp_path, capsys, legacy):
    from workflow_helpers import write_malicious_checkpoint

    from dnn_topology.networks.checkpoints import read_checkpoint

    ckpt = original_root / "checkpoint" / "lenet_mnist" / "ckpt_trial_1_epoch_3.t7"
    state = read_checkpoint(ckpt, numpy_scalars=True)  # real weights: only the payload is wrong
    marker = tmp_path / "payload_ran"
    write_malicious_checkpoint(ckpt, marker, state, legacy=legacy)
    code = main(
        [
            "import-original",
            "--original-root",
            str(original_root),
            "--net",
            "lenet",
            "--dataset",
            "mnist",
            "--trial",
            "1",
            "--results",
            str(tmp_path / "results"),
            "--run",
            "orig",
            "--epochs",
            "3",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert not marker.exists(), "the checkpoint's payload ran"
    assert f"checkpoint {ckpt}: refused" in err and "could run code" in err, err
    assert "GLOBAL io.open" in err, err  # names what it refused
