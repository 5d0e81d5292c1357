"""Figures of a report: one module per figure family, each a function from a metric table
(DataFrame) to a :class:`matplotlib.figure.Figure`, with no special cases keyed on names.

- :mod:`~gesbench.report.figures.style`: method colours and dash patterns, axis names, legends.
- :mod:`~gesbench.report.figures.curves`: median curves with order-statistic bands, cut where
  they leave the axis.
- :mod:`~gesbench.report.figures.cd`: the critical-difference diagram.
- :mod:`~gesbench.report.figures.ecdf`: runtime ECDFs, pooled and per problem.
- :mod:`~gesbench.report.figures.profile`: performance profiles.
- :mod:`~gesbench.report.figures.win_rate`: the pairwise win-rate matrix.
- :mod:`~gesbench.report.figures.sweep`: hyperparameter-sweep heatmaps.
- :mod:`~gesbench.report.figures.theory`: Guided ES's bias-variance trade-off and alpha* phases.

Every figure takes the report's ``colors`` (:func:`~gesbench.report.figures.style.method_colors`:
a hash of each label, in the spec's method order) so a method has the same colour everywhere,
in every report. Figures
are made with matplotlib's object API, never pyplot: importing or drawing them does not touch
the backend or any other global matplotlib state.
"""
