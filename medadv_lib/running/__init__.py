"""Running a chapter: one papermill notebook per run, with its provenance.

- :mod:`.runner`: ``run_notebook`` (a spec and parameters in, an executed notebook out);
- :mod:`.kernel`: the Jupyter kernel's life, the run's working folder, Ctrl-C;
- :mod:`.provenance`: what a run records about itself;
- :mod:`.engine`: the Dask engine (a LocalCluster, an existing scheduler, or Slurm);
- :mod:`.sweep`: a grid of runs on that engine, its record and aggregation over seeds;
- :mod:`.schedule`: the book's one schedule of runs, ranked by expected time.

Above the chapters (:mod:`medadv_lib.papers`), below the book and the CLI.
"""
