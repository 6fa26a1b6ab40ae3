import os

from hyperscan.derivatives import derivatives_stage
from hyperscan.logs import chose, end_job, stage_log, step

# runs after provenance (it files the finished outputs, provenance.json among them): it must
# not drop the manifest as the other stages do
log = stage_log(snakemake)
chose(log, snakemake.params.config, ["bids_root"])
with step("BIDS derivatives", log):
    derivatives_stage(
        os.path.dirname(snakemake.output[0]),  # dataset_description.json lies in output_dir
        snakemake.params.sessions,
        snakemake.params.config,
        snakemake.output[0],
    )
end_job()  # done: skip the interpreter teardown (hyperscan.logs.end_job)
