"""Every attribute key tunelab writes to a storage, in one place.

A stored key outlives the code that wrote it: a study written by one version is read by the
next, by a worker on another machine and by the report. Keeping the keys together shows at a
glance what the storage holds and keeps two components from claiming one key.
"""

from __future__ import annotations

# Trial system attributes ------------------------------------------------------------------------
FIXED_PARAMS_ATTR = "fixed_params"  # parameters set in advance (enqueue_trial, retries, PBT)
RESUME_ATTR = "resume"  # the checkpoint a continuation trial loads (tunelab.trial.Resume)
CHECKPOINT_STEP_ATTR = "checkpoint_step"  # the last step a trial's training saved a checkpoint at
WORKER_ATTR = "worker"  # the process that ran a trial, as "host:pid"
DEVICE_ATTR = "device"  # the device its worker was given
RETRY_ATTR = "retry"  # {"of": the first try's number, "count": k}
PBT_ATTR = "pbt"  # a population-based training member's lineage
CONSTRAINTS_ATTR = "constraints"  # constraint values, each <= 0 when satisfied
NAMED_CONSTRAINT_PREFIX = "constraints:"  # "constraints:NAME": one named constraint's value
TELEMETRY_ATTR = "telemetry"  # per-epoch training telemetry (tunelab.telemetry)
DIVERGENCE_ATTR = "divergence"  # where the training loss stopped being finite
VALIDATION_SIZE_ATTR = "validation_size"  # how many examples the validation metric was taken on
PRUNER_CONSULTED_ATTR = "pruner_consulted"  # the pruner's name, at a trial's first should_prune()
ARTIFACT_ATTR = "artifact_dir"  # the folder holding the trial's saved weights
CV_CURVES_ATTR = "cv_curves"  # per-fold learning curves of a cross-validated trial
PER_FOLD_PREFIX = "fold_"  # "fold_telemetry" and the like: a cross-validated trial's, per fold
DASK_TICKET_ATTR = "dask_task"  # the key of the Dask task that ran the trial
OPTUNA_SYSTEM_ATTRS_ATTR = "optuna_system_attrs"  # an imported trial's Optuna system attributes
ARTIFACT_META_PREFIX = "artifacts:"  # "artifacts:ID": an uploaded file's meta (tunelab.artifacts)
PRUNE_REQUEST_ATTR = "prune_request"  # when a prune was asked from outside (study.request_prune)

# Trial user attributes (shown to the user as their own) ------------------------------------------
CV_SCORES_ATTR = "cv_scores"
CV_MEAN_ATTR = "cv_mean"
CV_STD_ATTR = "cv_std"
FOLD_RESULT_KEY = "result"  # PER_FOLD_PREFIX + this: a TuneSearchCV trial's times, scores, errors
BEST_EPOCH_ATTR = "best_epoch"  # the epoch of a task's best validation metric
EPOCHS_RUN_ATTR = "epochs_run"  # how many epochs a task trained (early stopping may cut it)
TEST_METRIC_PREFIX = "test_"  # "test_accuracy" and the like: a task's scores on its test part
COSTS_ATTR = "costs"  # a task's measured costs by name (tunelab.quantities), in their units
OVER_LIMIT_ATTR = "over_limit"  # why a task's trial is infeasible: the limit it broke, and when

# Study system attributes ------------------------------------------------------------------------
HEARTBEAT_ATTR = "heartbeat"  # the heartbeat settings every worker follows
STUDY_FILE_ATTR = "study_file"  # the study file's fields, for `tunelab worker`
SAMPLER_CHOICE_ATTR = "sampler"  # the algorithm the auto sampler chose, with why
PRUNER_ATTR = "pruner"  # the name of the pruner that judged the study's trials last
DASK_INTERRUPTED_PREFIX = "dask_interrupted"  # "dask_interrupted:RUN": how a Dask run was stopped
METRIC_NAMES_ATTR = "metric_names"  # names given by set_metric_names after the study was created
IMPORTED_FROM_ATTR = "imported_from"  # an imported study's source, and the attributes it had there
STOP_REQUESTS_ATTR = "stop_requests"  # how many stops of its runs were asked (study.request_stop)
NOTE_ATTR = "note"  # the study's note (study.set_note)
TRIAL_NOTE_PREFIX = "note:"  # "note:N": trial N's note, kept here since a finished trial is frozen
# ARTIFACT_META_PREFIX as on trials: the files uploaded to the study itself (Optuna's key too)
