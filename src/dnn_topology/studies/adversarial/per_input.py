"""Is this one input adversarial? Per-input detectors, topological and not, evaluated as detection papers do.

Detectors (:data:`DETECTORS`): each is a logistic regression (standardised features; :func:`~dnn_topology.
studies.adversarial.evaluation.logistic_detector`) on per-input features:

==========================  ==========  =====================================================================
detector                    family      features of one input
==========================  ==========  =====================================================================
topological_uncertainty     topology    per dense layer, Topological Uncertainty (Lacombe et al. 2021): the
                                        distance of its activation graph's 0-dim diagram to the class mean
                                        (:mod:`~dnn_topology.studies.adversarial.topological_uncertainty`)
per_sample_graph            topology    beta_0 at 21 thresholds of the original's per-sample graph, done
                                        correctly (:mod:`~dnn_topology.studies.adversarial.per_sample_graph`)
max_softmax                 baseline    the largest softmax probability (Hendrycks & Gimpel 2017)
entropy                     baseline    the predictive entropy
mahalanobis                 baseline    per representation layer, the Mahalanobis distance to the closest class
                                        mean (Lee et al. 2018)
lid                         baseline    per representation layer, local intrinsic dimensionality (Ma et al.
                                        2018) (:mod:`~dnn_topology.studies.adversarial.baselines`)
==========================  ==========  =====================================================================

Layers. The *dense layers* are the network's ``torch.nn.Linear`` modules in order; Topological Uncertainty uses
each (weights and input); the *representation layers* of Mahalanobis and LID are the inputs of the same dense
layers (``<layer>.in``) and the network's output (``output``): for LeNet ``fc1.in`` (conv2's pooled output, 320
values), ``fc2.in`` (fc1's, 50) and ``output`` (10 log-probabilities). The per-sample graph uses the run's
``activations.node_selection`` (LeNet in ``config/adversarial.yaml``: all 1,820 nodes, convolutions included).

Reference data (:func:`fit_reference`): ``n_reference`` *training* inputs (of those the network was trained on)
give the class means of Topological Uncertainty and Mahalanobis, the shared covariance, and LID's reference set
(``lid_reference`` of them). No test input is used to fit them.

Protocol (:func:`detection_tables`), per trial and epoch, on the run's fixed test inputs (``activations``) and
their attacked copies (rule ``attack``):

* **Populations**: ``successful``: the inputs the network classifies correctly whose attacked copy it
  misclassifies, clean (negatives) vs attacked (positives), as Ma et al. and Lee et al.; ``all``: every input,
  clean vs attacked.
* **Disjoint inputs**: the inputs are dealt to ``folds`` folds (:func:`input_folds`, the same for every attack);
  an input and all its attacked copies are in one fold. The detector of fold f is fitted on the other folds'
  inputs and scores fold f's: out-of-fold scores, never of an input it was fitted on.
* **Metrics**: ROC AUC; detection rate at ``fpr`` (5%) false positives (threshold from the out-of-fold clean
  scores); 95% intervals from ``n_bootstrap`` resamples of the input pairs; a one-sided permutation p-value
  (``n_permutations`` random swaps within pairs); the spread of the per-fold AUCs.
* **Controls** (column ``role``): ``null_control`` (attack ``clean-vs-clean``: random pairs of distinct clean
  inputs, one side labelled attacked; the AUC must be near 0.5); ``noise_control``: the noise control at each
  epsilon (``adv_noise_eps<e>``); and for each attack the fraction of noise inputs of the same epsilon that its
  detector flags at the threshold that flags 5% of the clean inputs (``noise_flag_rate``: near 0.05 if noise of
  the attack's size does not count as detection).
* **Transfer** (:func:`transfer_table`): the fold detectors fitted on attack A score attack B's inputs of the
  held-out folds: FGSM <-> PGD at the same epsilon, and between the epsilons of one method.

Detector files (:func:`save_detector`, :func:`load_detector`): ``.npz`` archives of arrays and one JSON string,
read with ``numpy.load(allow_pickle=False)``: data, never code. One per detector, fitted on all inputs of
``deploy_attack``; ``dnn-topology detect`` (:func:`detect_one`) scores one image with it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ...io_utils import atomic_path, get_logger, write_csv
from ...layout import parse_epoch_path
from ...networks.samples import SampleSet
from . import baselines as bl
from . import topological_uncertainty as tu
from .config import AttackSpec
from .evaluation import (
    NULL_ATTACK,
    NULL_CONTROL,
    ROW_KEYS,
    detection_rate,
    flag_threshold,
    logistic_detector,
    pair_auc,
    pair_bootstrap,
    pair_folds,
    pair_permutation_pvalue,
    role_of,
)
from .per_sample_graph import THRESHOLDS, per_sample_betti_curve

DETECTORS: dict[str, tuple[str, str]] = {
    "topological_uncertainty": ("topology", "tu_"),
    "per_sample_graph": ("topology", "psg_"),
    "max_softmax": ("baseline", "msp"),
    "entropy": ("baseline", "entropy"),
    "mahalanobis": ("baseline", "maha_"),
    "lid": ("baseline", "lid_"),
}
"""detector -> (family, prefix of its feature columns)."""
DIFFERENTIABLE = ("max_softmax", "mahalanobis")
"""Detectors an adaptive attacker can differentiate (:mod:`~dnn_topology.studies.adversarial.adaptive`)."""
POPULATIONS = ("successful", "all")
DETECTION_COLUMNS = [
    *ROW_KEYS,
    "population",
    "detector",
    "family",
    "n_features",
    "n_pairs",
    "auc",
    "auc_low",
    "auc_high",
    "p_value",
    "detection_rate",
    "rate_low",
    "rate_high",
    "noise_flag_rate",
    "fold_auc_mean",
    "fold_auc_std",
]
TRANSFER_COLUMNS = [
    "trial",
    "epoch",
    "train_attack",
    "test_attack",
    "kind",
    "population",
    "detector",
    "family",
    "n_pairs",
    "auc",
    "auc_low",
    "auc_high",
    "detection_rate",
    "rate_low",
    "rate_high",
    "same_attack_auc",
]
FORMAT = "dnn-topology per-input detector"
FORMAT_VERSION = 1


# ------------------------------------------------------------------------------------------- the network's layers


def dense_layers(net) -> list[tuple[str, object]]:
    """(name, module) of every ``torch.nn.Linear`` of ``net``, in registration (= forward) order."""
    import torch.nn as nn

    return [(name, m) for name, m in net.named_modules() if isinstance(m, nn.Linear)]


def representation_layers(net) -> list[str]:
    """Names of the representation layers of Mahalanobis and LID: ``<dense layer>.in`` for each dense layer, and
    ``output``."""
    return [f"{name}.in" for name, _ in dense_layers(net)] + ["output"]


def forward_representations(net, x, selection=None, grad: bool = False) -> dict:
    """One forward pass of normalised inputs ``x``: the input of each dense layer (flattened tensors, by layer
    name), the network's output (its last feature layer: logits or log-probabilities) and, with a node
    ``selection``, the selected node activations (numpy, (n, N)).

    With ``grad`` the tensors keep their graph (the adaptive attack differentiates through them).
    """
    import torch

    captured: dict[str, torch.Tensor] = {}
    hooks = [
        m.register_forward_hook(lambda mod, inp, out, name=name: captured.__setitem__(name, inp[0].flatten(1)))
        for name, m in dense_layers(net)
    ]
    try:
        with torch.set_grad_enabled(grad):
            feats = net.forward_features(x)
    finally:
        for h in hooks:
            h.remove()
    out = {"dense": captured, "output": feats[-1].flatten(1)}
    if selection is not None:
        out["nodes"] = selection.apply([f.detach().float().cpu().numpy() for f in feats])
    return out


def _numpy(t) -> np.ndarray:
    return t.detach().float().cpu().numpy().astype(np.float64)


def network_arrays(net, x_pixels, mean, std, device, selection=None, batch_size: int = 250) -> dict:
    """Everything the features need of inputs ``x_pixels`` (pixels in [0, 1]), in numpy, batch by batch:
    ``dense`` (layer -> (n, in)), ``output`` (n, C) and, with ``selection``, ``nodes`` (n, N)."""
    from .attacks import normalize

    net.eval()
    parts: list[dict] = []
    for s in range(0, len(x_pixels), batch_size):
        xb = normalize(x_pixels[s : s + batch_size].to(device), mean, std)
        r = forward_representations(net, xb, selection)
        parts.append(
            {
                "dense": {k: _numpy(v) for k, v in r["dense"].items()},
                "output": _numpy(r["output"]),
                **({"nodes": r["nodes"]} if selection is not None else {}),
            }
        )
    out = {
        "dense": {k: np.concatenate([p["dense"][k] for p in parts]) for k in parts[0]["dense"]},
        "output": np.concatenate([p["output"] for p in parts]),
    }
    if selection is not None:
        out["nodes"] = np.concatenate([p["nodes"] for p in parts])
    return out


def _representations(arrays: dict) -> dict[str, np.ndarray]:
    return {**{f"{k}.in": v for k, v in arrays["dense"].items()}, "output": arrays["output"]}


def dense_weights(net) -> dict[str, np.ndarray]:
    """Weight matrix (out, in) of each dense layer, float64."""
    return {name: m.weight.detach().cpu().numpy().astype(np.float64) for name, m in dense_layers(net)}


# ------------------------------------------------------------------------------------------- reference


def fit_reference(arrays: dict, labels: np.ndarray, weights: Mapping[str, np.ndarray], n_classes: int, per_input):
    """The reference fitted on training inputs (their :func:`network_arrays` and true ``labels``): arrays by key.

    * ``tu_means__<layer>`` (n_classes, in + out - 1): Frechet means of each dense layer's diagrams of the
      inputs predicted as each class (:func:`~dnn_topology.studies.adversarial.topological_uncertainty.class_frechet_means`);
    * ``maha_means__<layer>``, ``maha_precision__<layer>``: Mahalanobis class means (by true label) and the
      shared precision of each representation layer;
    * ``lid_reference__<layer>``: the first ``lid_reference`` inputs' representations (LID's reference set).
    """
    predicted = arrays["output"].argmax(axis=1)
    ref: dict[str, np.ndarray] = {}
    for layer, W in weights.items():
        diagrams = tu.bipartite_diagrams(W, arrays["dense"][layer])
        ref[f"tu_means__{layer}"] = tu.class_frechet_means(diagrams, predicted, n_classes)
    rng = np.random.default_rng(int(per_input["seed"]))
    lid_rows = np.sort(rng.choice(len(labels), size=int(per_input["lid_reference"]), replace=False))
    for layer, values in _representations(arrays).items():
        model = bl.fit_mahalanobis(values, labels, n_classes)
        ref[f"maha_means__{layer}"] = model.means
        ref[f"maha_precision__{layer}"] = model.precision
        ref[f"lid_reference__{layer}"] = values[lid_rows]
    return ref


def features_of(
    arrays: dict,
    weights: Mapping[str, np.ndarray],
    reference: Mapping[str, np.ndarray],
    per_input,
    detectors: Sequence[str] = tuple(DETECTORS),
) -> pd.DataFrame:
    """The features of ``detectors`` of the inputs of :func:`network_arrays` (one row each), and ``predicted``.

    Columns: ``predicted``; ``msp``, ``entropy``; ``maha_<layer>`` and ``lid_<layer>`` per representation layer;
    ``tu_<layer>`` per dense layer and ``topological_uncertainty`` (their mean, the paper's score, not a
    feature of the detector); ``psg_b0_<t>`` per threshold (with ``nodes`` in ``arrays``).
    """
    output = arrays["output"]
    predicted = output.argmax(axis=1)
    cols: dict[str, np.ndarray] = {"predicted": predicted, "msp": bl.max_softmax(output)}
    cols["entropy"] = bl.predictive_entropy(output)
    if "mahalanobis" in detectors:
        for layer, values in _representations(arrays).items():
            model = bl.MahalanobisModel(reference[f"maha_means__{layer}"], reference[f"maha_precision__{layer}"])
            cols[f"maha_{layer}"] = model.score(values)
    if "lid" in detectors:
        for layer, values in _representations(arrays).items():
            ref = reference[f"lid_reference__{layer}"]
            cols[f"lid_{layer}"] = bl.lid_scores(values, ref, int(per_input["lid_k"]))
    if "topological_uncertainty" in detectors:
        tus = []
        for layer, W in weights.items():
            diagrams = tu.bipartite_diagrams(W, arrays["dense"][layer])
            cols[f"tu_{layer}"] = tu.distance_to_class_mean(diagrams, predicted, reference[f"tu_means__{layer}"])
            tus.append(cols[f"tu_{layer}"])
        cols["topological_uncertainty"] = np.mean(tus, axis=0)
    if "per_sample_graph" in detectors and "nodes" in arrays:
        curve = per_sample_betti_curve(arrays["nodes"], THRESHOLDS)
        cols.update({f"psg_b0_{t:.2f}": curve[:, i] for i, t in enumerate(THRESHOLDS)})
    return pd.DataFrame(cols)


def detector_columns(table: pd.DataFrame, detector: str) -> list[str]:
    """The feature columns of ``detector`` in a features table."""
    prefix = DETECTORS[detector][1]
    return [c for c in table.columns if c == prefix or (prefix.endswith("_") and c.startswith(prefix))]


# ------------------------------------------------------------------------------------------- files


def _sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def save_arrays(path, arrays: Mapping[str, np.ndarray], meta: Mapping) -> None:
    """Write ``arrays`` and ``meta`` (JSON) to an ``.npz`` archive, atomically (no pickled object)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(
            fh, meta=np.array(json.dumps(dict(meta), sort_keys=True)), **{k: np.asarray(v) for k, v in arrays.items()}
        )


