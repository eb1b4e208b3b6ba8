"""The engine behind every entry point, in layers; each package's docstring says its job and what it may import.

    cli       parse the command line (from the option declarations) and dispatch an action
    serve     the live dashboard (`serve`): a local read-only web server over the outputs folder
    sweeps    grids and searches: trials as child processes (local workers or Ray), trials.csv, resume
    training  build, compile and fit models; new runs and resumes; checkpoints; evaluate and predict
    reports   test-set evaluation, figures, report.html, comparison of runs
    runs      the run folder (its file names), run.json, the store of runs, the run lock
    tasks     one module per task: its data loader and how its inputs are read
    core      errors, atomic writes, option declarations, the resolved run config

Arrows point down the list: a package imports only the ones below it.
"""
