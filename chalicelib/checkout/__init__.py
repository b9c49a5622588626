"""Checkout (issue #27): the quote (member prices, coupons, points, stored value) a commit names."""
