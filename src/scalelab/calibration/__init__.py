"""Calibration: published measurements of the era as rows, the model run against each.

A row (``data/*.yaml``) names its source, the versions and hardware measured, the setup as a
scenario (a built-in plus ``set`` paths), the summary metric it compares and the observed value,
and its role: ``train`` rows may fit a cost, ``check`` rows only judge the model. The report, the
PRs it cites and the report's own repository are held out: a row from them is always ``check``.
"""
