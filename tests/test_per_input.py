"""Per-input detectors: each topological feature on a hand-made network whose diagram is known by hand, the
baselines, the no-leak split, the transfer protocol and the detector files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn as nn
from workflow_helpers import _Payload

from dnn_topology.studies.adversarial import baselines as bl
from dnn_topology.studies.adversarial import per_input as pi
from dnn_topology.studies.adversarial import topological_uncertainty as tu
from dnn_topology.studies.adversarial.config import DETECTOR_NAMES, AttackSpec
from dnn_topology.studies.adversarial.evaluation import pair_auc
from dnn_topology.studies.adversarial.per_sample_graph import (
    THRESHOLDS,
    per_sample_betti_curve,
    per_sample_diagram,
    scaled_activations,
)
from dnn_topology.topology.persistence import compute_persistence

# ------------------------------------------------------------------------------------------- hand-made network


class TwoLayerNet(nn.Module):
    """2 inputs -> 2 hidden units (ReLU) -> 1 output, weights set by hand; forward_features like our networks."""

    feature_layers = ("fc1", "fc2")

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(2, 2, bias=False)
        self.fc2 = nn.Linear(2, 1, bias=False)
        with torch.no_grad():
            self.fc1.weight.copy_(torch.tensor([[1.0, 2.0], [3.0, 0.5]]))  # (out, in)
            self.fc2.weight.copy_(torch.tensor([[2.0, -1.0]]))

    def forward_features(self, x):
        h = torch.relu(self.fc1(x.flatten(1)))
        return [h, self.fc2(h)]


def test_topological_uncertainty_diagram_of_a_hand_made_network():
    """Input x = (1, 2). fc1: edges |W x| = (in0,h0) 1, (in1,h0) 4, (in0,h1) 3, (in1,h1) 1: maximum spanning tree
    4, 3, 1. Hidden h = relu(W x) = (5, 4). fc2: edges |2 * 5| = 10, |-1 * 4| = 4: tree 10, 4."""
    net = TwoLayerNet().eval()
    arrays = pi.network_arrays(net, torch.tensor([[1.0, 2.0]]), (0.0,), (1.0,), "cpu")
    np.testing.assert_allclose(arrays["dense"]["fc1"], [[1.0, 2.0]])
    np.testing.assert_allclose(arrays["dense"]["fc2"], [[5.0, 4.0]])
    weights = pi.dense_weights(net)
    assert list(weights) == ["fc1", "fc2"]
    assert tu.bipartite_diagram(weights["fc1"], arrays["dense"]["fc1"][0]).tolist() == [4.0, 3.0, 1.0]
    assert tu.bipartite_diagram(weights["fc2"], arrays["dense"]["fc2"][0]).tolist() == [10.0, 4.0]
    # an inactive input gives weight-0 edges, which are edges too (the graph stays connected, as in the paper)
    assert tu.bipartite_diagram(weights["fc1"], np.array([0.0, 2.0])).tolist() == [4.0, 1.0, 0.0]


def test_topological_uncertainty_distance_and_class_means_by_hand():
    # diagrams (sorted from the top) of three inputs predicted as classes 0, 0, 1
    d = np.array([[4.0, 3.0, 1.0], [6.0, 3.0, 1.0], [2.0, 2.0, 2.0]])
    means = tu.class_frechet_means(d, np.array([0, 0, 1]), n_classes=3)
    np.testing.assert_allclose(means[0], [5.0, 3.0, 1.0])  # mean of the sorted vectors
    np.testing.assert_allclose(means[1], [2.0, 2.0, 2.0])
    np.testing.assert_allclose(means[2], [4.0, 8 / 3, 4 / 3])  # no input predicted as 2: the overall mean
    # |[1, 3, 4] - [1, 3, 5]|_2 / 3 = 1/3; an input predicted as 1 is compared with class 1's mean
    np.testing.assert_allclose(tu.distance_to_class_mean(d[:1], np.array([0]), means), [1 / 3])
    np.testing.assert_allclose(tu.distance_to_class_mean(d[:1], np.array([1]), means), [np.sqrt(4 + 1 + 1) / 3])


def test_batched_prim_equals_scipy_and_the_papers_gudhi_construction():
    """The diagram of Lacombe et al.'s code: a gudhi SimplexTree of the bipartite graph filtered by -|W x|, its
    finite H0 deaths negated. Ours (batched Prim) and scipy's spanning tree give the same multiset."""
    gd = pytest.importorskip("gudhi")
    rng = np.random.default_rng(0)
    W = rng.normal(size=(7, 12))
    X = np.maximum(rng.normal(size=(5, 12)), 0)  # ReLU inputs: some exact zeros
    ours = tu.bipartite_diagrams(W, X)
    for b in range(len(X)):
        A = np.abs(W * X[b][None, :])
        st = gd.SimplexTree()
        for j in range(7):
            for i in range(12):
                st.insert([i, 12 + j], filtration=-A[j, i])
        st.compute_persistence(min_persistence=-1.0)
        deaths = st.persistence_intervals_in_dimension(0)[:, 1]
        paper = np.sort(-deaths[np.isfinite(deaths)])[::-1]
        np.testing.assert_allclose(ours[b], paper, rtol=0, atol=1e-12)
        j, i = np.meshgrid(np.arange(7), np.arange(12), indexing="ij")
        _, _, tree = tu.maximum_spanning_tree(19, i.ravel(), 12 + j.ravel(), A.ravel())
        np.testing.assert_array_equal(np.sort(tree)[::-1], ours[b])


