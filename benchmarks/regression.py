"""FreeSolv test split: rnnlab's character BiGRU next to FreeSolv's own physics-based estimate and the mean.

    rnnlab train configs/regression/freesolv.yaml          # writes runs/regression-freesolv
    python benchmarks/regression.py runs/regression-freesolv

FreeSolv ships, for every molecule, the experimental hydration free energy (`expt`, the target) and the value
computed by alchemical free-energy calculations (`calc`): a real peer on the same 64 test molecules.
"""

from __future__ import annotations

import argparse
import csv
import io

from rnnlab.data.registry import cache_path, load_dataset
from rnnlab.numeric_metrics import regression_metrics
from rnnlab.tasks.registry import EvalRequest, get_task, resolve_model_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", help="a run or model directory of the freesolv config")
    args = parser.parse_args()
    test = load_dataset("freesolv")["test"]
    rows = csv.DictReader(io.StringIO((cache_path("freesolv") / "freesolv.csv").read_text(encoding="utf-8")))
    calc = {row["smiles"].strip(): float(row["calc"]) for row in rows}
    gold = [value for _, value in test]
    physics = regression_metrics([calc[smiles] for smiles, _ in test], gold)
    ours = get_task("regression").evaluate(resolve_model_dir(args.run), EvalRequest(split="test"))
    print(f"{'FreeSolv test (64 molecules), kcal/mol':<42s} {'RMSE':>6s} {'MAE':>6s} {'R2':>6s}")
    print(f"{'predicting the training mean':<42s} {ours['mean_predictor_rmse']:6.3f}")
    print(f"{'FreeSolv calc (alchemical free energy)':<42s} {physics['rmse']:6.3f} {physics['mae']:6.3f} {physics['r2']:6.3f}")
    print(f"{'rnnlab character BiGRU':<42s} {ours['rmse']:6.3f} {ours['mae']:6.3f} {ours['r2']:6.3f}")
    print(f"ratio rnnlab / calc RMSE: {ours['rmse'] / physics['rmse']:.2f}")


if __name__ == "__main__":
    main()