def load_arrays(path) -> tuple[dict[str, np.ndarray], dict]:
    """Read an archive of :func:`save_arrays`: ``numpy.load(allow_pickle=False)``, so an object array (a pickle,
    which could run code) is refused. Raises ``ValueError`` naming the file when it is not such an archive."""
    with open(path, "rb") as fh:
        if fh.read(4) != b"PK\x03\x04":  # an .npz is a zip archive; anything else would be read as a pickle
            raise ValueError(f"{path}: not an .npz archive of arrays (no zip header)")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except ValueError as err:
        raise ValueError(f"{path}: refused, it holds pickled objects (only arrays are read): {err}") from None
    except (OSError, EOFError) as err:
        raise ValueError(f"{path}: not an .npz archive of arrays: {err}") from None
    if "meta" not in arrays:
        raise ValueError(f"{path}: no 'meta' entry (not written by dnn-topology)")
    try:
        meta = json.loads(str(arrays.pop("meta")))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: its 'meta' entry is not JSON: {err}") from None
    return arrays, meta


# ------------------------------------------------------------------------------------------- stages (torch)


def network_and_samples(checkpoint, network, sample_set: SampleSet, node_selection, device, threads, inputs=None):
    """The checkpoint's network (on the configured device), the node selection, and the fixed samples as pixels
    with their labels; with ``inputs`` (an ``.npy`` of rule ``attack``) the attacked copies instead of the pixels."""
    from ...networks.activations import fixed_samples, load_network
    from ...networks.checkpoints import torch_setup
    from .attacks import sample_pixels

    dev = torch_setup(device, threads)
    net, selection = load_network(checkpoint, network, sample_set, node_selection, dev)
    x, y = sample_pixels(fixed_samples(sample_set)[0], *sample_set.normalization, sample_set.binarize_class)
    if inputs is not None:
        import torch

        adv = torch.from_numpy(np.load(inputs, allow_pickle=False))
        if adv.shape != x.shape:
            raise ValueError(f"{inputs}: attacked inputs of shape {tuple(adv.shape)}, the samples are {tuple(x.shape)}")
        x = adv
    return net, selection, x, y, dev