def test_per_sample_graph_by_hand_and_against_the_persistence_engine():
    """Activations 0, 1, 5, 10 scale to 0, 0.1, 0.5, 1: gaps 0.1, 0.4, 0.5. beta_0 at t is 1 + #gaps > t; the
    Vietoris-Rips persistence of |a_i - a_j| (the real engine) has exactly those H0 deaths (gap / 2, DIPHA units)
    and no H1 or H2: points on a line have no holes."""
    acts = np.array([[0.0, 1.0, 5.0, 10.0]])
    np.testing.assert_allclose(scaled_activations(acts), [[0.0, 0.1, 0.5, 1.0]])
    curve = per_sample_betti_curve(acts)[0]
    expected = [4 if t < 0.1 else 3 if t < 0.4 else 2 if t < 0.5 else 1 for t in THRESHOLDS]
    assert curve.tolist() == expected
    np.testing.assert_allclose(per_sample_diagram(acts[0]), [[0, 0.05], [0, 0.2], [0, 0.25]])
    rng = np.random.default_rng(1)
    for row in (acts[0], rng.normal(size=40), np.maximum(rng.normal(size=60), 0)):  # ReLU zeros coincide
        a = scaled_activations(row)[0]
        D = np.abs(a[:, None] - a[None, :])
        dgm = compute_persistence(D, upper_dim=3)  # H0..H2
        assert not (dgm.dims >= 1).any(), "a per-sample graph has no H1 or H2"
        finite = np.sort(dgm.deaths[(dgm.dims == 0) & (dgm.deaths < dgm.deaths.max())])
        hand = per_sample_diagram(row)[:, 1]
        np.testing.assert_allclose(finite, hand[: len(finite)], atol=1e-6)


def test_baselines_by_hand():
    logp = np.log([[0.7, 0.2, 0.1], [1 / 3, 1 / 3, 1 / 3]])
    np.testing.assert_allclose(bl.max_softmax(logp), [0.7, 1 / 3])
    np.testing.assert_allclose(bl.predictive_entropy(logp)[1], np.log(3))
    # Mahalanobis: two classes, shared covariance; distances squared in the whitened space
    X = np.array([[0.0, 0.0], [2.0, 0.0], [10.0, 1.0], [12.0, 1.0], [1.0, 0.5], [11.0, 0.5]])
    model = bl.fit_mahalanobis(X, np.array([0, 0, 1, 1, 0, 1]), 2)
    centred = X - model.means[[0, 0, 1, 1, 0, 1]]
    cov = centred.T @ centred / len(X)
    q = np.array([[3.0, 0.0]])
    by_hand = [((q - m) @ np.linalg.pinv(cov) @ (q - m).T).item() for m in model.means]
    np.testing.assert_allclose(model.distances(q)[0], by_hand)
    np.testing.assert_allclose(model.score(q), [min(by_hand)])
    # LID: points of a 3-dimensional cube seen from its centre
    ref = np.random.default_rng(0).uniform(-1, 1, (30000, 3))
    assert 2.5 < bl.lid_scores(np.zeros((1, 3)), ref, k=200)[0] < 3.5


