"""Reports: the operations dashboard, the member balance sheet, exports (issue #29)."""