def per_input_reference_stage(
    *,
    checkpoint,
    reference,
    network: str,
    sample_set: SampleSet,
    per_input: Mapping,
    device: str = "auto",
    threads: int = 1,
) -> dict[str, np.ndarray]:
    """Stage ``per_input_reference``: the reference of the per-input detectors (:func:`fit_reference`) at one
    checkpoint, from training inputs, written to ``reference`` (``.npz``, :func:`save_arrays`).

    Parameters
    ----------
    checkpoint : str or Path
        The checkpoint of one epoch.
    reference : str or Path
        The archive to write.
    network : str
        Config key ``runs[].network``.
    sample_set : SampleSet
        The training inputs (:func:`dnn_topology.studies.adversarial.config.reference_samples`).
    per_input : mapping
        Config section ``adversarial.per_input``.
    device, threads
        Config key ``device``; torch threads.
    """
    net, _, x, y, dev = network_and_samples(checkpoint, network, sample_set, None, device, threads)
    mean, std = sample_set.normalization
    arrays = network_arrays(net, x, mean, std, dev)
    labels = y.numpy()
    ref = fit_reference(arrays, labels, dense_weights(net), sample_set.network_spec.num_classes, per_input)
    accuracy = float((arrays["output"].argmax(1) == labels).mean())
    meta = {
        "checkpoint_sha256": _sha256(checkpoint),
        "n_reference": len(labels),
        "accuracy": accuracy,
        "dense_layers": [n for n, _ in dense_layers(net)],
        "representation_layers": representation_layers(net),
    }
    save_arrays(reference, ref, meta)
    get_logger().info(
        "%s: reference of %d training inputs (accuracy %.3f), dense layers %s",
        checkpoint,
        len(labels),
        accuracy,
        meta["dense_layers"],
    )
    return ref


