"""The YAML study file: what to optimize, how, and for how long.

A study file is flat and uses the same names as :func:`tunelab.create_study`::

    name: quadratic
    objective: quadratic:objective     # module:function, found next to this file or in the cwd
    direction: minimize
    sampler: random                    # or {name: grid, search_space: {x: [-1, 0, 1]}}
    pruner: median                     # or {name: median, n_warmup_steps: 2}
    n_trials: 50                       # and/or timeout: 10m
    seed: 0
    n_jobs: 4                          # worker processes (-1: one per core); devices: [cuda:0]
    fuse: 32                           # with a 'task:', train 32 trials at a time as one model
    heartbeat_interval: 10             # fail (and with max_retries: 1, retry) dead workers' trials

Validation happens before any trial runs, and every problem becomes one
:class:`~tunelab.exceptions.ConfigError` paragraph that starts with the file name and the field
at fault and says how to fix it: a typo in a study file should cost seconds, not a traceback
read after an hour of training.

The modules, each importing only those above it in this list: :mod:`~tunelab.config.reading`
(the YAML file, durations), :mod:`~tunelab.config.objective` (importing ``module:function``),
:mod:`~tunelab.config.schema` (the fields and their checks), :mod:`~tunelab.config.loading` (a
file loaded whole, its task built), :mod:`~tunelab.config.trust` (what a stored study may make a
command import and read) and :mod:`~tunelab.config.stored` (a study rebuilt from what its
storage keeps of its file).
"""

from tunelab._attrs import STUDY_FILE_ATTR
from tunelab.config.loading import (
    load_study_config,
    load_study_file,
    prepare_objective,
    read_study_config,
)
from tunelab.config.objective import resolve_objective
from tunelab.config.reading import parse_duration, read_study_file
from tunelab.config.schema import StudyConfig, validate_study_config
from tunelab.config.stored import (
    config_record,
    load_stored_study,
    stored_objective,
    stored_study_file,
)
from tunelab.config.trust import StorageTrust, UntrustedStorageError
from tunelab.storage import DEFAULT_STORAGE, check_storage_url

__all__ = [
    "DEFAULT_STORAGE",
    "STUDY_FILE_ATTR",
    "StorageTrust",
    "StudyConfig",
    "UntrustedStorageError",
    "check_storage_url",
    "config_record",
    "load_stored_study",
    "load_study_config",
    "load_study_file",
    "parse_duration",
    "prepare_objective",
    "read_study_config",
    "read_study_file",
    "resolve_objective",
    "stored_objective",
    "stored_study_file",
    "validate_study_config",
]