# ------------------------------------------------------------------------------------------- protocol

PER_INPUT = {"seed": 0, "folds": 5, "n_bootstrap": 200, "n_permutations": 99, "fpr": 0.05, "lid_k": 5}


def features_table(values: dict[str, np.ndarray], correct) -> pd.DataFrame:
    n = len(correct)
    return pd.DataFrame({"index": np.arange(n), "label": 0, "correct": correct, "predicted": 0, **values})


def test_an_input_and_its_attacked_copy_are_never_split():
    """Each input's identity as a one-hot feature: clean = e_i, attacked = 2 e_i. A detector that saw input i
    learns its coordinate and scores 2 e_i above e_i; one that never saw it scores both alike (that coordinate was 0
    on all its training rows). Out-of-fold AUC is then exactly 0.5; any leak of an input across the split raises it."""
    n = 60
    eye = np.eye(n)
    clean = features_table({f"msp_{i}": eye[:, i] for i in range(n)}, np.ones(n, int))
    attacked = features_table({f"msp_{i}": 2 * eye[:, i] for i in range(n)}, np.zeros(n, int))
    clean = clean.rename(columns={f"msp_{i}": f"maha_{i}" for i in range(n)})
    attacked = attacked.rename(columns={f"msp_{i}": f"maha_{i}" for i in range(n)})
    folds = pi.input_folds(n, 5, seed=0)
    fitted = pi.FoldDetectors(clean.filter(like="maha_").to_numpy(), attacked.filter(like="maha_").to_numpy(), folds)
    s0 = fitted.scores(clean.filter(like="maha_").to_numpy(), folds)
    s1 = fitted.scores(attacked.filter(like="maha_").to_numpy(), folds)
    assert pair_auc(s0, s1) == 0.5
    # what the test would see with a leak: the detectors that were fitted on input 0 separate its two copies
    Xc0, Xa0 = clean.filter(like="maha_").to_numpy()[:1], attacked.filter(like="maha_").to_numpy()[:1]
    for f, model in fitted.models.items():
        gap = model.decision_function(Xa0)[0] - model.decision_function(Xc0)[0]
        assert (gap == 0) if f == folds[0] else (gap > 0.1)
    # the same through the whole protocol, for every population and the transfer table
    spec = AttackSpec("fgsm", "fgsm", 0.1).to_dict()
    detection, transfer = pi.detection_tables(clean, {"a": attacked}, {"a": spec}, PER_INPUT, ["mahalanobis"])
    assert (detection.loc[detection["attack"] == "a", "auc"] == 0.5).all()


def test_folds_are_the_same_for_every_attack_and_cover_every_input():
    folds = pi.input_folds(103, 5, seed=3)
    assert np.array_equal(folds, pi.input_folds(103, 5, seed=3))
    assert sorted(np.bincount(folds).tolist()) == [20, 20, 21, 21, 21]


def shifted(n, column, shift, rng):
    """Features of n inputs: columns f0 and f1 standard normal, ``column`` shifted by ``shift``."""
    X = rng.normal(size=(n, 2))
    X[:, column] += shift
    return {"lid_f0": X[:, 0], "lid_f1": X[:, 1]}


