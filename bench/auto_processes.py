"""``--auto`` on the quickstart: the strategy race and the search of its winner in one Tune run
(issue 14). Runs ``probe-sweep run quickstart.yaml --auto`` in a fresh process (the backbone
pretrained beforehand, a new MLflow store) and counts the trial processes its trials ran in.
Target: as many as run at once (one set, shared by the race, the search and the finalists'
evaluation); two Tune runs had twice as many, each set paying its imports.

    .venv/bin/python bench/auto_processes.py [--rounds 2]
"""

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import machine

from sweeps import protocol
from sweeps.ledger import Ledger
from sweeps.spec import load_spec
from sweeps.sweep import ensure_pretrained

QUICKSTART = Path(__file__).resolve().parents[1] / "sweeps" / "specs" / "quickstart.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench_auto_"))
    quickstart = load_spec(QUICKSTART)
    ensure_pretrained(quickstart.pretrain)
    command = Path(sys.executable).parent / "probe-sweep"
    print(f"machine: {machine()}")
    for round_ in range(args.rounds):
        name = f"auto{round_}"
        spec = quickstart.model_copy(
            update={
                "name": name,
                "storage_path": folder,
                "tracking": quickstart.tracking.model_copy(
                    update={"uri": f"sqlite:///{folder / f'{name}.db'}"}  # a new store each
                ),
            }
        )
        path = folder / f"{name}.yaml"
        path.write_text(spec.to_yaml())
        start = time.perf_counter()
        subprocess.run(
            [str(command), "run", str(path), "--auto", "--quiet"], check=True, capture_output=True
        )
        seconds = time.perf_counter() - start
        records = Ledger(spec.sweep_dir().ledger).trials.values()
        processes = {r.placement[protocol.PID] for r in records if r.placement}
        threads = load_spec(spec.sweep_dir().spec).resources.cpus
        print(
            f"round {round_ + 1}: {seconds:.1f} s, {len(records)} trials in "
            f"{len(processes)} trial processes ({threads:g} CPU each, resources.cpus auto)"
        )


if __name__ == "__main__":
    main()
