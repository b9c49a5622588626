"""Reports: the operations dashboard, the member balance sheet, exports by presigned URL (issue #29)."""
