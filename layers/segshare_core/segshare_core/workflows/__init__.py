"""The service's long-running flows, each started by an event rather than an HTTP request.

One module a flow: evaluating in one Lambda (``evaluate_inline``) or on the Step Functions
evaluation workflow (``evaluate_sharded``), the scheduled evaluation, the export file and the
bulk import. Rules live in ``domain``, persistence in ``store``.
"""
