"""Snakemake script of rule per_input_detection (see rules/adversarial.smk)."""

from dnn_topology.io_utils import log_to_file
from dnn_topology.networks.samples import SampleSet
from dnn_topology.studies.adversarial.config import DETECTOR_NAMES
from dnn_topology.studies.adversarial.per_input import per_input_detection_stage

with log_to_file(snakemake.log[0]):
    per_input_detection_stage(
        clean_csv=snakemake.input.clean,
        attacked_csvs=snakemake.input.attacked,
        reference=snakemake.input.reference,
        checkpoint=snakemake.input.checkpoint,
        detection=snakemake.output.detection,
        transfer=snakemake.output.transfer,
        detector_files=dict(zip(DETECTOR_NAMES, snakemake.output.detectors)),
        attacks=snakemake.params.attacks,
        per_input=snakemake.params.per_input,
        network=snakemake.params.network,
        sample_set=SampleSet.from_params(snakemake.params.sample_set, snakemake.config),
        node_selection=snakemake.params.node_selection,
    )
