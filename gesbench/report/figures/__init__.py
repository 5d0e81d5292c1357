"""Figures of a report: one module per figure family, each a function from a metric table
(DataFrame) to a :class:`matplotlib.figure.Figure`, with no special cases keyed on names.

- :mod:`~gesbench.report.figures.style`: method colours and dash patterns, axis names, legends.
- :mod:`~gesbench.report.figures.curves`: median curves with bootstrap bands.
- :mod:`~gesbench.report.figures.ecdf`: the runtime ECDF.
- :mod:`~gesbench.report.figures.profile`: performance profiles.
- :mod:`~gesbench.report.figures.win_rate`: the pairwise win-rate matrix.
- :mod:`~gesbench.report.figures.sweep`: hyperparameter-sweep heatmaps.
- :mod:`~gesbench.report.figures.theory`: Guided ES's bias-variance trade-off and alpha* phases.

Every figure takes the report's ``colors`` (:func:`~gesbench.report.figures.style.method_colors`,
built once from the spec's method order) so a method has the same colour everywhere. Figures
are made with matplotlib's object API, never pyplot: importing or drawing them does not touch
the backend or any other global matplotlib state.
"""