def per_input_features_stage(
    *,
    checkpoint,
    reference,
    features,
    network: str,
    sample_set: SampleSet,
    per_input: Mapping,
    node_selection: Mapping | None = None,
    inputs=None,
    device: str = "auto",
    threads: int = 1,
) -> pd.DataFrame:
    """Stage ``per_input_features``: every detector's features of the run's fixed samples, clean or attacked.

    Parameters
    ----------
    checkpoint, reference : str or Path
        The checkpoint of one epoch and its reference (:func:`per_input_reference_stage`).
    features : str or Path
        The CSV to write: ``index`` (position in the fixed samples), ``label``, ``correct``, then the columns of
        :func:`features_of`.
    network : str
        Config key ``runs[].network``.
    sample_set : SampleSet
        The run's fixed samples (those of the activations and attack stages).
    per_input : mapping
        Config section ``adversarial.per_input``.
    node_selection : mapping, optional
        Config key ``activations.node_selection``: the nodes of the per-sample graph.
    inputs : str or Path, optional
        The attacked copies of the samples (``inputs.npy`` of rule ``attack``, pixels); None: the clean samples.
    device, threads
        Config key ``device``; torch threads.
    """
    net, selection, x, y, dev = network_and_samples(
        checkpoint, network, sample_set, node_selection, device, threads, inputs
    )
    ref, meta = load_arrays(reference)
    if meta["checkpoint_sha256"] != _sha256(checkpoint):
        raise ValueError(f"{reference} was fitted on another checkpoint than {checkpoint} (rerun its rule)")
    arrays = network_arrays(net, x, *sample_set.normalization, dev, selection)
    table = features_of(arrays, dense_weights(net), ref, per_input)
    labels = y.numpy()
    table.insert(0, "index", np.arange(len(labels)))
    table.insert(1, "label", labels)
    table.insert(2, "correct", (table["predicted"].to_numpy() == labels).astype(int))
    write_csv(table, features)
    get_logger().info(
        "%s: %s, %d inputs (accuracy %.3f), %d feature columns",
        checkpoint,
        "clean" if inputs is None else inputs,
        len(table),
        table["correct"].mean(),
        table.shape[1] - 4,
    )
    return table


# ------------------------------------------------------------------------------------------- protocol


def input_folds(n_inputs: int, folds: int, seed: int = 0) -> np.ndarray:
    """The fold of each fixed input (and of all its attacked copies): the same for every attack, so that a
    detector fitted on one attack's training folds never sees a held-out input under another attack either."""
    return pair_folds(n_inputs, folds, seed)


