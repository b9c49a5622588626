"""Reports: the dashboard, exports and the member balance sheet, composed from the ledgers figures."""
