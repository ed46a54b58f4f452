"""`dplf batch`: many inputs converted on Ray, from one laptop to a cluster (docs/scaling.md).

inputs.py (arguments -> inputs and run-folder names), options.py (the run options, checked once), ledger.py
(OUT/batch.json and the resume decision), worker.py (one Pipeline per worker, engine.run.run per input),
ray_runner.py (the only module that imports Ray), progress.py (bars and the summary table), batch.py (the
whole batch as a function), cli.py (the command). Nothing here is imported by `dplf` until `dplf batch` runs.
"""