def population(clean: pd.DataFrame, attacked: pd.DataFrame, name: str) -> np.ndarray:
    """Positions of the inputs of population ``name``: ``all``, or ``successful`` (classified correctly clean,
    misclassified attacked).

    Examples
    --------
    >>> clean = pd.DataFrame({"correct": [1, 1, 0, 1]})
    >>> population(clean, pd.DataFrame({"correct": [0, 1, 0, 0]}), "successful").tolist()
    [0, 3]
    """
    if name == "all":
        return np.arange(len(clean))
    if name == "successful":
        return np.flatnonzero((clean["correct"].to_numpy() == 1) & (attacked["correct"].to_numpy() == 0))
    raise ValueError(f"unknown population {name!r}; use one of {list(POPULATIONS)}")


class FoldDetectors:
    """The detectors of one feature set fitted per fold on (clean, attacked) pairs of the training folds."""

    def __init__(self, X_clean: np.ndarray, X_attacked: np.ndarray, folds: np.ndarray):
        self.folds = np.asarray(folds)
        self.models = {}
        for f in np.unique(self.folds):
            train = self.folds != f
            X = np.concatenate([X_clean[train], X_attacked[train]])
            y = np.r_[np.zeros(train.sum(), dtype=int), np.ones(train.sum(), dtype=int)]
            self.models[f] = logistic_detector().fit(X, y)

    def scores(self, X: np.ndarray, folds: np.ndarray) -> np.ndarray:
        """Out-of-fold scores: each row by the detector of its own fold (fitted without it)."""
        out = np.full(len(X), np.nan)
        for f, model in self.models.items():
            rows = np.asarray(folds) == f
            if rows.any():
                out[rows] = model.decision_function(X[rows])
        return out


def _metrics(clean_scores, attacked_scores, folds, per_input, seed) -> dict:
    fpr = float(per_input["fpr"])
    labels = np.r_[np.zeros(len(clean_scores)), np.ones(len(attacked_scores))]
    rate, _ = detection_rate(labels, np.r_[clean_scores, attacked_scores], fpr)
    per_fold = [
        pair_auc(clean_scores[folds == f], attacked_scores[folds == f])
        for f in np.unique(folds)
        if (folds == f).sum() > 0
    ]
    return {
        "auc": pair_auc(clean_scores, attacked_scores),
        **pair_bootstrap(clean_scores, attacked_scores, int(per_input["n_bootstrap"]), seed, fpr),
        "detection_rate": rate,
        "fold_auc_mean": float(np.mean(per_fold)),
        "fold_auc_std": float(np.std(per_fold)),
    }


def _enough(n_pairs: int, per_input) -> bool:
    return n_pairs >= 2 * int(per_input["folds"])


