"""Renderers of a :class:`~hotpath.gate.model.GateReport`: one module per audience.

``terminal`` (rich), ``markdown`` (pull-request comment), ``junit`` (CI test reports) and
``json_report`` (machine-readable, schema ``hotpath.gate-report/1``). They only read the report.
"""
