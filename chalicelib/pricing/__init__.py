"""Member prices (issue #27 item 1): price lists by SKU and the benefits engine's tier discount."""