def test_transfer_protocol():
    """Attack A moves feature 0, attack B moves feature 1, attack C moves feature 0 more than A. A detector fitted
    on A detects C (same direction) but not B (orthogonal); fitted on B, it detects B but not A or C."""
    rng = np.random.default_rng(0)
    n = 400
    ok = np.ones(n, int)
    clean = features_table(shifted(n, 0, 0.0, rng), ok)
    attacked = {
        "adv_fgsm_eps0.1": features_table(shifted(n, 0, 2.0, rng), 1 - ok),
        "adv_pgd_eps0.1": features_table(shifted(n, 1, 2.0, rng), 1 - ok),
        "adv_fgsm_eps0.2": features_table(shifted(n, 0, 4.0, rng), 1 - ok),
    }
    specs = {
        "adv_fgsm_eps0.1": AttackSpec("fgsm", "fgsm", 0.1),
        "adv_pgd_eps0.1": AttackSpec("pgd", "pgd", 0.1),
        "adv_fgsm_eps0.2": AttackSpec("fgsm", "fgsm", 0.2),
    }
    assert pi.transfer_pairs(specs) == [
        ("adv_fgsm_eps0.1", "adv_pgd_eps0.1", "method"),
        ("adv_fgsm_eps0.1", "adv_fgsm_eps0.2", "epsilon"),
        ("adv_pgd_eps0.1", "adv_fgsm_eps0.1", "method"),
        ("adv_fgsm_eps0.2", "adv_fgsm_eps0.1", "epsilon"),
    ]
    detection, transfer = pi.detection_tables(
        clean, attacked, {a: s.to_dict() for a, s in specs.items()}, PER_INPUT, ["lid"]
    )
    t = transfer[transfer["population"] == "all"].set_index(["train_attack", "test_attack"])["auc"]
    assert t[("adv_fgsm_eps0.1", "adv_fgsm_eps0.2")] > 0.95  # small -> large epsilon: same direction
    assert 0.4 < t[("adv_fgsm_eps0.1", "adv_pgd_eps0.1")] < 0.6  # FGSM -> PGD: another direction, chance
    assert 0.4 < t[("adv_pgd_eps0.1", "adv_fgsm_eps0.1")] < 0.6
    same = detection[(detection["population"] == "all") & (detection["role"] == "attack")].set_index("attack")["auc"]
    assert (same > 0.9).all()
    null = detection[detection["role"] == "null_control"]
    assert len(null) == 1 and null["auc_low"].item() < 0.5 < null["auc_high"].item()


def test_noise_control_and_populations():
    """The noise control is a row of its own, and the attack's detector's flag rate on noise inputs is reported:
    a detector of 'any change' (feature moved by attack and noise alike) flags noise as often as attacks."""
    rng = np.random.default_rng(1)
    n = 300
    clean = features_table(shifted(n, 0, 0.0, rng), np.r_[np.ones(200, int), np.zeros(100, int)])
    attack = features_table(shifted(n, 0, 3.0, rng), np.r_[np.zeros(150, int), np.ones(150, int)])
    noise = features_table(shifted(n, 0, 3.0, rng), np.ones(n, int))
    specs = {"adv_fgsm_eps0.1": AttackSpec("fgsm", "fgsm", 0.1), "adv_noise_eps0.1": AttackSpec("noise", "noise", 0.1)}
    det, _ = pi.detection_tables(
        clean,
        {"adv_fgsm_eps0.1": attack, "adv_noise_eps0.1": noise},
        {a: s.to_dict() for a, s in specs.items()},
        PER_INPUT,
        ["lid"],
    )
    row = det[(det["attack"] == "adv_fgsm_eps0.1") & (det["population"] == "successful")].iloc[0]
    assert row["n_pairs"] == 150  # correct when clean (the first 200) and misclassified attacked (the first 150)
    assert row["noise_flag_rate"] > 0.9
    noise_row = det[(det["attack"] == "adv_noise_eps0.1") & (det["population"] == "all")].iloc[0]
    assert noise_row["role"] == "noise_control" and noise_row["auc"] > 0.95
    # no input is misclassified under noise: too few pairs, the row says so and holds no AUC
    empty = det[(det["attack"] == "adv_noise_eps0.1") & (det["population"] == "successful")].iloc[0]
    assert empty["n_pairs"] == 0 and np.isnan(empty["auc"])


# ------------------------------------------------------------------------------------------- files


def test_detector_names_and_columns():
    assert tuple(pi.DETECTORS) == DETECTOR_NAMES
    table = pd.DataFrame(columns=["msp", "entropy", "maha_fc1.in", "lid_output", "tu_fc1", "psg_b0_0.00"])
    assert pi.detector_columns(table, "mahalanobis") == ["maha_fc1.in"]
    assert pi.detector_columns(table, "max_softmax") == ["msp"]
    assert pi.detector_columns(table, "topological_uncertainty") == ["tu_fc1"]


