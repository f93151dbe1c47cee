"""For the operator: /healthz, /metrics and source-health notices."""
