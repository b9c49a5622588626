"""Reports: exports by presigned URL (``exports*``), the operations dashboard and the member balance
sheet (#29)."""