def detection_tables(
    clean: pd.DataFrame,
    attacked: Mapping[str, pd.DataFrame],
    attacks: Mapping[str, Mapping],
    per_input: Mapping,
    detectors: Sequence[str] = tuple(DETECTORS),
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The detection table (:data:`DETECTION_COLUMNS`, without trial and epoch) and the transfer table
    (:data:`TRANSFER_COLUMNS`) of one epoch: see the module docstring.

    ``clean`` and ``attacked[attack_id]`` are features tables (:func:`per_input_features_stage`) of the same inputs
    in the same order; ``attacks[attack_id]`` the attack specs (noise controls included).
    """
    seed, k = int(per_input["seed"]), int(per_input["folds"])
    n = len(clean)
    for a, table in attacked.items():
        if len(table) != n or not (table["index"].to_numpy() == clean["index"].to_numpy()).all():
            raise ValueError(f"the features of {a} are not of the same inputs as the clean ones")
    folds = input_folds(n, k, seed)
    specs = {a: AttackSpec(**attacks[a]) for a in attacked}
    rows, models = [], {}
    for detector in detectors:
        family = DETECTORS[detector][0]
        cols = detector_columns(clean, detector)
        Xc = clean[cols].to_numpy(float)
        # the null control: random pairs of distinct clean inputs, one side labelled 'attacked'
        order = np.random.default_rng(seed).permutation(n)
        half = n // 2
        a_side, b_side = order[:half], order[half : 2 * half]
        null_folds = pair_folds(half, k, seed)
        null = FoldDetectors(Xc[a_side], Xc[b_side], null_folds)
        s0, s1 = null.scores(Xc[a_side], null_folds), null.scores(Xc[b_side], null_folds)
        rows.append(
            {
                "attack": NULL_ATTACK,
                "role": NULL_CONTROL,
                "method": "none",
                "epsilon": 0.0,
                "population": "all",
                "detector": detector,
                "family": family,
                "n_features": len(cols),
                "n_pairs": half,
                **_metrics(s0, s1, null_folds, per_input, seed),
                "p_value": pair_permutation_pvalue(s0, s1, int(per_input["n_permutations"]), seed),
                "noise_flag_rate": np.nan,
            }
        )
        for attack_id, table in attacked.items():
            spec = specs[attack_id]
            Xa = table[cols].to_numpy(float)
            for pop in POPULATIONS:
                idx = population(clean, table, pop)
                row = {
                    "attack": attack_id,
                    "role": role_of(spec),
                    "method": spec.method,
                    "epsilon": spec.epsilon,
                    "population": pop,
                    "detector": detector,
                    "family": family,
                    "n_features": len(cols),
                    "n_pairs": len(idx),
                }
                if not _enough(len(idx), per_input):
                    rows.append(row)
                    continue
                fitted = FoldDetectors(Xc[idx], Xa[idx], folds[idx])
                models[(detector, attack_id, pop)] = (fitted, idx)
                s0, s1 = fitted.scores(Xc[idx], folds[idx]), fitted.scores(Xa[idx], folds[idx])
                row.update(_metrics(s0, s1, folds[idx], per_input, seed))
                row["p_value"] = pair_permutation_pvalue(s0, s1, int(per_input["n_permutations"]), seed)
                noise = _noise_of(spec, specs)
                if noise is not None:  # the threshold flags 5% of all clean inputs (out of fold), then noise
                    threshold = _threshold(fitted.scores(Xc, folds), per_input)
                    noise_scores = fitted.scores(attacked[noise][cols].to_numpy(float), folds)
                    row["noise_flag_rate"] = float((noise_scores > threshold).mean())
                rows.append(row)
    detection = pd.DataFrame(rows, columns=[c for c in DETECTION_COLUMNS if c not in ("trial", "epoch")])
    transfer = transfer_table(clean, attacked, specs, models, per_input, detection, detectors)
    return detection, transfer


def _threshold(clean_scores, per_input) -> float:
    return flag_threshold(clean_scores, float(per_input["fpr"]))


def _noise_of(spec: AttackSpec, specs: Mapping[str, AttackSpec]) -> str | None:
    """The noise control at an attack's epsilon, when there is one."""
    if spec.is_control:
        return None
    return next((a for a, s in specs.items() if s.is_control and s.epsilon == spec.epsilon), None)


def transfer_pairs(specs: Mapping[str, AttackSpec]) -> list[tuple[str, str, str]]:
    """(train attack, test attack, kind) of the transfer table: another method at the same epsilon (kind
    ``method``, e.g. FGSM -> PGD) and another epsilon of the same method (kind ``epsilon``: smaller -> larger
    and larger -> smaller). Noise controls are neither trained nor tested on.

    Examples
    --------
    >>> s = {a: AttackSpec(m, m, e) for a, m, e in [("f1", "fgsm", 0.1), ("p1", "pgd", 0.1), ("f2", "fgsm", 0.2)]}
    >>> transfer_pairs(s)
    [('f1', 'p1', 'method'), ('f1', 'f2', 'epsilon'), ('p1', 'f1', 'method'), ('f2', 'f1', 'epsilon')]
    """
    attacks = [a for a, s in specs.items() if not s.is_control]
    pairs = []
    for a in attacks:
        for b in attacks:
            if a == b:
                continue
            sa, sb = specs[a], specs[b]
            if sa.epsilon == sb.epsilon and sa.method != sb.method:
                pairs.append((a, b, "method"))
            elif sa.method == sb.method and sa.epsilon != sb.epsilon:
                pairs.append((a, b, "epsilon"))
    return pairs


def transfer_table(clean, attacked, specs, models, per_input, detection, detectors) -> pd.DataFrame:
    """Transfer rows (:data:`TRANSFER_COLUMNS` without trial and epoch): the fold detectors fitted on the train
    attack (``models`` of :func:`detection_tables`) score the test attack's inputs of their held-out folds."""
    seed, k = int(per_input["seed"]), int(per_input["folds"])
    folds = input_folds(len(clean), k, seed)
    same = detection.set_index(["detector", "attack", "population"])["auc"]
    rows = []
    for train, test, kind in transfer_pairs(specs):
        for detector in detectors:
            cols = detector_columns(clean, detector)
            for pop in POPULATIONS:
                idx = population(clean, attacked[test], pop)
                row = {
                    "train_attack": train,
                    "test_attack": test,
                    "kind": kind,
                    "population": pop,
                    "detector": detector,
                    "family": DETECTORS[detector][0],
                    "n_pairs": len(idx),
                    "same_attack_auc": same.get((detector, test, pop), np.nan),
                }
                fitted = models.get((detector, train, pop))
                if fitted is None or not _enough(len(idx), per_input):
                    rows.append(row)
                    continue
                s0 = fitted[0].scores(clean[cols].to_numpy(float)[idx], folds[idx])
                s1 = fitted[0].scores(attacked[test][cols].to_numpy(float)[idx], folds[idx])
                m = _metrics(s0, s1, folds[idx], per_input, seed)
                row.update({c: m[c] for c in ("auc", "auc_low", "auc_high", "detection_rate", "rate_low", "rate_high")})
                rows.append(row)
    return pd.DataFrame(rows, columns=[c for c in TRANSFER_COLUMNS if c not in ("trial", "epoch")])


# ------------------------------------------------------------------------------------------- detector files


def fit_detector(clean: pd.DataFrame, attacked: pd.DataFrame, detector: str, per_input, rows=None):
    """A detector fitted on ``rows`` (default: all) inputs' clean and attacked features of population
    ``successful`` (or ``all`` when fewer than 10 pairs succeed), and its threshold at ``fpr`` false positives
    on all clean inputs of ``rows`` (what it will see in use: any clean input, not only those an attack fools).
    Returns (model, columns, threshold, population, n_pairs)."""
    rows = np.arange(len(clean)) if rows is None else np.asarray(rows)
    pop = "successful"
    idx = np.intersect1d(population(clean, attacked, pop), rows)
    if len(idx) < 10:
        pop, idx = "all", rows
    cols = detector_columns(clean, detector)
    Xc, Xa = clean[cols].to_numpy(float)[idx], attacked[cols].to_numpy(float)[idx]
    model = logistic_detector().fit(np.concatenate([Xc, Xa]), np.r_[np.zeros(len(idx)), np.ones(len(idx))])
    threshold = _threshold(model.decision_function(clean[cols].to_numpy(float)[rows]), per_input)
    return model, cols, threshold, pop, len(idx)


def save_detector(
    path, detector: str, model, columns, threshold: float, reference, reference_meta, info: Mapping
) -> None:
    """Write a fitted detector to ``path`` (``.npz`` of :func:`save_arrays`): the logistic regression (scaler mean
    and scale, coefficients, intercept), the part of the reference its features need, its threshold and
    ``info`` (network, sample set, checkpoint, attack, population, ...)."""
    scaler, lr = model.named_steps["standardscaler"], model.named_steps["logisticregression"]
    prefix = {"topological_uncertainty": "tu_", "mahalanobis": "maha_", "lid": "lid_"}.get(detector)
    arrays = {
        "scaler_mean": scaler.mean_,
        "scaler_scale": scaler.scale_,
        "coef": lr.coef_[0],
        "intercept": lr.intercept_,
        **({k: v for k, v in reference.items() if k.startswith(prefix)} if prefix else {}),
    }
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "detector": detector,
        "family": DETECTORS[detector][0],
        "features": list(columns),
        "threshold": float(threshold),
        "dense_layers": reference_meta["dense_layers"],
        "representation_layers": reference_meta["representation_layers"],
        **dict(info),
    }
    save_arrays(path, arrays, meta)


