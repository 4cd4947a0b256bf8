"""Does pre-training pay? The transfer-learning example against training from scratch.

``examples/transfer_digits.yaml`` pre-trains a CNN on the ten digit classes and fine-tunes it
on the same digits with their contrast inverted, from 3 labelled images per class. This script
trains, for each seed, the same model with the same recipe and budget twice on that fine-tuning
data: once from the pre-trained weights (with the example's freezing schedule, if any) and once
from a random initialization (nothing frozen). The split, and so the few labelled images,
differs between seeds (the data seed of both the pre-training and the fine-tuning), and so do
the initialization and the shuffling (the recipe seed); the pre-training runs once per seed.
The search entries of the example are fixed at the middle of their ranges (geometric middle
for log ranges). Validation accuracy is measured on the full validation part of the
fine-tuning data. The last line gives the mean gain with its standard error (over seeds).

``--rotate 90`` (or 180, 270) also turns the fine-tuning images, for other domain shifts;
``--probe`` trains only the output layer on frozen blocks (pre-trained or random features),
which shows how much the pre-trained features themselves separate the classes.

Usage: ``python bench/transfer.py [--seeds 0 1 2 3 4] [--example PATH] [--rotate DEGREES]
[--probe]``; about 30 s on 2 cores for five seeds.
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
from pathlib import Path
from typing import Any

import torch

from tunelab.config import read_study_file
from tunelab.space import CategoricalDistribution, Distribution
from tunelab.torch.task import Task
from tunelab.torch.trainer import Trainer

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "transfer_digits.yaml"


def middle(distribution: Distribution) -> Any:
    if isinstance(distribution, CategoricalDistribution):
        return distribution.choices[0]
    if distribution.log:
        return math.sqrt(distribution.low * distribution.high)
    return (distribution.low + distribution.high) / 2


def fine_tune(
    task_spec: dict[str, Any], seed: int, pretrained: bool, artifacts: str, probe: bool = False
) -> float:
    """Validation accuracy on the fine-tuning data, from the pre-trained weights or not.

    With ``probe`` every block stays frozen for the whole run, so only the output layer learns:
    a linear probe of the features the blocks give (pre-trained or random).
    """
    spec = {**task_spec, "artifacts": artifacts}
    spec["data"] = {**spec["data"], "seed": seed}
    spec["pretrain"] = {**spec["pretrain"], "data": {**spec["pretrain"]["data"], "seed": seed}}
    task = Task(spec, base_dir=EXAMPLE.parent)
    recipe, model_options = task.resolve({p.name: middle(p.distribution) for p in task.search})
    recipe = recipe.replace(seed=seed)
    if pretrained:
        recipe = recipe.replace(pretrained=str(task.pretrained_weights()))
    recipe = recipe.replace(
        freeze=("blocks.*",) if probe else recipe.freeze if pretrained else (),
        unfreeze_after=recipe.unfreeze_after if pretrained and not probe else 0,
    )
    torch.manual_seed(seed)
    model = task.build_model(model_options, recipe)
    return Trainer(model, task.data, recipe, telemetry=False).fit().best_value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--example", type=Path, default=EXAMPLE)
    parser.add_argument(
        "--rotate", type=int, default=None, help="turn the fine-tuning images by this many degrees"
    )
    parser.add_argument(
        "--probe", action="store_true", help="train only the output layer on frozen features"
    )
    args = parser.parse_args()
    task_spec = read_study_file(args.example)["task"]
    if args.rotate is not None:
        task_spec["data"] = {**task_spec["data"], "rotate": args.rotate}
    torch.set_num_threads(task_spec.get("threads") or torch.get_num_threads())
    what = "a linear probe of frozen features" if args.probe else "fine-tuning"
    print(f"{args.example.name}: validation accuracy on {task_spec['data']} after {what}")
    print(f"{'seed':>4} {'pre-trained':>12} {'from scratch':>13} {'gain':>7}")
    gains = []
    with tempfile.TemporaryDirectory() as artifacts:
        for seed in args.seeds:
            transfer = fine_tune(task_spec, seed, True, artifacts, args.probe)
            scratch = fine_tune(task_spec, seed, False, artifacts, args.probe)
            gains.append(transfer - scratch)
            print(f"{seed:>4} {transfer:12.4f} {scratch:13.4f} {transfer - scratch:+7.4f}")
    mean = statistics.mean(gains)
    error = statistics.stdev(gains) / math.sqrt(len(gains)) if len(gains) > 1 else math.nan
    print(f"mean gain {mean:+.4f} ± {error:.4f} (standard error); pre-training wins on "
          f"{sum(g > 0 for g in gains)} of {len(gains)} seeds; the mean gain is "
          f"{'more' if mean > 2 * error else 'not more'} than twice its standard error")


if __name__ == "__main__":
    main()
