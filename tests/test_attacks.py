"""FGSM and PGD (foolbox, L-infinity, untargeted) on pixels in [0, 1]: the known properties of the attacks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch.utils.data import DataLoader, Subset

from dnn_topology.layout import attack_of_input_set, input_set
from dnn_topology.networks import datasets as dsets
from dnn_topology.networks import models
from dnn_topology.networks.samples import SampleSet
from dnn_topology.studies.adversarial.attacks import (
    RECORD_COLUMNS,
    attack,
    attack_record,
    attack_stage,
    normalize,
    sample_pixels,
    to_pixels,
)
from dnn_topology.studies.adversarial.config import AttackSpec, attack_table

MEAN, STD = dsets.normalization("mnist5k")


@pytest.fixture(scope="module")
def trained():
    """LeNet after one epoch on 2,000 mnist5k digits (real training), and 200 test digits as pixels."""
    torch.manual_seed(0)
    torch.set_num_threads(1)
    net = models.build_network("lenet", dsets.get_spec("mnist5k"))
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    for x, y in DataLoader(Subset(dsets.load_split("mnist5k", "train"), range(2000)), batch_size=64, shuffle=True):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
    net.eval()
    x, y = sample_pixels(Subset(dsets.load_split("mnist5k", "test"), range(200)), MEAN, STD)
    return net, x, y


@pytest.mark.slow
def test_samples_are_mapped_back_to_the_raw_pixels():
    _, _, x_test, _ = dsets.mnist5k_arrays()
    x, _ = sample_pixels(Subset(dsets.load_split("mnist5k", "test"), range(20)), MEAN, STD)
    np.testing.assert_allclose(x[:, 0].numpy(), x_test[:20], atol=1e-6)
    np.testing.assert_allclose(to_pixels(normalize(x, MEAN, STD), MEAN, STD).numpy(), x.numpy(), atol=1e-6)
    assert dsets.normalization("cifar10")[1] == dsets.CIFAR_STD


@pytest.mark.slow
@pytest.mark.parametrize("method", ["fgsm", "pgd"])
@pytest.mark.parametrize("eps", [0.02, 0.1, 0.3])
def test_perturbation_bound_and_pixel_range_hold(trained, method, eps):
    net, x, y = trained
    spec = attack_table({"attacks": [{"method": method, "epsilons": [eps], "steps": 5}]})[f"adv_{method}_eps{eps:g}"]
    x_adv = attack(net, x, y, spec, MEAN, STD)
    delta = (x_adv - x).abs().amax()
    assert delta <= eps + 1e-6
    assert delta >= eps - 1e-6  # the budget is used (the loss gradient is never zero everywhere here)
    assert x_adv.min() >= 0.0 and x_adv.max() <= 1.0


@pytest.mark.slow
def test_fgsm_is_one_signed_gradient_step_of_size_epsilon(trained):
    net, x, y = trained
    eps = 0.1
    x_adv = attack(net, x, y, AttackSpec("fgsm", "fgsm", eps), MEAN, STD)
    xg = x.clone().requires_grad_(True)
    torch.nn.functional.cross_entropy(net(normalize(xg, MEAN, STD)), y, reduction="sum").backward()
    expected = (x + eps * xg.grad.sign()).clamp(0, 1)
    inside = (xg.grad != 0) & (x + eps * xg.grad.sign() >= 0) & (x + eps * xg.grad.sign() <= 1)
    assert inside.float().mean() > 0.1  # the check below covers many pixels
    np.testing.assert_allclose(x_adv.numpy(), expected.numpy(), atol=1e-6)
    step = (x_adv - x)[inside]
    np.testing.assert_allclose(step.abs().numpy(), eps, atol=1e-6)
    assert torch.equal(step.sign(), xg.grad.sign()[inside])


@pytest.mark.slow
def test_pgd_is_at_least_as_strong_as_fgsm(trained):
    net, x, y = trained
    for eps in (0.05, 0.15):
        fgsm = AttackSpec("fgsm", "fgsm", eps)
        pgd = AttackSpec("pgd", "pgd", eps, steps=20, step_size=eps / 8, random_start=False)
        r_fgsm = attack_record(net, x, attack(net, x, y, fgsm, MEAN, STD), y, fgsm, MEAN, STD)
        r_pgd = attack_record(net, x, attack(net, x, y, pgd, MEAN, STD), y, pgd, MEAN, STD)
        assert r_pgd["clean_acc_pct"] == r_fgsm["clean_acc_pct"] > 50  # percent
        assert r_pgd["adversarial_acc_pct"] <= r_fgsm["adversarial_acc_pct"] < r_fgsm["clean_acc_pct"]
        assert r_pgd["success_rate_pct"] >= r_fgsm["success_rate_pct"] > 0


@pytest.mark.slow
def test_record_success_rate_counts_only_correctly_classified_samples(trained):
    net, x, y = trained
    spec = AttackSpec("fgsm", "fgsm", 0.1)
    x_adv = attack(net, x, y, spec, MEAN, STD)
    r = attack_record(net, x, x_adv, y, spec, MEAN, STD)
    with torch.no_grad():
        clean = net(normalize(x, MEAN, STD)).argmax(1) == y
        adv = net(normalize(x_adv, MEAN, STD)).argmax(1) == y
    assert r["success_rate_pct"] == pytest.approx(100 * (clean & ~adv).sum().item() / clean.sum().item())
    assert r["mean_linf"] == pytest.approx(0.1, abs=1e-6)
    assert r["mean_l2"] == pytest.approx((x_adv - x).reshape(len(x), -1).double().norm(dim=1).mean().item())
    assert set(r) == set(RECORD_COLUMNS)


@pytest.mark.slow
def test_pgd_random_start_is_seeded(trained):
    net, x, y = trained
    spec = AttackSpec("pgd", "pgd", 0.1, steps=3, step_size=0.03, random_start=True, seed=7)
    assert torch.equal(attack(net, x[:20], y[:20], spec, MEAN, STD), attack(net, x[:20], y[:20], spec, MEAN, STD))


def test_attack_table_ids_and_errors():
    table = attack_table(
        {
            "attacks": [
                {"method": "fgsm", "epsilons": [0.05, 0.1]},
                {"method": "pgd", "name": "pgd-strong", "epsilons": [0.1], "steps": 40},
            ]
        }
    )
    assert list(table) == ["adv_fgsm_eps0.05", "adv_fgsm_eps0.1", "adv_pgd-strong_eps0.1"]
    assert table["adv_pgd-strong_eps0.1"].steps == 40
    assert attack_table({}) == {} and attack_table(None) == {}
    assert input_set(None) == "" and input_set("adv_fgsm_eps0.1") == "adv_fgsm_eps0.1/"
    assert attack_of_input_set("adv_fgsm_eps0.1/") == "adv_fgsm_eps0.1" and attack_of_input_set("") is None
    with pytest.raises(ValueError, match=r"adversarial.attacks\[1\]: attack id 'adv_fgsm_eps0.1'"):
        attack_table({"attacks": [{"method": "fgsm", "epsilons": [0.1]}, {"method": "fgsm", "epsilons": [0.1]}]})
    with pytest.raises(ValueError, match=r"adversarial.attacks\[0\].epsilons"):
        attack_table({"attacks": [{"method": "fgsm", "epsilons": [25]}]})
    with pytest.raises(ValueError, match=r"adversarial.attacks\[0\].name"):
        attack_table({"attacks": [{"method": "fgsm", "name": "a/b", "epsilons": [0.1]}]})


@pytest.mark.slow
def test_attack_stage_writes_its_files(trained, tmp_path):
    net, _, _ = trained
    torch.save({"net": net.state_dict()}, tmp_path / "epoch_1.pt")
    out = {
        k: tmp_path / "adv_fgsm_eps0.1" / f
        for k, f in [
            ("activations", "activations.npy"),
            ("nodes", "nodes.csv"),
            ("record", "attack.csv"),
            ("inputs", "inputs.npy"),
        ]
    }
    attack_stage(
        checkpoint=tmp_path / "epoch_1.pt",
        network="lenet",
        sample_set=SampleSet("mnist5k", n_samples=50, split="test"),
        attack_spec=AttackSpec("fgsm", "fgsm", 0.1).to_dict(),
        node_selection={"method": "random", "n_nodes": 40, "seed": 0},
        device="cpu",
        **out,
    )
    acts = np.load(out["activations"])
    assert acts.shape == (50, 40) and np.isfinite(acts).all()
    assert len(pd.read_csv(out["nodes"])) == 40
    record = pd.read_csv(out["record"])
    assert list(record.columns) == RECORD_COLUMNS and record["n_samples"].item() == 50
    inputs = np.load(out["inputs"])
    assert inputs.shape == (50, 1, 28, 28) and inputs.min() >= 0 and inputs.max() <= 1


def test_adversarial_config_errors_name_the_key():
    from dnn_topology.studies.adversarial.config import check_adversarial

    base = {
        "topology": {"epochs": [1, 4]},
        "adversarial": {
            "attacks": [{"method": "fgsm", "epsilons": [0.1]}],
            "epochs": [1, 4],
            "detection": {"n_pool": 1000, "batch_size": 50},
        },
    }
    check_adversarial(base, {"lenet_mnist5k": 1000})
    late = {**base, "adversarial": {**base["adversarial"], "epochs": [2]}}
    with pytest.raises(ValueError, match=r"adversarial.epochs: \[2\] are not in topology.epochs"):
        check_adversarial(late, {"lenet_mnist5k": 1000})
    with pytest.raises(ValueError, match="adversarial.detection.n_pool: 1000 samples asked for"):
        check_adversarial(base, {"lenet_mnist5k": 500})
    small = {**base, "adversarial": {**base["adversarial"], "detection": {"n_pool": 100, "batch_size": 50}}}
    with pytest.raises(ValueError, match="adversarial.detection: halves of n_pool = 100"):
        check_adversarial(small, {"lenet_mnist5k": 1000})
    check_adversarial({"topology": {"epochs": [1]}, "adversarial": {}}, {})  # no attack: nothing to check
