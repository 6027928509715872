"""Print the TF_CONFIG of this Slurm task: every node of the job is a worker, this task's rank its index.

Run inside ``srun`` (one task per node), e.g.::

    srun bash -c 'TF_CONFIG=$(python scripts/slurm_tf_config.py 12345) \\
        .venv/bin/python -m audioclf train --data /shared/esc10 --out /shared/runs/esc10 --cache-dir /shared/cache'
"""

from __future__ import annotations

import json
import os
import subprocess
import sys


def main(argv: list[str]) -> int:
    port = int(argv[0]) if argv else 12345
    nodes = subprocess.run(["scontrol", "show", "hostnames", os.environ["SLURM_JOB_NODELIST"]], check=True,
                           capture_output=True, text=True).stdout.split()
    print(json.dumps({"cluster": {"worker": [f"{n}:{port}" for n in nodes]},
                      "task": {"type": "worker", "index": int(os.environ["SLURM_PROCID"])}}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