def test_arrays_files_are_data_never_code(tmp_path):
    pi.save_arrays(tmp_path / "ok.npz", {"a": np.arange(3.0)}, {"detector": "x"})
    arrays, meta = pi.load_arrays(tmp_path / "ok.npz")
    assert arrays["a"].tolist() == [0.0, 1.0, 2.0] and meta == {"detector": "x"}
    marker = tmp_path / "ran"
    payload = np.empty(1, dtype=object)
    payload[0] = _Payload(marker)
    np.savez(tmp_path / "evil.npz", meta=np.array("{}"), payload=payload)
    with pytest.raises(ValueError, match="evil.npz: refused"):
        pi.load_arrays(tmp_path / "evil.npz")
    assert not marker.exists()
    (tmp_path / "text.npz").write_text("not a zip")
    with pytest.raises(ValueError, match="text.npz"):
        pi.load_arrays(tmp_path / "text.npz")
    with pytest.raises(ValueError, match="ok.npz: not a dnn-topology detector file"):
        pi.load_detector(tmp_path / "ok.npz")


def test_read_image_takes_arrays_and_image_files(tmp_path):
    from PIL import Image

    from dnn_topology.networks import datasets as dsets

    spec = dsets.get_spec("mnist5k")
    x = np.random.default_rng(0).uniform(0, 1, (28, 28)).astype(np.float32)
    for name, arr in (("hw", x), ("chw", x[None]), ("nchw", x[None, None])):
        np.save(tmp_path / f"{name}.npy", arr)
        np.testing.assert_array_equal(pi.read_image(tmp_path / f"{name}.npy", spec), x[None])
    Image.fromarray((x * 255).round().astype(np.uint8)).save(tmp_path / "digit.png")
    np.testing.assert_allclose(pi.read_image(tmp_path / "digit.png", spec), x[None], atol=0.5 / 255 + 1e-6)
    np.save(tmp_path / "bright.npy", x * 255)
    with pytest.raises(ValueError, match=r"bright.npy: pixel values must lie in \[0, 1\]"):
        pi.read_image(tmp_path / "bright.npy", spec)
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match="notes.txt: not an image"):
        pi.read_image(tmp_path / "notes.txt", spec)


@pytest.mark.slow
def test_adaptive_pgd_stays_in_the_ball_and_lowers_the_detector_logit():
    """Against a stand-in differentiable 'detector' (the output's first logit), on a real LeNet after one pass
    over 2,000 digits: the bound and the pixel range hold, the inputs are misclassified about as often as under
    PGD without the detector, and the detector's logit of the misclassified ones is lower."""
    from network_helpers import lenet_after_one_pass
    from torch.utils.data import Subset

    from dnn_topology.networks import datasets as dsets
    from dnn_topology.studies.adversarial.adaptive import adaptive_pgd
    from dnn_topology.studies.adversarial.attacks import normalize, sample_pixels

    net = lenet_after_one_pass()
    mean, std = dsets.normalization("mnist5k")
    x, y = sample_pixels(Subset(dsets.load_split("mnist5k", "test"), range(0, 1000, 10)), mean, std)
    spec = AttackSpec("pgd", "pgd", 0.2, steps=10, step_size=0.05, random_start=True, seed=1)

    def logit(reps):
        return reps["output"][:, 0]

    def none(reps):
        return torch.zeros(len(reps["output"]))

    adaptive = adaptive_pgd(net, x, y, spec, mean, std, logit, "cpu")
    plain = adaptive_pgd(net, x, y, spec, mean, std, none, "cpu")  # the detector ignored: PGD on the margin
    assert (adaptive - x).abs().max() <= 0.2 + 1e-6 and adaptive.min() >= 0 and adaptive.max() <= 1
    with torch.no_grad():
        out_a, out_p = net(normalize(adaptive, mean, std)), net(normalize(plain, mean, std))
    fooled_a, fooled_p = out_a.argmax(1) != y, out_p.argmax(1) != y
    assert fooled_a.float().mean() >= fooled_p.float().mean() - 0.05
    both = fooled_a & fooled_p
    assert both.sum() >= 10 and out_a[both, 0].mean() < out_p[both, 0].mean()


def test_a_file_that_is_no_archive_is_named_as_such_not_as_a_pickle(tmp_path):
    """A text file given as a detector file is not an archive; only an archive with pickled objects is refused as one."""
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match="notes.txt: not an .npz archive of arrays"):
        pi.load_arrays(tmp_path / "notes.txt")