def load_detector(path) -> tuple[dict[str, np.ndarray], dict]:
    """A detector file of :func:`save_detector` (read as data: ``allow_pickle=False``); ``ValueError`` naming
    the file when it is not one."""
    arrays, meta = load_arrays(path)
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path}: not a dnn-topology detector file (its meta has format {meta.get('format')!r})")
    if meta.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path}: detector format version {meta.get('format_version')}, this reads {FORMAT_VERSION}")
    missing = [k for k in ("scaler_mean", "scaler_scale", "coef", "intercept") if k not in arrays]
    if missing or meta.get("detector") not in DETECTORS:
        raise ValueError(f"{path}: incomplete detector file (missing {missing or ['a known detector name']})")
    return arrays, meta


def decision_value(arrays: Mapping[str, np.ndarray], features: np.ndarray) -> np.ndarray:
    """The detector's logit (higher = more likely attacked) for feature rows, from the file's arrays."""
    z = (np.asarray(features, float) - arrays["scaler_mean"]) / arrays["scaler_scale"]
    return z @ arrays["coef"] + arrays["intercept"][0]


def per_input_detection_stage(
    *,
    clean_csv,
    attacked_csvs: Sequence,
    reference,
    checkpoint,
    detection,
    transfer,
    detector_files: Mapping[str, str],
    attacks: Mapping[str, Mapping],
    per_input: Mapping,
    network: str,
    sample_set: SampleSet,
    node_selection: Mapping | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stage ``per_input_detection``: the detection and transfer tables of one trial and epoch, and the detector
    files (:func:`save_detector`) fitted on every input of ``per_input.deploy_attack``.

    Parameters
    ----------
    clean_csv, attacked_csvs : path, sequence of paths
        Features of the clean inputs and of each attack and noise control (``.../epoch_<E>/[<attack id>/]
        features.csv``; trial, epoch and attack are read from the paths).
    reference, checkpoint : path
        The epoch's reference (its arrays go into the detector files) and checkpoint (its SHA-256 too).
    detection, transfer : path
        The CSV files to write (:data:`DETECTION_COLUMNS`, :data:`TRANSFER_COLUMNS`).
    detector_files : mapping
        detector -> ``.npz`` to write.
    attacks : mapping
        attack id -> attack spec (dict).
    per_input : mapping
        Config section ``adversarial.per_input`` (``deploy_attack`` resolved).
    network, sample_set, node_selection
        What the detector files record: the network, its samples' dataset and labels, the per-sample graph's nodes.
    """
    where = parse_epoch_path(clean_csv)
    clean = pd.read_csv(clean_csv)
    attacked = {parse_epoch_path(p).attack: pd.read_csv(p) for p in attacked_csvs}
    det, trans = detection_tables(clean, attacked, attacks, per_input)
    for table in (det, trans):
        table.insert(0, "epoch", where.epoch)
        table.insert(0, "trial", where.trial)
    write_csv(det, detection)
    write_csv(trans, transfer)
    ref, ref_meta = load_arrays(reference)
    deploy = per_input["deploy_attack"]
    for detector, path in detector_files.items():
        model, cols, threshold, pop, n_pairs = fit_detector(clean, attacked[deploy], detector, per_input)
        info = {
            "network": network,
            "sample_set": sample_set.params(),
            "node_selection": dict(node_selection or {}),
            "checkpoint_sha256": _sha256(checkpoint),
            "trial": where.trial,
            "epoch": where.epoch,
            "trained_on": deploy,
            "population": pop,
            "n_pairs": n_pairs,
            "fpr": float(per_input["fpr"]),
            "lid_k": int(per_input["lid_k"]),
        }
        save_detector(path, detector, model, cols, threshold, ref, ref_meta, info)
    get_logger().info(
        "trial %d, epoch %d: %d detection rows, %d transfer rows; detectors fitted on %s",
        where.trial,
        where.epoch,
        len(det),
        len(trans),
        deploy,
    )
    return det, trans


def per_input_aggregate_stage(
    *, detection_csvs, transfer_csvs, adaptive_csvs, detection, transfer, adaptive=None
) -> None:
    """Stage ``per_input_aggregate``: the per-epoch tables of a run, one table each (rows in trial, epoch order);
    ``adaptive`` None: no adaptive-attack table (``adversarial.per_input.adaptive.enabled: false``)."""
    for paths, out in ((detection_csvs, detection), (transfer_csvs, transfer), (adaptive_csvs, adaptive)):
        if out is None:
            continue
        frames = [pd.read_csv(p) for p in paths]
        table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        if len(table):
            table = table.sort_values(["trial", "epoch"], kind="stable", ignore_index=True)
        write_csv(table, out)


# ------------------------------------------------------------------------------------------- one input


def read_image(path, spec) -> np.ndarray:
    """One image as pixels in [0, 1], shape (C, H, W) of the dataset ``spec``: an ``.npy`` array (read without
    pickles; (H, W), (C, H, W) or (1, C, H, W), values in [0, 1]) or an image file (PNG, JPEG, ... via Pillow,
    resized to the dataset's size, grey or RGB as the dataset)."""
    path = Path(path)
    shape = (spec.in_channels, spec.input_size, spec.input_size)
    if path.suffix.lower() == ".npy":
        try:
            x = np.load(path, allow_pickle=False).astype(np.float32)
        except ValueError as err:
            raise ValueError(f"{path}: not an array of numbers ({err})") from None
        x = x.reshape(x.shape[-3:]) if x.ndim == 4 and x.shape[0] == 1 else x
        x = x[None] if x.ndim == 2 else x
        if x.shape != shape:
            raise ValueError(f"{path}: image of shape {x.shape}, the network takes {shape} (channels, height, width)")
        if not np.isfinite(x).all() or x.min() < 0 or x.max() > 1:
            raise ValueError(f"{path}: pixel values must lie in [0, 1] (found {x.min():g} to {x.max():g})")
        return x
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img = img.convert("L" if spec.in_channels == 1 else "RGB").resize((spec.input_size, spec.input_size))
            x = np.asarray(img, dtype=np.float32) / 255.0
    except UnidentifiedImageError:
        raise ValueError(f"{path}: not an image Pillow can read, nor an .npy array") from None
    return x[None] if x.ndim == 2 else np.transpose(x, (2, 0, 1))


def detect_one(detector_file, checkpoint, image, device: str = "auto") -> dict:
    """Score one image with a detector file: its features under the checkpoint, the detector's logit, the
    threshold (at the file's false-positive rate on clean inputs) and the decision.

    Raises ``ValueError`` naming the file when the detector file is not one, was fitted on another checkpoint, or
    the image does not fit the network.
    """
    import torch

    from ...networks.checkpoints import load_checkpoint, torch_setup

    arrays, meta = load_detector(detector_file)
    sample_set = SampleSet.from_params(meta["sample_set"], {})  # its dataset's shape; no data is read
    if _sha256(checkpoint) != meta["checkpoint_sha256"]:
        raise ValueError(
            f"{detector_file} was fitted on another checkpoint than {checkpoint} (trial {meta['trial']}, epoch "
            f"{meta['epoch']} of its run): a detector describes one network's weights"
        )
    dev = torch_setup(device, 1)
    spec = sample_set.network_spec
    net, _ = load_checkpoint(checkpoint, meta["network"], spec, dev)
    x = torch.from_numpy(read_image(image, spec))[None]
    selection = None
    if meta["detector"] == "per_sample_graph":
        from ...networks.models import feature_shapes
        from ...networks.nodes import plan_selection

        shapes = feature_shapes(net, spec)
        selection = plan_selection(list(shapes.values()), list(shapes), **meta["node_selection"])
    values = network_arrays(net, x, *sample_set.normalization, dev, selection)
    table = features_of(values, dense_weights(net), arrays, {"lid_k": meta["lid_k"]}, [meta["detector"]])
    missing = [c for c in meta["features"] if c not in table.columns]
    if missing:
        raise ValueError(f"{detector_file}: features {missing} cannot be computed for this network")
    score = float(decision_value(arrays, table[meta["features"]].to_numpy(float))[0])
    return {
        "detector": meta["detector"],
        "score": score,
        "threshold": meta["threshold"],
        "fpr": meta["fpr"],
        "adversarial": bool(score > meta["threshold"]),
        "predicted_class": int(table["predicted"].iloc[0]),
        "trained_on": meta["trained_on"],
        "epoch": meta["epoch"],
    }
